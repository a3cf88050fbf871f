"""``memlab calibrate DATASET --config CFG``: refit the relevance score's calibration on labelled data."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate", help="Refit the calibrated relevance score on a labelled dataset; writes parameters + a plot.",
        description="Refit the calibration that turns a search's channel values into its score (P(relevant), "
                    "in [0, 1]) on DATASET (a bundled name, a memlab .jsonl, or a LoCoMo / LongMemEval .json), with "
                    "the embedder and search settings of --config. Reports the calibration error before/after, "
                    "writes the parameters (JSON) and a reliability diagram (PNG). Use the parameters by setting "
                    "vector_store.config.calibration to the JSON file.",
    )
    p.add_argument("dataset", help="'assistant' (bundled), or a path to .jsonl / locomo10.json / longmemeval.json")
    p.add_argument("--config", default=None, help="Memory config file (YAML/JSON) whose embedder to calibrate "
                                                   "(default: the minilm embedder).")
    p.add_argument("--embedder", default=None, help="Shortcut instead of --config: an embedder provider (minilm, hash).")
    p.add_argument("--k", type=int, default=10, help="Calibrate the top k results (default 10).")
    p.add_argument("--out", default="calibration.json", help="Parameters file to write (default calibration.json); "
                                                              "the reliability diagram goes next to it (.png).")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab.evaluate.calibrate import calibrate
    from memlab.evaluate.loaders import load_dataset

    config = None
    if args.config:
        from memlab.config_migration.migrate import load_config_source

        config = load_config_source(Path(args.config))
    elif args.embedder:
        config = {"embedder": {"provider": args.embedder}}
    dataset = load_dataset(args.dataset)
    if "category" in dataset.queries and set(dataset.queries["category"].dropna()) >= {1, 2, 3, 4, 5} \
            and dataset.name == "locomo":
        dataset = dataset.subset(categories=[1, 2, 3, 4])  # LoCoMo: adversarial questions have no evidence
    report = calibrate(dataset, config=config, k=args.k)
    out = report.save(args.out)
    png = Path(out).with_suffix(".png")
    report.plot().savefig(png, dpi=80, bbox_inches="tight")
    print(report.summary())
    print(f"\nParameters: {out}\nReliability diagram: {png}\n"
          f"Use them: vector_store.config.calibration = {str(Path(out).resolve())!r}")
    return 0
