"""Graph-augmented retrieval on LoCoMo's multi-hop questions: search with and without ``graph=True``.

Every turn of the dev split is a memory (``"<speaker>: <text>"``, scoped per conversation) and
also goes through the offline ``rules`` graph extractor, linked to its memory. Each multi-hop
question (LoCoMo category 1) is searched in its conversation twice on the same Memory — the
base ranking alone, and the base fused with the memories linked to the question's entities and
their one-hop neighbours (memlab.search.graph_fused) — for the base modes given. Reports recall@k,
hit@k, nDCG@10 and MRR@10, 95% bootstrap CIs of recall@10, and a paired bootstrap CI of the
per-question recall@10 difference, plus how much of the question set the graph touches at all.

    .venv/bin/python benchmarks/bench_graph.py [PATH_TO_locomo10.json] [--modes dense,hybrid] [--embedder minilm]

PATH defaults to $MEMLAB_LOCOMO_PATH, then ../shared/datasets/locomo/locomo-dev.json (read in place:
the data is CC BY-NC and never copied into the repository). Writes benchmarks/results/graph.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bench_locomo import default_path  # noqa: E402
from memlab.evaluate import build_memory, load_locomo  # noqa: E402
from memlab.evaluate.metrics import aggregate, bootstrap_ci, evaluate_run  # noqa: E402

KS = (1, 5, 10, 20)
MULTI_HOP = 1


def build(ds, embedder: str):
    """A Memory of the dataset with a graph store, and each turn's relations linked to it."""
    memory = build_memory(ds, {"embedder": {"provider": embedder}, "graph_store": {"provider": "kuzu"}})
    t0 = time.perf_counter()
    for m in ds.memories.itertuples(index=False):
        scope = {"user_id": str(m.scope)}
        plan = memory.graph.plan([{"role": "user", "content": m.text}], scope)
        if plan.to_add or plan.to_delete:
            memory.graph.apply(plan, scope, [(str(m.id), m.text)])
    return memory, time.perf_counter() - t0


def run(memory, queries: pd.DataFrame, mode: str, graph: bool, depth: int) -> pd.DataFrame:
    rows = []
    for qid, scope, text in zip(queries["id"], queries["scope"], queries["text"]):
        hits = memory.search(text, user_id=str(scope), limit=depth, mode=mode, graph=graph)["results"]
        rows += [(qid, h["id"], float(h.get("rank_score", h["score"])), r) for r, h in enumerate(hits, 1)]
    return pd.DataFrame(rows, columns=["query_id", "memory_id", "score", "rank"])


def paired_ci(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of b - a and its 95% percentile-bootstrap interval (questions resampled in pairs)."""
    diff = b - a
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(diff.mean()), float(low), float(high)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default=str(default_path()))
    ap.add_argument("--modes", default="dense,hybrid")
    ap.add_argument("--embedder", default="minilm")
    args = ap.parse_args(argv)
    if not Path(args.path).is_file():
        print(f"LoCoMo file not found: {args.path} (pass a path or set MEMLAB_LOCOMO_PATH)")
        return 1
    ds = load_locomo(args.path).subset(categories=[MULTI_HOP])
    queries = ds.queries[ds.queries["answerable"]]
    print(ds)
    memory, graph_secs = build(ds, args.embedder)
    try:
        counts = memory.graph.engine.count()
        touched = sum(bool(memory.graph.linked_memories(t, {"user_id": str(s)}))
                      for s, t in zip(queries["scope"], queries["text"]))
        linked_evidence = _evidence_linked(memory, ds)
        header = ("| base | graph | recall@1 | recall@5 | recall@10 (95% CI) | recall@20 | hit@10 | nDCG@10 | MRR@10 "
                  "| search s |")
        lines = [header, "|" + "---|" * (header.count("|") - 1)]
        diffs = []
        for mode in args.modes.split(","):
            per = {}
            for graph in (False, True):
                t0 = time.perf_counter()
                r = run(memory, queries, mode, graph, max(KS))
                secs = time.perf_counter() - t0
                agg = {k: aggregate(evaluate_run(r, ds.qrels, queries, k=k)) for k in KS}
                per[graph] = evaluate_run(r, ds.qrels, queries, k=10)
                ci = bootstrap_ci(per[graph], ["recall"], n_boot=1000, seed=0)
                lines.append(
                    f"| {mode} ({args.embedder}) | {'on' if graph else 'off'} | {agg[1]['recall']:.3f} "
                    f"| {agg[5]['recall']:.3f} | {agg[10]['recall']:.3f} ({ci.loc['recall', 'low']:.3f}–"
                    f"{ci.loc['recall', 'high']:.3f}) | {agg[20]['recall']:.3f} | {agg[10]['hit']:.3f} "
                    f"| {agg[10]['ndcg']:.3f} | {agg[10]['mrr']:.3f} | {secs:.1f} |")
                print(lines[-1], flush=True)
            a = per[False].set_index("query_id")["recall"]
            b = per[True].set_index("query_id")["recall"].reindex(a.index)
            diffs.append((mode, *paired_ci(a.to_numpy(float), b.to_numpy(float))))
    finally:
        memory.close()
    diff_lines = [f"- {mode}: recall@10 with graph − without = {d:+.3f} (95% paired bootstrap CI {lo:+.3f} to {hi:+.3f})"
                  for mode, d, lo, hi in diffs]
    summary = (f"LoCoMo ({Path(args.path).name}), {len(queries)} multi-hop questions (category {MULTI_HOP}), turn level, "
               f"scoped per conversation; graph from the offline rules extractor over {len(ds.memories)} turns "
               f"({graph_secs:.1f} s): {counts['relations']} relations, {counts['entities']} entities; "
               f"{touched}/{len(queries)} questions reach at least one linked memory; "
               f"{linked_evidence:.1%} of evidence turns carry a relation.")
    table = "\n".join(lines)
    text = f"{summary}\n\n{table}\n\n" + "\n".join(diff_lines) + "\n"
    print("\n" + text)
    out = HERE / "results" / "graph.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return 0


def _evidence_linked(memory, ds) -> float:
    """Share of the multi-hop evidence turns that produced at least one relation."""
    linked = set()
    for r in memory.graph.engine.relations({}):
        linked.update(r["memory_ids"] or [])
    evidence = set(ds.qrels["memory_id"])
    return len(evidence & linked) / max(len(evidence), 1)


if __name__ == "__main__":
    sys.exit(main())
