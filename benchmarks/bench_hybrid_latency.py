"""Latency of scoped dense vs keyword vs hybrid search at 10k memories (engine only, no embedding).

    .venv/bin/python benchmarks/bench_hybrid_latency.py [--n 10000] [--users 10] [--reps 200]

Texts are 8-20 words drawn from a Zipf-distributed 5,000-word vocabulary (realistic postings:
a few very frequent words, a long tail); vectors come from the hash embedder. Times are
``Store.search`` calls with a pre-embedded query (what a search costs beyond embedding the query),
for a scope of n/users memories and for one scope holding all n. Also reports the one-off
cost of building the keyword index (first keyword/hybrid search) and of a write with it on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memlab import Memory  # noqa: E402
from memlab.store import filters as F  # noqa: E402


def texts(rng: np.random.Generator, n: int, vocab: int = 5000) -> list[str]:
    words = [f"w{i}" for i in range(vocab)]
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    return [" ".join(words[j] for j in rng.choice(vocab, size=rng.integers(8, 21), p=p)) for _ in range(n)]


def timed(fn, reps: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    corpus = texts(rng, args.n)
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 384}}})
    vecs = m.embed(corpus)
    records = [{"memory": t, "user_id": f"u{i % args.users}", "vector": v}
               for i, (t, v) in enumerate(zip(corpus, vecs))]
    m.add_records(records, history=False)
    queries = texts(rng, 50)
    qvecs = m.embed(queries, purpose="search")
    print(f"{args.n} memories, {args.users} users; per-call ms (mean of {args.reps}):")
    t0 = time.perf_counter()
    m.store.table.keyword_index()
    print(f"  keyword index build (first keyword/hybrid search): {(time.perf_counter() - t0) * 1000:.0f} ms")
    for label, flt in ((f"scope of {args.n // args.users}", {"user_id": "u0"}), ("whole store (no scope)", None)):
        node = F.parse(flt) if flt else None
        row = []
        for mode in ("dense", "keyword", "hybrid"):
            it = iter(range(10**9))

            def call():
                i = next(it) % len(queries)
                m.store.search(qvecs[i], node, 10, mode=mode, text=queries[i])
            row.append(f"{mode} {timed(call, args.reps):.2f}")

        def cold():  # first search of a scope after a write: the idf floor's mean idf is recomputed
            m.store.table.keyword._mean_idf_cache.clear()
            m.store.search(qvecs[0], node, 10, mode="hybrid", text=queries[0])
        row.append(f"hybrid right after a write {timed(cold, args.reps):.2f}")
        print(f"  {label}: " + " | ".join(row))
    m2 = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 384}}})
    m2.add_records(records[:2000], history=False)

    def add():
        m2.add(corpus[int(rng.integers(args.n))], user_id="u0", infer=False)
    base = timed(add, 100)
    m2.store.table.keyword_index()
    print(f"  add(): {base:.2f} ms without the keyword index, {timed(add, 100):.2f} ms with it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
