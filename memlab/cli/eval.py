"""``memlab eval DATASET``: retrieval metrics, a threshold sweep, plots and a summary for a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path


# engine search methods (kept here so `memlab --help` does not import the evaluation stack)
METHODS = ("default", "fusion", "rerank", "dense", "keyword", "bm25", "hybrid", "dense_context", "keyword_context")


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help="Evaluate retrieval on a dataset: metrics CSV, PNG plots, summary.",
        description="Evaluate memlab retrieval on DATASET: a bundled name ('assistant'), a memlab .jsonl file, "
                    "or a LoCoMo / LongMemEval .json file. Writes metrics CSVs, PNG plots and summary.md.",
    )
    p.add_argument("dataset", help="'assistant' (bundled), or a path to .jsonl / locomo10.json / longmemeval.json")
    p.add_argument("--embedder", default="minilm", help="Embedder provider: minilm (default), hash, openai.")
    p.add_argument("--method", default="default", choices=list(METHODS),
                   help="Search method of the engine (default: the default search, fusion of all channels).")
    p.add_argument("--k", type=int, default=10, help="Result list cut-off (like search(limit=k)); default 10.")
    p.add_argument("--beta", type=float, default=1.0, help="Recommend the threshold maximising F-beta (default 1).")
    p.add_argument("--min-precision", type=float, default=None,
                   help="Instead: recommend the threshold with the highest recall at precision >= this.")
    p.add_argument("--categories", default=None,
                   help="Only these query categories, comma-separated (e.g. 1,2,3,4 for LoCoMo).")
    p.add_argument("--out", default=None, help="Report folder (default reports/eval-<dataset>).")
    p.add_argument("--no-progress", action="store_true", help="Hide progress bars.")
    p.set_defaults(func=run)


def _categories(text, dataset):
    if not text:
        return None
    wanted = [c.strip() for c in text.split(",") if c.strip()]
    present = {str(c): c for c in dataset.queries["category"].dropna().unique()}
    from memlab.errors import ValidationError

    unknown = [c for c in wanted if c not in present]
    if unknown:
        raise ValidationError(f"unknown categories {unknown}; this dataset has {sorted(present)}.")
    return [present[c] for c in wanted]


def run(args: argparse.Namespace) -> int:
    from memlab.errors import ValidationError
    from memlab.evaluate.loaders import load_dataset
    from memlab.evaluate.report import run_evaluation

    if args.k < 1:
        raise ValidationError(f"--k must be a positive integer, got {args.k}.")
    out = Path(args.out or f"reports/eval-{Path(args.dataset).stem}")
    if out.exists() and not out.is_dir():  # checked before the (long) evaluation runs
        raise ValidationError(f"--out {str(out)!r} is a file; pass a directory (created if missing).")
    dataset = load_dataset(args.dataset)
    cats = _categories(args.categories, dataset)
    if cats is not None:
        dataset = dataset.subset(categories=cats)
    if dataset.report.issues:
        print(dataset.report)
    report = run_evaluation(dataset, embedder=args.embedder, method=args.method, k=args.k, beta=args.beta,
                            min_precision=args.min_precision, progress=not args.no_progress)
    written = report.write(out)
    if dataset.report.issues:
        dataset.report.to_frame().to_csv(out / "load_report.csv", index=False)
    print(report.summary())
    print(f"\nReport folder: {out} ({len(written)} files: metrics.csv, sweep.csv, per_query.csv, plots, summary.md)")
    return 0
