"""Threshold sweep speed: 1,000 queries × 100 results, 201 thresholds, after retrieval.

    .venv/bin/python benchmarks/bench_sweep.py [--queries 1000] [--depth 100] [--repeat 5]

Baseline in the same run: re-evaluating the run once per threshold with ``evaluate_run``
(what a naive loop over ``search(threshold=t)`` results would cost, without the searches).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memlab.evaluate.metrics import aggregate, evaluate_run  # noqa: E402
from memlab.evaluate.sweep import sweep_thresholds  # noqa: E402


def synthetic(n_queries: int, depth: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    qids = np.array([f"q{i:05d}" for i in range(n_queries)])
    run = pd.DataFrame({"query_id": np.repeat(qids, depth),
                        "memory_id": np.tile(np.array([f"m{j:04d}" for j in range(depth)]), n_queries),
                        "score": np.round(rng.normal(0.3, 0.15, n_queries * depth), 4)})
    answerable = rng.random(n_queries) > 0.2
    rel = [(q, f"m{j:04d}", int(rng.integers(1, 3))) for q, a in zip(qids, answerable) if a
           for j in rng.choice(depth + 20, size=int(rng.integers(1, 5)), replace=False)]
    qrels = pd.DataFrame(rel, columns=["query_id", "memory_id", "relevance"])
    queries = pd.DataFrame({"id": qids, "answerable": answerable})
    return run, qrels, queries


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    run, qrels, queries = synthetic(args.queries, args.depth)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        sweep = sweep_thresholds(run, qrels, queries, k=args.depth)
        times.append(time.perf_counter() - t0)
    best = min(times)
    n_t = len(sweep)
    sample = sweep["threshold"].to_numpy()[:: max(1, n_t // 10)]
    t0 = time.perf_counter()
    for t in sample:
        aggregate(evaluate_run(run, qrels, queries, k=args.depth, threshold=float(t)))
    naive = (time.perf_counter() - t0) / len(sample) * n_t
    print(f"{args.queries} queries x {args.depth} results ({len(run):,} rows), {n_t} thresholds")
    print(f"sweep_thresholds: best {best * 1000:.0f} ms, median {np.median(times) * 1000:.0f} ms "
          f"over {args.repeat} runs")
    print(f"naive per-threshold evaluate_run (extrapolated from {len(sample)}): {naive:.1f} s "
          f"-> sweep is {naive / best:.0f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
