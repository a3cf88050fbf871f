"""Engine benchmarks (issues 2, 14): add throughput, scoped/unscoped search vs raw FAISS, default
(fusion) vs dense-only scoped search p50, reranked search, re-open time.

Run:  .venv/bin/python benchmarks/bench_engine.py [--n 100000] [--users 1000] [--out benchmarks/results]

Uses the deterministic `hash` embedder for adds (to isolate the engine from a model) and
precomputed query vectors for the search comparison, so memlab and raw FAISS score exactly
the same vectors in the same process: the ratios are what matter on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from memlab import Memory
from memlab.store import filters as F

CFG = {"embedder": {"provider": "hash", "config": {"embedding_dims": 384}}}


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def add_rate(m: Memory, n_ops: int, users: int, start: int) -> float:
    t = time.perf_counter()
    for i in range(start, start + n_ops):
        m.add(f"benchmark memory {i} about topic {i % 97} and item {i % 13}", user_id=f"user{i % users}", infer=False)
    return n_ops / (time.perf_counter() - t)


def embed_rate(m: Memory, n_ops: int) -> float:
    t = time.perf_counter()
    for i in range(n_ops):
        m.embed([f"benchmark memory {i} about topic {i % 97} and item {i % 13}"])
    return n_ops / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--ops", type=int, default=2000, help="single adds timed at each size")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    results: dict = {"n": args.n, "users": args.users}
    tmp = Path(tempfile.mkdtemp(prefix="memlab-bench-"))
    try:
        m = Memory(CFG, path=tmp / "store")
        results["hash_embed_per_s"] = round(embed_rate(m, args.ops))
        # --- add throughput at 1k, 10k, 100k (single add() calls, one transaction each)
        rates = {}
        size = 0
        rng = np.random.default_rng(0)
        for target in (1_000, 10_000, args.n):
            fill = target - size - args.ops
            if fill > 0:  # bulk-fill up to the size (batched, one transaction per 5k)
                for s in range(0, fill, 5000):
                    k = min(5000, fill - s)
                    m.add_records([{"memory": f"filler {size + s + j} topic {(size + s + j) % 97}",
                                    "user_id": f"user{(size + s + j) % args.users}"} for j in range(k)])
                size += fill
            rates[target] = round(add_rate(m, args.ops, args.users, size))
            size += args.ops
            print(f"add (infer=False, hash embedder) at {target:>7,} memories: {rates[target]:,}/s", flush=True)
        results["add_per_s"] = rates
        results["add_slowdown_1k_to_n"] = round(rates[1_000] / rates[args.n], 2)

        # --- search: memlab store vs raw FAISS over the same vectors
        store = m.store
        t = store.table
        n = t.n
        vecs = t.vecs[:n].copy()
        raw = faiss.IndexFlatIP(vecs.shape[1])
        raw.add(vecs)
        faiss.omp_set_num_threads(1)
        queries = rng.normal(size=(args.queries, vecs.shape[1])).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)

        def raw_search():
            for q in queries:
                raw.search(q[None, :], 10)

        def memlab_unscoped():
            for q in queries:
                store.search(q, None, 10)

        nodes = [F.parse({"user_id": f"user{i % args.users}"}) for i in range(args.queries)]

        def memlab_scoped():
            for q, node in zip(queries, nodes):
                store.search(q, node, 10)

        raw_t = min(timed(raw_search, 3)) / args.queries
        un_t = min(timed(memlab_unscoped, 3)) / args.queries
        sc_t = min(timed(memlab_scoped, 3)) / args.queries
        results["raw_faiss_ms"] = round(raw_t * 1e3, 3)
        results["unscoped_ms"] = round(un_t * 1e3, 3)
        results["scoped_ms"] = round(sc_t * 1e3, 3)
        results["unscoped_vs_raw"] = round(un_t / raw_t, 2)
        results["scoped_vs_raw"] = round(sc_t / raw_t, 3)
        # end to end, including the query embedding and response building
        e2e = timed(lambda: m.search("topic 5 item 3", user_id="user5", limit=10, mode="dense"), 50)
        results["scoped_end_to_end_ms"] = round(statistics.median(e2e) * 1e3, 3)
        print(f"search over {n:,}: raw FAISS {raw_t*1e3:.3f} ms | memlab unscoped {un_t*1e3:.3f} ms "
              f"({un_t/raw_t:.2f}x) | memlab scoped to 1 of {args.users} users {sc_t*1e3:.3f} ms "
              f"| end-to-end scoped m.search {results['scoped_end_to_end_ms']} ms", flush=True)
        # --- default (fusion) vs dense-only scoped search, per query, same run (issue 14)
        texts = [f"benchmark topic {i % 97} item {i % 13}" for i in range(args.queries)]
        store.search(queries[0], nodes[0], 10, mode="fusion", text=texts[0])  # builds the keyword indexes once

        def paired():
            """Per query: dense, then fusion, back to back (a shared machine's load drifts over a
            pass; timing the two paths of one query next to each other keeps the ratio honest)."""
            dense, fusion = [], []
            for q, node, text in zip(queries, nodes, texts):
                t0 = time.perf_counter()
                store.search(q, node, 10)
                t1 = time.perf_counter()
                store.search(q, node, 10, mode="fusion", text=text)
                t2 = time.perf_counter()
                dense.append(t1 - t0)
                fusion.append(t2 - t1)
            return dense, fusion

        # first pass: each scope's first keyword search since the last write (no per-scope cache yet)
        dense_t, fusion_t = paired()
        results["scoped_default_cold_p50_ms"] = round(statistics.median(fusion_t) * 1e3, 3)
        results["default_cold_vs_dense"] = round(statistics.median(fusion_t) / statistics.median(dense_t), 2)
        for _ in range(2):  # warm: best of three passes per query
            again = paired()
            dense_t = [min(a, b) for a, b in zip(dense_t, again[0])]
            fusion_t = [min(a, b) for a, b in zip(fusion_t, again[1])]
        results["scoped_dense_p50_ms"] = round(statistics.median(dense_t) * 1e3, 3)
        results["scoped_default_p50_ms"] = round(statistics.median(fusion_t) * 1e3, 3)
        results["default_vs_dense"] = round(statistics.median(fusion_t) / statistics.median(dense_t), 2)
        # a store taking writes: before each query another user gets a new memory (an add keeps the
        # other scopes' keyword caches; an update/delete of a cached row drops them)
        write_d, write_f = [], []
        for i, (q, node, text) in enumerate(zip(queries[:300], nodes, texts)):
            m.add(f"interleaved write {i} topic {i % 97}", user_id=f"user{(i + 1) % args.users}", infer=False)
            t0 = time.perf_counter()
            store.search(q, node, 10)
            t1 = time.perf_counter()
            store.search(q, node, 10, mode="fusion", text=text)
            write_d.append(t1 - t0)
            write_f.append(time.perf_counter() - t1)
        results["default_between_writes_p50_ms"] = round(statistics.median(write_f) * 1e3, 3)
        results["default_between_writes_vs_dense"] = round(statistics.median(write_f) / statistics.median(write_d), 2)
        from memlab.rerankers import create_reranker

        saved = m.search_settings
        reranker, top_n = create_reranker("features")
        m.search_settings = type(saved)(**{**saved.__dict__, "reranker": reranker, "rerank_top_n": top_n})
        plain = timed(lambda: m.search("benchmark topic 5 item 3", user_id="user5", limit=10, rerank=False), 50)
        reranked = timed(lambda: m.search("benchmark topic 5 item 3", user_id="user5", limit=10), 50)
        m.search_settings = saved
        results["default_end_to_end_p50_ms"] = round(statistics.median(plain) * 1e3, 3)
        results["reranked_end_to_end_p50_ms"] = round(statistics.median(reranked) * 1e3, 3)
        print(f"scoped search p50 (engine): dense {results['scoped_dense_p50_ms']} ms | default fusion "
              f"{results['scoped_default_p50_ms']} ms ({results['default_vs_dense']}x; first search of a scope {results['scoped_default_cold_p50_ms']} ms, "
              f"{results['default_cold_vs_dense']}x; between other users' writes {results['default_between_writes_p50_ms']} ms, "
              f"{results['default_between_writes_vs_dense']}x) | end to end m.search "
              f"{results['default_end_to_end_p50_ms']} ms, + features rerank {results['reranked_end_to_end_p50_ms']} ms",
              flush=True)
        m.close()

        # --- re-open time
        reopen = timed(lambda: Memory(CFG, path=tmp / "store").close(), 3)
        results["reopen_s"] = round(min(reopen), 3)
        print(f"re-open of a {n:,}-memory store: {min(reopen):.2f} s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
