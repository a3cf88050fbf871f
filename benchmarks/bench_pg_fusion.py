"""Fusion (the default search) on PostgreSQL + pgvector vs pgvector dense vs the FAISS engine's fusion, one run.

Run:  .venv/bin/python benchmarks/bench_pg_fusion.py [--n 100000] [--users 1000] [--data DIR] [--url postgresql://...]

Both engines get the same conversations (hash embedder, 384-d): each user's memories are
conversations of ``--turns`` messages by two speakers, stored with their context windows (as
``add(messages, infer=False)`` stores them; written here with ``add_records`` and the same
windows, ``memlab.ranking.context.build_contexts``, so loading 100k rows takes a minute, not ten).
Texts draw words from a Zipf-distributed vocabulary, so common query words occur in many of a
user's memories (BM25's idf floor) and rare ones in few. Queries: 2-4 words, half of them naming
a speaker.

Timed: ``Memory.search`` scoped to one user, limit 10 (query embedding included), p50/p99 over
``--queries`` queries per variant, variants interleaved per query so background load hits them alike.
Both stores are opened anew and every timed query goes to a user no variant searched before, so each
is its scope's *first* search (PostgreSQL's per-scope statistics cache empty for it; after a server
restart, most of its pages outside shared_buffers); then the same queries again (*warm*). Then
``--check`` more users are compared across engines (same ids in the same order), and a few unscoped
searches (``all_scopes=True``: every memory allowed) are timed on FAISS (every row scored), on
PostgreSQL's default (a bounded pool: memlab.store.pg.candidates) and on PostgreSQL exact over every
row (the pool off), with the top-10 overlap of the pool's answer with FAISS's. The machine's load
average is recorded at start and end.

Without ``--url`` a pgserver is started; with ``--data DIR`` the stores and the server's data stay in
DIR and a later run with the same ``--n/--users/--turns`` reuses them (the server is restarted, so its
buffer cache starts cold), else a temp dir is removed at the end. Results: benchmarks/results/pg_fusion.json.

:func:`run_fusion_latency` is the timing part alone, for folding into benchmarks/bench_pg.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from memlab import Memory
from memlab.ranking.context import build_contexts
from memlab.store.pg.search import EXACT_BELOW as PG_FUSION_EXACT_BELOW

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


def run_fusion_latency(variants: dict[str, Callable[[str, str], list]], queries: list[tuple[str, str]],
                       warmup: Optional[list] = None) -> dict:
    """p50/p99 (ms) of each ``variants[name](query, user)`` over ``queries``, interleaved per query, after the
    untimed ``warmup`` queries (default: the first fifth of ``queries``, at most 20)."""
    for query, user in queries[:min(20, len(queries) // 5)] if warmup is None else warmup:
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


def scope_queries(count: int, users: int, vocab: list, weights: list, seed: int = 5) -> list[tuple[str, str]]:
    """``count`` queries (as :func:`make_queries`), each on a different user: every one is its scope's first."""
    order = random.Random(seed + 1).sample(range(users), count)
    return [(q, f"user{u}") for (q, _), u in zip(make_queries(count, users, vocab, weights, seed), order)]


