"""``memlab compare``: the same queries against two stores/configs/recorded runs, written to a folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="Compare retrieval (and optionally answers) before and after a change.",
        description="Each side is a memlab store directory, a config file (JSON/YAML) or a recorded run "
                    "(.json with format memlab.run, or .jsonl). Config sides without a store path are built "
                    "in memory from --records.")
    p.add_argument("--before", required=True, help="STORE_DIR, CONFIG file or RUN file of the before side.")
    p.add_argument("--after", required=True, help="STORE_DIR, CONFIG file or RUN file of the after side.")
    p.add_argument("--queries", required=True, help="Queries file: .jsonl, .json, .csv or .txt.")
    p.add_argument("--out", required=True, help="Output directory (created if missing).")
    p.add_argument("--records", default=None,
                   help="Data for config sides: a memlab store directory or a JSON/JSONL file of records.")
    p.add_argument("-k", "--k", type=int, default=10, help="Results per query (default 10).")
    p.add_argument("--threshold", type=float, default=None, help="Drop results scoring below this.")
    p.add_argument("--match-on", default="id", choices=["id", "hash", "memory"],
                   help="How memories are matched across sides (use hash/memory after a re-id migration).")
    p.add_argument("--labels", nargs=2, default=["before", "after"], metavar=("BEFORE", "AFTER"))
    p.add_argument("--answers", action="store_true",
                   help="Also answer each query without memory and with each side's memories.")
    p.add_argument("--llm-config", default=None,
                   help="Config file whose llm block (provider openai) answers; default: offline extractive.")
    p.set_defaults(func=run)


def _load_records(spec: str):
    from memlab.compare.runs import records_of
    from memlab.errors import ValidationError

    path = Path(spec)
    if path.is_dir():
        from memlab.migrate import open_store

        with open_store(path) as memory:
            return records_of(memory)
    if not path.is_file():
        raise ValidationError(f"--records {spec!r} is neither a store directory nor a file.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".jsonl":
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--records {spec!r} is not valid JSON: {exc}.") from None
    if isinstance(data, dict) and isinstance(data.get("results"), list):  # a get_all() dump
        data = data["results"]
    return records_of(data)


def _csv_ready(df):
    """Lists and dicts as JSON text, so the CSV reads back unambiguously."""
    out = df.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, (list, dict))).any():
            out[col] = out[col].map(lambda v: json.dumps(v, ensure_ascii=False))
    return out


def run(args: argparse.Namespace) -> int:
    from memlab import MemoryConfig
    from memlab.compare import compare, compare_answers
    from memlab.compare.queries import load_queries
    from memlab.compare.render import comparison_html
    from memlab.errors import ValidationError

    records = _load_records(args.records) if args.records else None
    queries = load_queries(args.queries)  # always a file: a mistyped path must not become a literal query
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValidationError(f"--out {args.out!r} is a file; pass a directory (created if missing).")
    llm = MemoryConfig.load(args.llm_config) if args.answers and args.llm_config else None  # before any write
    cmp = compare(args.before, args.after, queries, k=args.k, threshold=args.threshold, records=records,
                  match_on=args.match_on, labels=tuple(args.labels))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cmp.save(out / "comparison.json")
    before, after = cmp.runs()
    before.save(out / "before_run.json")
    after.save(out / "after_run.json")
    _csv_ready(cmp.to_pandas()).to_csv(out / "per_query.csv", index=False)
    summary = cmp.summary()
    summary.to_csv(out / "summary.csv")
    parts = [comparison_html(cmp, max_queries=200)]
    if args.answers:
        answers = compare_answers(cmp, llm=llm)
        _csv_ready(answers.to_pandas()).to_csv(out / "answers.csv", index=False)
        answers.summary().to_csv(out / "answers_summary.csv", index=False)
        parts.append(answers._repr_html_())
    (out / "report.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>memlab compare</title>" + "".join(parts), encoding="utf-8")
    print(f"{cmp.before_label} vs {cmp.after_label}: {len(cmp)} queries, k={cmp.k}, "
          f"{len(cmp.changed_queries())} changed")
    print(summary[["mean", "ci_low", "ci_high", "n"]].to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"Wrote {out}/ (comparison.json, per_query.csv, summary.csv, report.html, *_run.json"
          f"{', answers.csv' if args.answers else ''})")
    return 0
