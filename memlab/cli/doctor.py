"""``memlab doctor STORE [--repair] [--json]``: integrity check (and repair) of a store.

Exit codes: 0 = healthy (or every problem repaired), 1 = problems remain, 2 = STORE is not a
memlab store or could not be examined at all.
"""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    p = sub.add_parser("doctor", help="Check a store (SQLite integrity, vectors, index vs rows) and repair it.",
                       description="Check a store: SQLite integrity, store metadata, vectors, rows, and that the "
                       "FAISS index agrees with SQLite. --repair fixes what can be fixed (after a snapshot). "
                       "Exit code 0: healthy; 1: problems remain; 2: not a store.")
    p.add_argument("store", metavar="STORE", help="Store directory (holds memlab.db).")
    p.add_argument("--repair", action="store_true", help="Repair what can be repaired (a snapshot is taken first).")
    p.add_argument("--json", action="store_true", help="Print the report as JSON.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab.doctor import check_store

    report = check_store(args.store, repair=args.repair)
    print(json.dumps(report.to_dict(), indent=1) if args.json else report)
    return 0 if report.ok else 1
