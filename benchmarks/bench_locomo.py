"""LoCoMo evidence retrieval: memlab's default dense search vs BM25 (and an RRF hybrid).

Turn level, categories 1-4, every question searched in its own conversation's scope.
Reference (issue 6): BM25 recall@10 0.527, nDCG@10 0.390 on the 5-conversation dev split.

    .venv/bin/python benchmarks/bench_locomo.py [PATH_TO_locomo10.json] [--methods dense,bm25,hybrid]

Methods: ``dense`` / ``bm25`` / ``hybrid`` go through memlab.evaluate.retrieve (``hybrid`` is the
offline RRF of the two runs); ``engine-hybrid`` and ``engine-keyword`` call the engine's own
``Store.search(mode=...)`` (BM25 index + RRF inside memlab's store).

PATH defaults to $MEMLAB_LOCOMO_PATH, then ../shared/datasets/locomo/locomo-dev.json.
Prints a markdown table (recall@k, hit@k, nDCG@10, MRR, with 95% bootstrap CIs for recall@10)
and writes it to benchmarks/results/locomo.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from memlab.evaluate import load_locomo, retrieve  # noqa: E402
from memlab.evaluate.metrics import aggregate, bootstrap_ci, evaluate_run  # noqa: E402

KS = (1, 5, 10, 20)
ENGINE_MODES = {"engine-hybrid": "hybrid", "engine-keyword": "keyword"}


def engine_run(ds, embedder: str, mode: str, depth: int):
    """Run DataFrame of the engine's keyword/hybrid search (one scoped Store.search per question)."""
    import pandas as pd

    from memlab.evaluate import build_memory
    from memlab.store import filters as F

    memory = build_memory(ds, embedder)
    try:
        vecs = memory.embed(ds.queries["text"].tolist(), purpose="search")
        rows = []
        for qid, scope, text, vec in zip(ds.queries["id"], ds.queries["scope"], ds.queries["text"], vecs):
            hits = memory.store.search(vec, F.parse({"user_id": str(scope)}), depth, mode=mode, text=text)
            rows += [(qid, row["id"], extra["rank_score"], rank) for rank, (row, _, extra) in enumerate(hits, 1)]
    finally:
        memory.close()
    return pd.DataFrame(rows, columns=["query_id", "memory_id", "score", "rank"])


def default_path() -> Path:
    env = os.environ.get("MEMLAB_LOCOMO_PATH")
    return Path(env) if env else HERE.parent.parent / "shared" / "datasets" / "locomo" / "locomo-dev.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default=str(default_path()))
    ap.add_argument("--methods", default="bm25,dense,hybrid")
    ap.add_argument("--embedder", default="minilm")
    args = ap.parse_args(argv)
    if not Path(args.path).is_file():
        print(f"LoCoMo file not found: {args.path} (pass a path or set MEMLAB_LOCOMO_PATH)")
        return 1
    ds = load_locomo(args.path).subset(categories=[1, 2, 3, 4])
    print(ds)
    print(ds.report)
    header = ("| method | recall@1 | recall@5 | recall@10 (95% CI) | recall@20 | hit@1 | hit@5 | hit@10 | nDCG@10 "
              "| MRR@10 | retrieval s |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for method in args.methods.split(","):
        t0 = time.perf_counter()
        if method in ENGINE_MODES:
            run = engine_run(ds, args.embedder, ENGINE_MODES[method], max(KS))
        else:
            run = retrieve(ds, method=method, embedder=args.embedder, depth=max(KS))
        secs = time.perf_counter() - t0
        agg = {k: aggregate(evaluate_run(run, ds.qrels, ds.queries, k=k)) for k in KS}
        ci = bootstrap_ci(evaluate_run(run, ds.qrels, ds.queries, k=10), ["recall"], n_boot=1000, seed=0)
        name = method if method == "bm25" else f"{method} ({args.embedder})"
        lines.append(
            f"| {name} | {agg[1]['recall']:.3f} | {agg[5]['recall']:.3f} | {agg[10]['recall']:.3f} "
            f"({ci.loc['recall', 'low']:.3f}–{ci.loc['recall', 'high']:.3f}) | {agg[20]['recall']:.3f} "
            f"| {agg[1]['hit']:.3f} | {agg[5]['hit']:.3f} | {agg[10]['hit']:.3f} | {agg[10]['ndcg']:.3f} "
            f"| {agg[10]['mrr']:.3f} | {secs:.1f} |"
        )
        print(lines[-1], flush=True)
    table = "\n".join(lines)
    print("\n" + table)
    out = HERE / "results" / "locomo.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"LoCoMo ({Path(args.path).name}), {len(ds.queries)} questions of categories 1-4, turn level, "
                   f"scoped per conversation.\n\n{table}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