def open_stores(args: argparse.Namespace) -> tuple[dict, dict, str, Path, bool]:
    """(faiss config, pg config, url, data dir, loaded?): with ``--data`` an earlier run's stores are reused when
    they hold the same data (``built.json``); the server is restarted so its buffer cache starts cold."""
    from memlab.store.pg import server

    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="memlab-bench-pg-fusion-"))
    data.mkdir(parents=True, exist_ok=True)
    want = {"n": args.n, "users": args.users, "turns": args.turns}
    built = data / "built.json"
    reuse = built.exists() and json.loads(built.read_text()) == want and args.url is None
    url = args.url
    if url is None:
        if reuse and server.is_running(data / "pgdata"):
            server.stop(data / "pgdata")
        url = server.start(data / "pgdata")
    if not reuse:
        built.unlink(missing_ok=True)
    pg_cfg = {**HASH, "vector_store": {"provider": "pgvector",
                                       "config": {"connection_string": url, "collection_name": "bench_fusion"}}}
    faiss_cfg = {**HASH, "vector_store": {"provider": "faiss", "config": {"path": str(data / "faiss")}}}
    return faiss_cfg, pg_cfg, url, data, reuse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--turns", type=int, default=10, help="messages per conversation")
    ap.add_argument("--queries", type=int, default=400, help="timed queries, each on a user not searched before")
    ap.add_argument("--check", type=int, default=100, help="queries whose results are compared across engines")
    ap.add_argument("--unscoped", type=int, default=6, help="unscoped (all_scopes) searches timed")
    ap.add_argument("--url", default=None, help="an existing PostgreSQL with pgvector (default: a pgserver)")
    ap.add_argument("--data", default=None, help="keep the stores (and the pgserver) here and reuse them next run")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    if args.queries + 40 + args.check > args.users:
        ap.error("--queries + --check + 40 warm-up users must not exceed --users (each timed query needs a new scope)")

    records, vocab, weights = make_conversations(args.n, args.users, args.turns)
    # users never searched before: 40 for warm-up, then the timed ones, then the cross-engine check
    queries = scope_queries(args.queries + 40 + args.check, args.users, vocab, weights)
    warm, timed, check = queries[:40], queries[40:40 + args.queries], queries[40 + args.queries:]
    faiss_cfg, pg_cfg, url, data, reuse = open_stores(args)
    results: dict = {"n": len(records), "users": args.users, "turns": args.turns, "embedder": "hash 384-d",
                     "queries": len(timed), "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        if not reuse:
            with Memory(HASH) as embedder_only:
                vecs = embedder_only.embed([r["memory"] for r in records])
            for rec, vec in zip(records, vecs):
                rec["vector"] = vec
            with Memory(faiss_cfg) as fm, Memory(pg_cfg) as pm:
                for m, name in ((fm, "faiss"), (pm, "pgvector")):
                    m.reset()
                    t = time.perf_counter()
                    for start in range(0, len(records), 5000):
                        m.add_records(records[start:start + 5000])
                    results[f"load_s_{name}"] = round(time.perf_counter() - t, 1)
            (data / "built.json").write_text(json.dumps({"n": args.n, "users": args.users, "turns": args.turns}))
        t = time.perf_counter()
        with Memory(faiss_cfg) as fm, Memory(pg_cfg) as pm:  # a new process cache: no scope seen yet
            results["open_s"] = round(time.perf_counter() - t, 2)
            variants = {
                "faiss_fusion": lambda q, u: fm.search(q, user_id=u, limit=10),
                "faiss_dense": lambda q, u: fm.search(q, user_id=u, limit=10, mode="dense"),
                "pg_fusion": lambda q, u: pm.search(q, user_id=u, limit=10),
                "pg_dense": lambda q, u: pm.search(q, user_id=u, limit=10, mode="dense"),
            }
            # warm-up on users of their own (connections, prepared statements, the FAISS keyword index), then
            # each timed query on a user no variant searched before: the scope's first search everywhere
            # (PostgreSQL's statistics cache empty for it, most of its pages outside shared_buffers)
            results["latency_first_search"] = run_fusion_latency(variants, timed, warmup=warm)
            results["latency_warm"] = run_fusion_latency(variants, timed, warmup=[])  # the same queries again
            cache = pm.store.scope_cache
            results["pg_scope_cache"] = {"hits": cache.hits, "misses": cache.misses}
            same = 0
            for query, user in check:
                a = [r["id"] for r in fm.search(query, user_id=user, limit=10)["results"]]
                b = [r["id"] for r in pm.search(query, user_id=user, limit=10)["results"]]
                same += a == b
            results["same_top10_order"] = f"{same}/{len(check)}"
            # unscoped (every memory allowed): FAISS scores all rows; PostgreSQL ranks a bounded pool, and
            # exact over every row (fusion_exact_below = 0) for the reference
            store = pm.store

            def pg_exact(q, u):
                store.fusion_exact_below = 0
                try:
                    return pm.search(q, all_scopes=True, limit=10)
                finally:
                    store.fusion_exact_below = PG_FUSION_EXACT_BELOW

            unscoped = timed[:args.unscoped]
            results["unscoped_fusion"] = run_fusion_latency({
                "faiss": lambda q, u: fm.search(q, all_scopes=True, limit=10),
                "pgvector_bounded": lambda q, u: pm.search(q, all_scopes=True, limit=10),
                "pgvector_exact": pg_exact,
            }, unscoped, warmup=unscoped[:1])
            overlap = [len({r["id"] for r in fm.search(q, all_scopes=True, limit=10)["results"]}
                           & {r["id"] for r in pm.search(q, all_scopes=True, limit=10)["results"]}) for q, _ in unscoped]
            results["unscoped_top10_overlap_bounded_vs_faiss"] = overlap
            first, warm_lat = results["latency_first_search"], results["latency_warm"]
            results["pg_fusion_first_over_faiss_fusion"] = round(
                first["pg_fusion"]["p50_ms"] / first["faiss_fusion"]["p50_ms"], 2)
            results["pg_fusion_warm_over_faiss_fusion"] = round(
                warm_lat["pg_fusion"]["p50_ms"] / warm_lat["faiss_fusion"]["p50_ms"], 2)
    finally:
        results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        if args.url is None and args.data is None:
            from memlab.store.pg import server

            server.stop(data / "pgdata")
            shutil.rmtree(data, ignore_errors=True)  # the FAISS store and pgserver data: ~1.5 GB at 100k
    Path(args.out).mkdir(parents=True, exist_ok=True)
    Path(args.out, "pg_fusion.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
