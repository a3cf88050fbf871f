"""``memlab bench DATASET --system SPEC ...``: memory systems side by side (see docs/bench.md)."""

from __future__ import annotations

import argparse


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,5,10,20, got {text!r}") from None


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="Benchmark memory systems side by side: retrieval@k with CIs, answers, LLM judge, paired tests.",
        description="Run DATASET through every --system (one add per session, dated; every question searched in "
                    "its own scope) and write OUT/results.json, per_question.jsonl, report.md/html and plots. "
                    "Stages are checkpointed per question: --resume continues a killed run without redoing work.",
    )
    p.add_argument("dataset", help="LoCoMo / LongMemEval .json, memlab .jsonl, or 'assistant' (bundled)")
    p.add_argument("--dataset", dest="format", default="auto", choices=["auto", "locomo", "longmemeval", "jsonl"],
                   help="Dataset format (default: sniffed from the file).")
    p.add_argument("--system", action="append", default=None, metavar="SPEC",
                   help="name[:key=value,...]; name: memlab, bm25, dense, mem0, mem0-platform (repeatable; "
                        "default: memlab and bm25). E.g. memlab:mode=dense, memlab:context_window=1, mem0")
    p.add_argument("--k", type=_ints, default=[1, 5, 10, 20], help="Cut-offs, comma-separated (default 1,5,10,20).")
    p.add_argument("--out", required=True, help="Run folder (checkpoints, stores, results).")
    p.add_argument("--resume", action="store_true", help="Continue the run in --out (skip finished work).")
    p.add_argument("--only", choices=["retrieval", "answers"], default=None,
                   help="Stop after retrieval (no answers), or after answers (no judge).")
    p.add_argument("--scopes", type=int, default=None, help="Only the first N conversations.")
    p.add_argument("--questions", type=int, default=None, help="Only the first N questions of each conversation.")
    p.add_argument("--categories", default=None, help="Only these question categories, comma-separated.")
    p.add_argument("--answerer-base-url", default=None,
                   help="OpenAI-compatible server of the answer model (default: the offline extractive answerer).")
    p.add_argument("--answerer-model", default="gpt-4o-mini")
    p.add_argument("--answerer-api-key", default=None, help="Default: $OPENAI_API_KEY (local servers need none).")
    p.add_argument("--judge-base-url", default=None, help="OpenAI-compatible server of the judge (J); none: no judge.")
    p.add_argument("--judge-model", default="gpt-4o-mini")
    p.add_argument("--judge-api-key", default=None)
    p.add_argument("--judge-runs", type=int, default=1, help="Judge every answer N times and report the spread.")
    p.add_argument("--judge-temperature", type=float, default=0.0)
    p.add_argument("--context-k", type=int, default=10, help="Memories given to the answerer (default 10).")
    p.add_argument("--n-boot", type=int, default=1000, help="Bootstrap resamples of every CI.")
    p.add_argument("--n-perm", type=int, default=10000, help="Permutations of every paired test.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="Hide progress bars.")
    p.set_defaults(func=run)


def _llm(base_url, model, key, **extra):
    if not base_url:
        return None
    out = {"base_url": base_url, "model": model, **extra}
    if key:
        out["api_key"] = key
    return out


def run(args: argparse.Namespace) -> int:
    from memlab.bench import Benchmark

    answerer = _llm(args.answerer_base_url, args.answerer_model, args.answerer_api_key) or "extractive"
    judge = _llm(args.judge_base_url, args.judge_model, args.judge_api_key, temperature=args.judge_temperature)
    cats = [c.strip() for c in args.categories.split(",")] if args.categories else None
    bench = Benchmark(args.dataset, args.system or ["memlab", "bm25"], ks=args.k, out=args.out, resume=args.resume,
                      dataset_format=args.format, scopes=args.scopes, questions=args.questions, categories=cats,
                      answerer=answerer, judge=judge, judge_runs=args.judge_runs, context_k=args.context_k,
                      n_boot=args.n_boot, n_perm=args.n_perm, seed=args.seed, progress=not args.no_progress)
    result = bench.run(only=args.only)
    print(result.markdown())
    for entry in bench.log:
        skipped = f", {entry['skipped']} already done" if entry.get("skipped") else ""
        print(f"{entry['system']}: {entry['stage']} {entry['done']}{skipped}")
    print(f"\nRun folder: {args.out} (results.json, per_question.jsonl, report.md, report.html, plots/)")
    return 0
