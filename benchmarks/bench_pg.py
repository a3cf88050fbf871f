"""PostgreSQL + pgvector engine vs the FAISS engine, side by side in one run (issue 15).

Run:  .venv/bin/python benchmarks/bench_pg.py [--n 100000] [--users 1000] [--url postgresql://...]

Both engines get the same records (hash embedder, 384-d, vectors computed once and handed to both),
then: bulk add throughput (``add_records``: one transaction), single ``add`` throughput (one
transaction per call, embedding included), and scoped dense search latency p50/p99 over random
users, plus scoped keyword (BM25) latency. Without ``--url`` a pgserver is started in a temp dir
(unix socket) and stopped at the end. Results: benchmarks/results/pg.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from memlab import Memory

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 384}}}


def pct(xs: list, q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def search_latency(m: Memory, users: int, queries: int, mode: str, seed: int = 7) -> dict:
    rng = random.Random(seed)
    times, sizes = [], []
    for _ in range(queries):
        user = f"user{rng.randrange(users)}"
        t = time.perf_counter()
        hits = m.search(f"topic {rng.randrange(97)} item {rng.randrange(13)}", user_id=user, limit=10, mode=mode)
        times.append((time.perf_counter() - t) * 1000)
        sizes.append(len(hits["results"]))
    return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(pct(times, 0.99), 3),
            "mean_results": round(statistics.mean(sizes), 2)}


def run_engine(name: str, cfg: dict, records: list, users: int, ops: int, queries: int) -> dict:
    out: dict = {}
    with Memory(cfg) as m:
        t = time.perf_counter()
        for start in range(0, len(records), 5000):
            m.add_records(records[start:start + 5000])
        out["bulk_add_per_s"] = round(len(records) / (time.perf_counter() - t), 1)
        t = time.perf_counter()
        for i in range(ops):
            m.add(f"single add {i} about topic {i % 97}", user_id=f"user{i % users}", infer=False)
        out["single_add_per_s"] = round(ops / (time.perf_counter() - t), 1)
        search_latency(m, users, 20, "dense")  # warm up
        out["dense_scoped"] = search_latency(m, users, queries, "dense")
        out["keyword_scoped"] = search_latency(m, users, max(50, queries // 4), "keyword")
    print(name, json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--ops", type=int, default=500, help="single adds timed per engine")
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--url", default=None, help="an existing PostgreSQL with pgvector (default: a temp pgserver)")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()

    texts = [f"benchmark memory {i} about topic {i % 97} and item {i % 13}" for i in range(args.n)]
    with Memory(HASH) as embedder_only:
        vecs = embedder_only.embed(texts)
    records = [{"memory": t, "user_id": f"user{i % args.users}", "vector": v} for i, (t, v) in enumerate(zip(texts, vecs))]

    tmp = tempfile.mkdtemp(prefix="memlab-bench-pg-")
    url, data = args.url, None
    if url is None:
        from memlab.store.pg import server

        data = Path(tmp) / "pgdata"
        url = server.start(data)
    results = {"n": args.n, "users": args.users, "embedder": "hash 384-d"}
    try:
        results["faiss"] = run_engine("faiss", {**HASH, "vector_store": {"provider": "faiss",
                                                 "config": {"path": str(Path(tmp) / "faiss")}}},
                                      records, args.users, args.ops, args.queries)
        pg_cfg = {**HASH, "vector_store": {"provider": "pgvector",
                                           "config": {"connection_string": url, "collection_name": "bench"}}}
        results["pgvector"] = run_engine("pgvector", pg_cfg, records, args.users, args.ops, args.queries)
        with Memory(pg_cfg) as m:
            m.reset()
    finally:
        if data is not None:
            server.stop(data)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    Path(args.out, "pg.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
