"""``memlab doctor STORE [--collection NAME] [--repair] [--json]``: integrity check (and repair) of a store.

STORE is a store directory (FAISS + SQLite engine), a PostgreSQL connection string (pgvector engine;
``--collection`` names the store, default ``memlab``), or a config file (JSON/YAML) of either engine.
Exit codes: 0 = healthy (or every problem repaired), 1 = problems remain, 2 = STORE is not a
memlab store or could not be examined at all (e.g. the PostgreSQL server is unreachable).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


def register(sub) -> None:
    p = sub.add_parser("doctor", help="Check a store (SQLite integrity, vectors, index vs rows; or a PostgreSQL "
                       "store) and repair it.",
                       description="Check a store: SQLite integrity, store metadata, vectors, rows, and that the "
                       "FAISS index agrees with SQLite; or a PostgreSQL store: server and pgvector, schema revision, "
                       "vector sizes, rows, row/history consistency, indexes. --repair fixes what can be fixed "
                       "(FAISS engine, after a snapshot). Exit code 0: healthy; 1: problems remain; 2: not a store.")
    p.add_argument("store", metavar="STORE", help="Store directory (holds memlab.db), PostgreSQL connection string "
                   "(postgresql://...), or config file (.json/.yaml) of a Memory on either engine.")
    p.add_argument("--collection", default=None,
                   help="PostgreSQL: the store's collection_name (default: the config's, else memlab).")
    p.add_argument("--repair", action="store_true", help="Repair what can be repaired (a snapshot is taken first).")
    p.add_argument("--json", action="store_true", help="Print the report as JSON.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab.doctor import check_store
    from memlab.doctor.pg import check_pg, is_pg_target, pg_target_of_config
    from memlab.errors import ConfigError

    target = args.store
    if is_pg_target(target):
        report = check_pg(target, args.collection or "memlab", repair=args.repair)
    elif Path(target).is_file() and Path(target).suffix.lower() in CONFIG_SUFFIXES:
        pg = pg_target_of_config(target)
        if pg is not None:
            conninfo, collection, _ = pg
            report = check_pg(conninfo, args.collection or collection, repair=args.repair)
        else:
            from memlab.config import MemoryConfig

            path = MemoryConfig.load(target).vector_store.settings().path
            if not path:
                raise ConfigError(f"{target} configures an in-memory store: there is nothing on disk to check.")
            report = check_store(path, repair=args.repair)
    else:
        report = check_store(target, repair=args.repair)
    print(json.dumps(report.to_dict(), indent=1) if args.json else report)
    return 0 if report.ok else 1
