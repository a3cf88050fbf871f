"""Fusion (the default search) on PostgreSQL + pgvector vs pgvector dense vs the FAISS engine's fusion, one run.

Run:  .venv/bin/python benchmarks/bench_pg_fusion.py [--n 100000] [--users 1000] [--url postgresql://...]

Both engines get the same conversations (hash embedder, 384-d): each user's memories are
conversations of ``--turns`` messages by two speakers, stored with their context windows (as
``add(messages, infer=False)`` stores them; written here with ``add_records`` and the same
windows, ``memlab.ranking.context.build_contexts``, so loading 100k rows takes a minute, not ten).
Texts draw words from a Zipf-distributed vocabulary, so common query words occur in many of a
user's memories (BM25's idf floor) and rare ones in few. Queries: 2-4 words, half of them naming
a speaker. Timed: ``Memory.search`` scoped to one random user, limit 10 (query embedding
included), p50/p99 over ``--queries`` queries per variant, variants interleaved per query so
background load hits them alike, then the same queries again (scopes cached by PostgreSQL); a few unscoped searches (every memory allowed) too. Before timing, the first ``--check`` queries are compared across
engines (same ids in the same order). Without ``--url`` a pgserver is started in a temp dir (unix
socket) and stopped at the end. Results: benchmarks/results/pg_fusion.json.

:func:`run_fusion_latency` is the timing part alone, for folding into benchmarks/bench_pg.py.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from memlab import Memory
from memlab.ranking.context import build_contexts

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 384}}}
SPEAKERS = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Goro", "Hana")


def pct(xs: list, q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def make_conversations(n: int, users: int, turns: int, seed: int = 11) -> tuple[list[dict], list[str], list[float]]:
    """(``n`` records: per user, conversations of ``turns`` messages with their context windows; vocabulary; its weights)."""
    rng = random.Random(seed)
    vocab = [f"{a}{b}{c}" for a in "bdfgklmnprstvz" for b in "aeiou" for c in ("n", "r", "s", "l", "x", "ma", "to")]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf
    records: list[dict] = []
    per_user = n // users
    for u in range(users):
        a, b = rng.sample(SPEAKERS, 2)
        for start in range(0, per_user, turns):
            msgs = [{"role": "user" if i % 2 == 0 else "assistant", "name": (a, b)[i % 2],
                     "content": " ".join(rng.choices(vocab, weights, k=rng.randint(4, 14)))}
                    for i in range(min(turns, per_user - start))]
            for msg, ctx in zip(msgs, build_contexts(msgs)):
                records.append({"id": f"00000000-0000-4000-8000-{len(records):012d}", "memory": msg["content"],
                                "user_id": f"user{u}", "actor_id": msg["name"],
                                "role": msg["role"], "context": ctx})
    return records, vocab, weights


def make_queries(count: int, users: int, vocab: list, weights: list, seed: int = 5) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        words = rng.choices(vocab, weights, k=rng.randint(2, 4))
        if i % 2:
            words.insert(0, rng.choice(SPEAKERS))
        out.append((" ".join(words), f"user{rng.randrange(users)}"))
    return out


def run_fusion_latency(variants: dict[str, Callable[[str, str], list]], queries: list[tuple[str, str]]) -> dict:
    """p50/p99 (ms) of each ``variants[name](query, user)``, interleaved per query, after warm-up queries."""
    for query, user in queries[:min(20, len(queries) // 5)]:
        for fn in variants.values():
            fn(query, user)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for query, user in queries:
        for name, fn in variants.items():
            t = time.perf_counter()
            fn(query, user)
            times[name].append((time.perf_counter() - t) * 1000)
    return {name: {"p50_ms": round(statistics.median(ts), 3), "p99_ms": round(pct(ts, 0.99), 3)}
            for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--turns", type=int, default=10, help="messages per conversation")
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--check", type=int, default=100, help="queries whose results are compared across engines")
    ap.add_argument("--url", default=None, help="an existing PostgreSQL with pgvector (default: a temp pgserver)")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()

    records, vocab, weights = make_conversations(args.n, args.users, args.turns)
    with Memory(HASH) as embedder_only:
        vecs = embedder_only.embed([r["memory"] for r in records])
    for rec, vec in zip(records, vecs):
        rec["vector"] = vec
    queries = make_queries(args.queries, args.users, vocab, weights)

    tmp = tempfile.mkdtemp(prefix="memlab-bench-pg-fusion-")
    url, data = args.url, None
    if url is None:
        from memlab.store.pg import server

        data = Path(tmp) / "pgdata"
        url = server.start(data)
    pg_cfg = {**HASH, "vector_store": {"provider": "pgvector",
                                       "config": {"connection_string": url, "collection_name": "bench_fusion"}}}
    faiss_cfg = {**HASH, "vector_store": {"provider": "faiss", "config": {"path": str(Path(tmp) / "faiss")}}}
    results: dict = {"n": len(records), "users": args.users, "turns": args.turns, "embedder": "hash 384-d",
                     "queries": len(queries)}
    try:
        with Memory(faiss_cfg) as fm, Memory(pg_cfg) as pm:
            pm.reset()
            for m, name in ((fm, "faiss"), (pm, "pgvector")):
                t = time.perf_counter()
                for start in range(0, len(records), 5000):
                    m.add_records(records[start:start + 5000])
                results[f"load_s_{name}"] = round(time.perf_counter() - t, 1)
            same = 0
            for query, user in queries[:args.check]:
                a = [r["id"] for r in fm.search(query, user_id=user, limit=10)["results"]]
                b = [r["id"] for r in pm.search(query, user_id=user, limit=10)["results"]]
                same += a == b
            results["same_top10_order"] = f"{same}/{min(args.check, len(queries))}"
            variants = {
                "faiss_fusion": lambda q, u: fm.search(q, user_id=u, limit=10),
                "faiss_dense": lambda q, u: fm.search(q, user_id=u, limit=10, mode="dense"),
                "pg_fusion": lambda q, u: pm.search(q, user_id=u, limit=10),
                "pg_dense": lambda q, u: pm.search(q, user_id=u, limit=10, mode="dense"),
            }
            # first pass: most users' rows are not in PostgreSQL's buffer cache (the table is larger than
            # shared_buffers); second pass, the same queries again: their scopes' pages are cached
            results["latency"] = run_fusion_latency(variants, queries)
            results["latency_repeated"] = run_fusion_latency(variants, queries)
            # unscoped (every memory allowed): fusion scores all 100k rows on both engines
            results["unscoped_fusion_p50_ms"] = run_fusion_latency({
                "faiss": lambda q, u: fm.search(q, all_scopes=True, limit=10),
                "pgvector": lambda q, u: pm.search(q, all_scopes=True, limit=10),
            }, queries[:6])
            lat = results["latency"]
            results["pg_fusion_over_pg_dense"] = round(lat["pg_fusion"]["p50_ms"] / lat["pg_dense"]["p50_ms"], 2)
            results["pg_fusion_over_faiss_fusion"] = round(lat["pg_fusion"]["p50_ms"] / lat["faiss_fusion"]["p50_ms"], 2)
            pm.reset()
    finally:
        if data is not None:
            server.stop(data)
        shutil.rmtree(tmp, ignore_errors=True)  # the FAISS store and pgserver data: ~1.5 GB at 100k
    Path(args.out).mkdir(parents=True, exist_ok=True)
    Path(args.out, "pg_fusion.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
