"""LoCoMo evidence retrieval: every search method of the engine, the default included.

Turn level, categories 1-4, every question searched in its own conversation's scope. Each
session is stored with ONE ``Memory.add(messages, infer=False)`` call (speaker -> ``name``), the
way applications store chat history, so every turn is indexed with its conversational context,
and with the session's date as ``timestamp=`` (mem0 platform's add option), so a question naming a
date can find what was said then (the ``time`` channel).
All methods call the engine (``Memory.search``); nothing is re-implemented here.

    .venv/bin/python benchmarks/bench_locomo.py [PATH] [--methods default,bm25,dense,...]
        [--embedder minilm] [--cache PATH]

Methods (memlab.evaluate.retrieval.METHODS): default (the default configuration), fusion,
rerank (fusion + the offline features reranker), dense, bm25 (= keyword), hybrid (RRF),
dense_context, keyword_context, and the ablations fusion_no_time / fusion_no_speaker.

PATH defaults to $MEMLAB_LOCOMO_PATH, then ../shared/datasets/locomo/locomo-dev.json; any dataset
``memlab.evaluate.load_dataset`` reads works too (``assistant`` = the bundled set, and
``longmemeval-sample`` = the bundled set rewritten in LongMemEval's schema). Prints a
markdown table (recall@k, hit@k, nDCG@10, MRR, 95% bootstrap CIs for recall@10 and nDCG@10) plus
recall@10 per category, and writes both to benchmarks/results/locomo.md. ``--cache`` keeps
embeddings on disk (default benchmarks/results/.embedding-cache.sqlite; never committed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from memlab.evaluate import build_memory, load_dataset  # noqa: E402
from memlab.evaluate.metrics import aggregate, aggregate_by, bootstrap_ci, evaluate_run  # noqa: E402
from memlab.evaluate.retrieval import METHODS, engine_retrieve  # noqa: E402

KS = (1, 5, 10, 20)
DEFAULT_METHODS = ("default,fusion,rerank,bm25,dense,hybrid,keyword_context,dense_context,fusion_no_time,"
                   "fusion_no_speaker")


def default_path() -> Path:
    env = os.environ.get("MEMLAB_LOCOMO_PATH")
    return Path(env) if env else HERE.parent.parent / "shared" / "datasets" / "locomo" / "locomo-dev.json"


def evaluate_methods(ds, methods: list[str], embedder: str, cache: str,
                     backend: str | None = None) -> tuple[list[str], list[str]]:
    """(overall table lines, per-category table lines) of every method over one Memory."""
    header = ("| method | recall@1 | recall@5 | recall@10 (95% CI) | recall@20 | hit@10 | nDCG@10 (95% CI) "
              "| MRR@10 | ECE@10 | search s |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    cat_header = None
    cat_lines: list[str] = []
    curves: dict = {}
    t0 = time.perf_counter()
    cfg = {"cache_path": cache, **({"backend": backend} if backend else {})}
    memory = build_memory(ds, {"embedder": {"provider": embedder, "config": cfg}})
    print(f"stored {len(ds.memories)} memories in {time.perf_counter() - t0:.1f} s", flush=True)
    try:
        for method in methods:
            t0 = time.perf_counter()
            run = engine_retrieve(ds, memory, method, depth=max(KS))
            secs = time.perf_counter() - t0
            agg = {k: aggregate(evaluate_run(run, ds.qrels, ds.queries, k=k)) for k in KS}
            per10 = evaluate_run(run, ds.qrels, ds.queries, k=10)
            ci = bootstrap_ci(per10, ["recall", "ndcg"], n_boot=1000, seed=0)
            lines.append(
                f"| {method} | {agg[1]['recall']:.3f} | {agg[5]['recall']:.3f} | {agg[10]['recall']:.3f} "
                f"({ci.loc['recall', 'low']:.3f}–{ci.loc['recall', 'high']:.3f}) | {agg[20]['recall']:.3f} "
                f"| {agg[10]['hit']:.3f} | {agg[10]['ndcg']:.3f} ({ci.loc['ndcg', 'low']:.3f}–"
                f"{ci.loc['ndcg', 'high']:.3f}) | {agg[10]['mrr']:.3f} | {top10_ece(run, ds)[0]:.3f} | {secs:.1f} |")
            print(lines[-1], flush=True)
            curves[method] = top10_ece(run, ds)[1:]
            by = aggregate_by(per10, "category_label" if "category_label" in per10 else "category")
            if cat_header is None:
                cols = list(by.index)
                cat_header = "| method | " + " | ".join(f"{c} R@10 / nDCG@10" for c in cols) + " |"
                cat_lines = [cat_header, "|" + "---|" * (len(cols) + 1)]
            cat_lines.append(f"| {method} | " + " | ".join(
                f"{by.loc[c, 'recall']:.3f} / {by.loc[c, 'ndcg']:.3f}" for c in by.index) + " |")
    finally:
        memory.close()
    return lines, cat_lines, curves


def top10_ece(run, ds) -> tuple:
    """(ECE with 10 bins, scores, labels) of the run's ``score`` read as P(relevant) over each query's top 10."""
    from memlab.ranking.calibration import ece

    top = run[run["rank"] <= 10]
    rel = set(zip(ds.qrels["query_id"], ds.qrels["memory_id"]))
    y = [(q, m) in rel for q, m in zip(top["query_id"], top["memory_id"])]
    p = top["score"].to_numpy(float)
    return ece(p, y), p, y


def assistant_as_longmemeval(out: Path) -> Path:
    """The bundled assistant set rewritten in LongMemEval's schema (a schema check, not LongMemEval):
    every question gets its user's memories as a haystack of 4-turn user sessions, relevant turns
    marked ``has_answer``; unanswerable questions become ``_abs`` items."""
    import json

    from memlab.evaluate import load_bundled

    ds = load_bundled("assistant")
    rel = ds.qrels.groupby("query_id")["memory_id"].apply(set).to_dict()
    items = []
    for q in ds.queries.itertuples(index=False):
        mems = ds.memories[ds.memories["scope"] == q.scope]
        turns = [{"role": "user", "content": t, "has_answer": mid in rel.get(q.id, set())}
                 for mid, t in zip(mems["id"], mems["text"])]
        sessions = [turns[i:i + 4] for i in range(0, len(turns), 4)]
        sids = [f"{q.scope}-s{i}" for i in range(len(sessions))]
        answer = [sid for sid, sess in zip(sids, sessions) if any(t["has_answer"] for t in sess)]
        items.append({"question_id": q.id if q.answerable else f"{q.id}_abs", "question_type": str(q.category),
                      "question": q.text, "answer": "", "haystack_session_ids": sids,
                      "haystack_dates": [None] * len(sids), "haystack_sessions": sessions,
                      "answer_session_ids": answer})
    out.write_text(json.dumps(items), encoding="utf-8")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default=str(default_path()))
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--backend", default=None, help="minilm backend: onnx (default), onnx-int8, torch")
    ap.add_argument("--cache", default=str(HERE / "results" / ".embedding-cache.sqlite"))
    ap.add_argument("--out", default=str(HERE / "results" / "locomo.md"))
    ap.add_argument("--shape", choices=("turns", "facts"), default="turns",
                    help="turns: every dialogue turn a memory; facts: LoCoMo's observations, one memory per fact")
    args = ap.parse_args(argv)
    if args.path == "longmemeval-sample":
        import tempfile

        args.path = str(assistant_as_longmemeval(Path(tempfile.mkdtemp()) / "longmemeval_sample.json"))
    elif args.path != "assistant" and not Path(args.path).is_file():
        print(f"LoCoMo file not found: {args.path} (pass a path or set MEMLAB_LOCOMO_PATH)")
        return 1
    methods = args.methods.split(",")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        print(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
        return 1
    if args.shape == "facts":
        from calibration_data import locomo_facts_dataset

        ds = locomo_facts_dataset(args.path)
    else:
        ds = load_dataset(args.path)
    if args.shape == "turns" and "category" in ds.queries and set(ds.queries["category"].dropna()) >= {1, 2, 3, 4}:
        ds = ds.subset(categories=[1, 2, 3, 4])  # LoCoMo: adversarial (5) questions have no evidence
    print(ds)
    lines, cat_lines, curves = evaluate_methods(ds, methods, args.embedder, args.cache, args.backend)
    table, cats = "\n".join(lines), "\n".join(cat_lines)
    print("\n" + table + "\n\nrecall@10 / nDCG@10 per category\n\n" + cats)
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from memlab.ranking.calibration import plot_reliability

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    plot_reliability(curves, ax=ax, title=f"{Path(args.path).name} ({args.shape}): score over the top 10")
    png = out.with_suffix(".png")
    fig.savefig(png, dpi=80, bbox_inches="tight")
    print(f"reliability diagram: {png}")
    shape = ("turn level, each session stored with one add(messages, infer=False)" if args.shape == "turns" else
             "facts (LoCoMo observations), one add(fact, infer=False) per fact")
    out.write_text(f"{Path(args.path).name}: {len(ds.queries)} questions, {shape}, scoped per conversation; "
                   f"embedder {args.embedder}{' (' + args.backend + ')' if args.backend else ''}. ECE@10: expected calibration error (10 bins) of `score` read as "
                   f"P(relevant) over each question's top 10 (reliability diagram: {png.name}).\n\n"
                   f"{table}\n\nrecall@10 / nDCG@10 per category:\n\n{cats}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
