"""``memlab demo``: README's main job — evaluate memlab's default search on the bundled dataset, offline.

Builds an in-memory store of the bundled ``assistant`` dataset with the default embedder, runs
every query once (progress bars), sweeps similarity thresholds, recommends one and writes a
report folder (metrics CSV, PNG plots, summary.md); then prints the summary.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="End-to-end offline run on the bundled dataset, ending in a report folder.",
                       description="Evaluate memlab's search on the bundled 'assistant' dataset, offline: build an "
                                   "in-memory store, run every query once, sweep similarity thresholds, recommend "
                                   "one and write a report folder (metrics CSV, PNG plots, summary.md).")
    p.add_argument("--out", default="reports/demo", help="Report folder (default reports/demo).")
    p.add_argument("--embedder", default="minilm", choices=["minilm", "hash"],
                   help="Embedder: minilm (default, the bundled model) or hash (fast, no model).")
    p.add_argument("--k", type=int, default=5, help="Result list cut-off, like search(limit=k); default 5.")
    p.add_argument("--no-progress", action="store_true", help="Hide progress bars.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab.errors import ValidationError
    from memlab.evaluate.datasets import load_bundled
    from memlab.evaluate.report import run_evaluation

    if args.k < 1:
        raise ValidationError(f"--k must be a positive integer, got {args.k}.")
    if Path(args.out).exists() and not Path(args.out).is_dir():  # fail before the run, not after it
        raise ValidationError(f"--out {args.out!r} is a file; pass a directory (created if missing).")
    t0 = time.perf_counter()
    dataset = load_bundled("assistant")
    print(f"memlab demo: {dataset!r}")
    # the default search: its score is the calibrated relevance search(threshold=...) cuts on in every mode
    report = run_evaluation(dataset, embedder=args.embedder, method="default", k=args.k,
                            progress=not args.no_progress)
    out = Path(args.out)
    written = report.write(out)
    print()
    print(report.summary())
    print(f"\nReport folder: {out.resolve()}")
    for path in written:
        print(f"  {path.name}")
    print(f"Done in {time.perf_counter() - t0:.1f}s.")
    return 0
