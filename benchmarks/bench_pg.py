"""PostgreSQL + pgvector engine vs the FAISS engine, side by side in one run (issue 15).

Run:  nice -n 10 .venv/bin/python benchmarks/bench_pg.py [--n 100000] [--users 1000] [--ann-n 1000000] [--url ...]

Sections (hash embedder, 384-d; vectors computed once and handed to both engines):

1. ``scoped`` -- ``--n`` memories over ``--users`` users on each engine: bulk add throughput
   (``add_records``; on PostgreSQL by COPY, plus the row-by-row path on a subset for the ratio),
   single ``add`` throughput (one transaction per call, embedding included), scoped search latency
   p50/p99 over random users (dense, keyword, hybrid).
2. ``concurrent`` -- 1/2/4 client processes on the PostgreSQL store of section 1, each looping
   scoped searches and adds for ``--proc-seconds``: total throughput.
3. ``ann`` -- ``--ann-n`` memories of random-word texts (one agent, ``--users`` users): HNSW build
   time, recall@10 of the HNSW index scan against exact search on the whole collection (tie-aware:
   a hit counts when its score reaches the exact 10th score), latencies of both, and scoped (one
   user) search p50/p99 on both engines at that size.

4. ``fusion`` (``--fusion-queries``; ``--only-fusion`` runs it alone) -- the default (fusion) search scoped to
   one user, on the conversations of ``bench_pg_fusion.py`` (``--n`` memories, ``--users`` users; built once
   and kept with ``--fusion-data DIR``): p50 of ``m.search`` end to end on a scope's *first* search (a new
   process: no scope cached; every query on a user not searched before) and *warm* (the same queries again),
   split into the time inside the database driver (round trips: the server's work and the wait for it) and
   the client's (everything else: query embedding, SQL building, decoding, ranking), FAISS's fusion timed
   the same way in processes of its own. ``--baseline DIR`` times another checkout (e.g. a worktree of main) the same way, each in its
   own processes, alternating ``--fusion-rounds`` times so background load hits both alike. The machine's
   load average is recorded per burst. ``--baseline-collection NAME`` gives the baseline its own table, loaded by
   the baseline's own code from the same conversations when it does not hold them yet (a checkout older than
   the current schema cannot open the current table: e.g. the code issue 25 measured, ``c1c2734``).

Without ``--url`` a pgserver is started in a temp dir (unix socket) and stopped at the end.
Results: benchmarks/results/pg.json and pg.md (a run of some sections keeps the others' figures).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
if "--tree" in sys.argv:  # a fusion worker timing another checkout's memlab (the baseline of --baseline)
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])
from pg_report import write_report  # noqa: E402

from memlab import Memory  # noqa: E402
from memlab.store import filters as F  # noqa: E402
from memlab.store.pg import search as Q  # noqa: E402

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 384}}}
CHUNK = 5000


def pct(xs: list, q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def stats(times: list, sizes: list) -> dict:
    return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(pct(times, 0.99), 3),
            "mean_results": round(statistics.mean(sizes), 2), "queries": len(times)}


def pg_cfg(url: str, table: str, **extra) -> dict:
    return {**HASH, "vector_store": {"provider": "pgvector",
                                     "config": {"connection_string": url, "collection_name": table, **extra}}}


def search_latency(m: Memory, users: int, queries: int, mode: str, seed: int = 7, **scope) -> dict:
    rng = random.Random(seed)
    times, sizes = [], []
    for _ in range(queries):
        who = scope or {"user_id": f"user{rng.randrange(users)}"}
        t = time.perf_counter()
        hits = m.search(f"topic {rng.randrange(97)} item {rng.randrange(13)}", limit=10, mode=mode, **who)
        times.append((time.perf_counter() - t) * 1000)
        sizes.append(len(hits["results"]))
    return stats(times, sizes)


def bulk_add(m: Memory, records: list, **kw) -> float:
    t = time.perf_counter()
    for start in range(0, len(records), CHUNK):
        m.add_records(records[start:start + CHUNK], **kw)
    return round(len(records) / (time.perf_counter() - t), 1)


def run_scoped(name: str, cfg: dict, records: list, users: int, ops: int, queries: int) -> dict:
    out: dict = {}
    with Memory(cfg) as m:
        out["bulk_add_per_s"] = bulk_add(m, records)
        if name == "pgvector":  # the statistics the planner uses (autovacuum would gather them shortly)
            with m.store._conn() as conn:
                conn.execute(f"ANALYZE {m.store.table_name}")
        t = time.perf_counter()
        for i in range(ops):
            m.add(f"single add {i} about topic {i % 97}", user_id=f"user{i % users}", infer=False)
        out["single_add_per_s"] = round(ops / (time.perf_counter() - t), 1)
        for mode in ("dense", "keyword", "hybrid"):
            search_latency(m, users, 30, mode, seed=1)  # warm up (and let psycopg prepare the statements)
            out[f"{mode}_scoped"] = search_latency(m, users, queries if mode == "dense" else queries // 2, mode)
    print(name, json.dumps(out), flush=True)
    return out


def copy_vs_rows(url: str, records: list) -> dict:
    """The same records into two fresh collections: COPY (the engine) vs the row-by-row path."""
    from memlab.store.pg.transaction import PgTransaction

    out = {"records": len(records)}
    with Memory(pg_cfg(url, "bench_copy")) as m:
        out["copy_per_s"] = bulk_add(m, records)
        m.reset()
    saved = PgTransaction.add_rows, PgTransaction.existing_ids
    del PgTransaction.add_rows, PgTransaction.existing_ids  # rows.apply_adds falls back to put_row
    try:
        with Memory(pg_cfg(url, "bench_rows")) as m:
            out["row_by_row_per_s"] = bulk_add(m, records)
            m.reset()
    finally:
        PgTransaction.add_rows, PgTransaction.existing_ids = saved
    out["speedup"] = round(out["copy_per_s"] / out["row_by_row_per_s"], 2)
    print("copy_vs_rows", json.dumps(out), flush=True)
    return out


# ---------------------------------------------------------------------------------------- concurrency
def _client(cfg: dict, users: int, seconds: float, seed: int, barrier, results) -> None:
    rng = random.Random(seed)
    searches = adds = 0
    with Memory(cfg) as m:
        barrier.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            user = f"user{rng.randrange(users)}"
            if rng.random() < 0.1:
                m.add(f"concurrent add {seed} {adds} topic {rng.randrange(97)}", user_id=user, infer=False)
                adds += 1
            else:
                m.search(f"topic {rng.randrange(97)} item {rng.randrange(13)}", user_id=user, limit=10,
                         mode="dense" if rng.random() < 0.5 else "keyword")
                searches += 1
    results.put((searches, adds))


def concurrent(cfg: dict, users: int, procs: list[int], seconds: float) -> dict:
    """N client processes, each 90% scoped searches (dense/keyword) and 10% adds, for ``seconds``."""
    ctx = mp.get_context("spawn")
    out = {}
    for n in procs:
        barrier, results = ctx.Barrier(n), ctx.Queue()
        ps = [ctx.Process(target=_client, args=(cfg, users, seconds, 100 + i, barrier, results)) for i in range(n)]
        for p in ps:
            p.start()
        got = [results.get(timeout=seconds + 300) for _ in ps]
        for p in ps:
            p.join()
        s, a = sum(g[0] for g in got), sum(g[1] for g in got)
        out[str(n)] = {"ops_per_s": round((s + a) / seconds, 1), "searches_per_s": round(s / seconds, 1),
                       "adds_per_s": round(a / seconds, 1)}
        print("concurrent", n, json.dumps(out[str(n)]), flush=True)
    return out


# ---------------------------------------------------------------------------------------- HNSW at scale
def ann_records(n: int, users: int, seed: int = 11) -> tuple[list, list]:
    rng = random.Random(seed)
    vocab = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "su", "ti", "va", "ze") for b in range(500)]
    texts = [" ".join(rng.choices(vocab, k=rng.randint(5, 12))) for _ in range(n)]
    # a query shares words with some memory (about a stored fact) plus words of its own
    queries = [" ".join(rng.sample(texts[rng.randrange(n)].split(), k=3) + rng.choices(vocab, k=2)) for _ in range(200)]
    return texts, queries


def run_ann(url: str, n: int, users: int, n_queries: int, ef_values: list[int], faiss_path: str, out: dict,
            build: tuple[int, int] = (16, 64)) -> dict:
    """Fills ``out`` as it goes (a run stopped part way keeps what it measured)."""
    texts, queries = ann_records(n, users)
    out.update({"n": n, "users": users, "hnsw_m": build[0], "hnsw_ef_construction": build[1]})
    t = time.perf_counter()
    with Memory(HASH) as e:
        vecs = np.concatenate([e.embed(texts[i:i + 50_000]) for i in range(0, n, 50_000)])
        qvecs = e.embed(queries[:n_queries])
    out["embed_s"] = round(time.perf_counter() - t, 1)
    records = [{"memory": x, "agent_id": "bench", "user_id": f"user{i % users}", "vector": v}
               for i, (x, v) in enumerate(zip(texts, vecs))]
    del vecs
    cfg = pg_cfg(url, "bench_ann")
    with Memory(cfg) as m:
        out["pg_bulk_add_per_s"] = bulk_add(m, records, history=False)
        print("ann loaded", out["pg_bulk_add_per_s"], flush=True)
        with m.store._conn() as conn:
            conn.execute("SET maintenance_work_mem = '4GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")
            conn.execute("DROP INDEX IF EXISTS bench_ann_hnsw")
            t = time.perf_counter()
            conn.execute("CREATE INDEX bench_ann_hnsw ON bench_ann USING hnsw (embedding vector_ip_ops) "
                          f"WITH (m = {build[0]}, ef_construction = {build[1]})")
            out["hnsw_build_s"] = round(time.perf_counter() - t, 1)
            conn.execute("ANALYZE bench_ann")
        print("ann index", out["hnsw_build_s"], flush=True)
    with Memory(pg_cfg(url, "bench_ann", hnsw=True)) as m:
        node = F.parse({"agent_id": "bench"})  # the whole collection: a large scope
        exact_t, exact = [], []
        with m.store._conn() as conn:
            for q in qvecs:
                t = time.perf_counter()
                exact.append(Q.dense(conn, "bench_ann", q, node, 10))
                exact_t.append((time.perf_counter() - t) * 1000)
            out["exact_whole"] = stats(exact_t, [len(x) for x in exact])
            for ef in ef_values:
                times, recalls, fallbacks = [], [], 0
                for q, want in zip(qvecs, exact):
                    t = time.perf_counter()
                    got = Q.dense(conn, "bench_ann", q, node, 10, ann="hnsw", ef_search=ef)
                    times.append((time.perf_counter() - t) * 1000)
                    floor = want[-1][1] - 1e-6
                    recalls.append(sum(s >= floor for _, s in got) / len(want))
                    fallbacks += len(got) < 10
                out[f"hnsw_ef{ef}"] = {**stats(times, [10] * len(times)), "recall_at_10": round(float(np.mean(recalls)), 4),
                                       "min_recall": round(float(np.min(recalls)), 2), "exact_fallbacks": fallbacks}
                print("ann ef", ef, json.dumps(out[f"hnsw_ef{ef}"]), flush=True)
        search_latency(m, users, 30, "dense", seed=1)
        out["pg_dense_scoped"] = search_latency(m, users, 200, "dense")
        out["pg_keyword_scoped"] = search_latency(m, users, 100, "keyword")
        m.reset()
    with Memory({**HASH, "vector_store": {"provider": "faiss", "config": {"path": faiss_path}}}) as m:
        out["faiss_bulk_add_per_s"] = bulk_add(m, records)
        search_latency(m, users, 30, "dense", seed=1)
        out["faiss_dense_scoped"] = search_latency(m, users, 200, "dense")
        out["faiss_keyword_scoped"] = search_latency(m, users, 100, "keyword")
        t = time.perf_counter()
        times = []
        for q in queries[:n_queries]:
            t = time.perf_counter()
            m.search(q, agent_id="bench", limit=10, mode="dense")
            times.append((time.perf_counter() - t) * 1000)
        out["faiss_exact_whole"] = stats(times, [10] * len(times))
    print("ann", json.dumps(out), flush=True)
    return out


# ---------------------------------------------------------------------------------------- fusion, first and warm
def _timed_driver() -> dict:
    """Accumulates the time spent inside psycopg's execute/fetch (the database round trips) into ``acc["db"]``."""
    import psycopg

    acc = {"db": 0.0}

    def wrap(owner, name):
        fn = getattr(owner, name)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc["db"] += time.perf_counter() - t
        setattr(owner, name, timed)

    wrap(psycopg.Connection, "execute")
    for name in ("fetchone", "fetchall", "fetchmany", "__iter__"):
        wrap(psycopg.Cursor, name)
    return acc


def fusion_worker(args: argparse.Namespace) -> None:
    """One burst in a new process: ``--fusion-queries`` first searches of new scopes, then the same again; prints
    per-query lists (ms) as JSON."""
    import bench_pg_fusion as BF

    _, vocab, weights = BF.make_conversations(1000, 10, 10)  # the vocabulary does not depend on the size
    queries = BF.scope_queries(40 + args.fusion_queries, args.users, vocab, weights, seed=args.seed)
    acc = _timed_driver()
    out: dict = {}
    if args.engine == "faiss":  # in processes of its own: the engines do not share a process's caches
        cfgs = {"faiss": {**HASH, "vector_store": {"provider": "faiss", "config": {"path": str(Path(args.fusion_data) / "faiss")}}}}
    else:
        cfgs = {"pg": pg_cfg(args.url, args.collection)}
    mems = {k: Memory(c) for k, c in cfgs.items()}
    try:
        for q, u in queries[:40]:  # connections, prepared statements; users of their own
            for m in mems.values():
                m.search(q, user_id=u, limit=10)
        for phase in ("first", "warm"):
            for q, u in queries[40:]:
                for k, m in mems.items():
                    acc["db"] = 0.0
                    t = time.perf_counter()
                    m.search(q, user_id=u, limit=10)
                    e2e = (time.perf_counter() - t) * 1000
                    out.setdefault(f"{k}_{phase}", []).append(e2e)
                    if k == "pg":
                        out.setdefault(f"pg_{phase}_db", []).append(acc["db"] * 1000)
    finally:
        for m in mems.values():
            m.close()
    out["load"] = os.getloadavg()[0]
    print(json.dumps(out), flush=True)


def fusion_build(args: argparse.Namespace) -> None:
    """Load ``--collection`` with the fusion conversations using this process's memlab (``--tree``), unless it
    already holds them."""
    import psycopg

    import bench_pg_fusion as BF

    with psycopg.connect(args.url) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (args.collection,)).fetchone()[0]
        if exists and conn.execute(f"SELECT count(*) FROM {args.collection}").fetchone()[0] == args.n:
            return
    records, _, _ = BF.make_conversations(args.n, args.users, 10)
    with Memory(HASH) as e:
        for rec, vec in zip(records, e.embed([r["memory"] for r in records])):
            rec["vector"] = vec
    with Memory(pg_cfg(args.url, args.collection)) as m:
        m.reset()
        bulk_add(m, records)


def fusion_stores(args: argparse.Namespace) -> tuple[str, str]:
    """(url, data dir) of bench_pg_fusion.py's conversations on both engines, built unless ``--fusion-data`` holds them."""
    import bench_pg_fusion as BF

    ns = argparse.Namespace(n=args.n, users=args.users, turns=10, url=args.url,
                            data=args.fusion_data or tempfile.mkdtemp(prefix="memlab-bench-pg-fusion-"))
    faiss_cfg, pgc, url, data, reuse = BF.open_stores(ns)
    if not reuse:
        records, _, _ = BF.make_conversations(args.n, args.users, 10)
        with Memory(HASH) as e:
            for rec, vec in zip(records, e.embed([r["memory"] for r in records])):
                rec["vector"] = vec
        for cfg in (faiss_cfg, pgc):
            with Memory(cfg) as m:
                m.reset()
                bulk_add(m, records)
        (data / "built.json").write_text(json.dumps({"n": args.n, "users": args.users, "turns": 10}))
    return url, str(data)


def run_fusion(args: argparse.Namespace, url: str, data: str) -> dict:
    """Fusion first/warm p50 (end to end, database, client) of this checkout and of ``--baseline``, alternating."""
    import subprocess

    trees = {"this": str(Path(__file__).resolve().parent.parent)}
    collections = {"this": "bench_fusion", "baseline": args.baseline_collection or "bench_fusion"}
    if args.baseline:
        trees["baseline"] = str(Path(args.baseline).resolve())
        if args.baseline_collection:
            subprocess.run([sys.executable, __file__, "--fusion-build", "--tree", trees["baseline"], "--url", url,
                            "--collection", args.baseline_collection, "--n", str(args.n), "--users", str(args.users)],
                           check=True)
    got: dict = {k: {} for k in trees}
    loads = []
    for r in range(args.fusion_rounds):
        bursts = [(name, "pg") for name in trees] + [("this", "faiss")]
        for name, engine in (bursts if r % 2 == 0 else bursts[::-1]):
            cmd = [sys.executable, __file__, "--fusion-worker", "--tree", trees[name], "--url", url,
                   "--collection", collections[name], "--engine", engine,
                   "--fusion-data", data, "--seed", str(100 + r), "--fusion-queries", str(args.fusion_queries),
                   "--users", str(args.users)]
            burst = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
            loads.append(round(burst.pop("load"), 2))
            for k, xs in burst.items():
                got[name].setdefault(k, []).extend(xs)
    med = statistics.median
    out: dict = {"queries_per_round": args.fusion_queries, "rounds": args.fusion_rounds, "load_average_1min": loads}
    for name, d in got.items():
        row = {}
        for phase in ("first", "warm"):
            e2e, db = d[f"pg_{phase}"], d[f"pg_{phase}_db"]
            row[phase] = {"p50_ms": round(med(e2e), 3), "p99_ms": round(pct(e2e, 0.99), 3),
                          "db_p50_ms": round(med(db), 3), "client_p50_ms": round(med([a - b for a, b in zip(e2e, db)]), 3)}
            if f"faiss_{phase}" in d:
                out[f"faiss_{phase}"] = {"p50_ms": round(med(d[f"faiss_{phase}"]), 3),
                                         "p99_ms": round(pct(d[f"faiss_{phase}"], 0.99), 3)}
        out["pgvector" if name == "this" else "pgvector_baseline"] = row
    print("fusion", json.dumps(out), flush=True)
    return out


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--ops", type=int, default=500, help="single adds timed per engine")
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--copy-n", type=int, default=20_000, help="records of the COPY vs row-by-row comparison")
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument("--proc-seconds", type=float, default=15)
    ap.add_argument("--ann-n", type=int, default=1_000_000, help="0 skips the HNSW section")
    ap.add_argument("--ann-queries", type=int, default=100)
    ap.add_argument("--ef", default="40,100,200,400,800", help="hnsw.ef_search values of the HNSW section")
    ap.add_argument("--hnsw-build", default="16,64", help="m,ef_construction of the HNSW section's index")
    ap.add_argument("--only-ann", action="store_true", help="run the HNSW section alone")
    ap.add_argument("--url", default=None, help="an existing PostgreSQL with pgvector (default: a temp pgserver)")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--fusion-queries", type=int, default=100, help="first searches per burst of the fusion section")
    ap.add_argument("--fusion-rounds", type=int, default=4, help="bursts per checkout (alternating with --baseline)")
    ap.add_argument("--fusion-data", default=None, help="keep the fusion section's stores (and server) here")
    ap.add_argument("--baseline", default=None, help="another checkout (e.g. a worktree of main) timed alongside")
    ap.add_argument("--only-fusion", action="store_true", help="run the fusion section alone")
    ap.add_argument("--baseline-collection", default=None,
                    help="the baseline's own table, loaded by its own code if needed (an older schema)")
    ap.add_argument("--collection", default="bench_fusion", help=argparse.SUPPRESS)
    ap.add_argument("--fusion-build", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--fusion-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--engine", default="pg", choices=["pg", "faiss"], help=argparse.SUPPRESS)
    ap.add_argument("--tree", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=100, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fusion_worker:
        return fusion_worker(args)
    if args.fusion_build:
        return fusion_build(args)
    if args.only_fusion:
        url, data = fusion_stores(args)
        results = json.loads(Path(args.out, "pg.json").read_text()) if Path(args.out, "pg.json").exists() else {
            "n": args.n, "users": args.users, "embedder": "hash 384-d",
            "machine": f"{mp.cpu_count()} CPU cores, shared; server and clients on the same machine"}
        results["fusion"] = {"n": args.n, "users": args.users, **run_fusion(args, url, data)}
        Path(args.out).mkdir(parents=True, exist_ok=True)
        Path(args.out, "pg.json").write_text(json.dumps(results, indent=2) + "\n")
        write_report(results, Path(args.out, "pg.md"))
        if args.url is None and args.fusion_data is None:
            from memlab.store.pg import server

            server.stop(Path(data) / "pgdata")
            shutil.rmtree(data, ignore_errors=True)
        return
    signal.signal(signal.SIGTERM, _stop)  # kill PID: write what was measured, stop the server

    n = 0 if args.only_ann else args.n
    texts = [f"benchmark memory {i} about topic {i % 97} and item {i % 13}" for i in range(n)]
    with Memory(HASH) as embedder_only:
        vecs = embedder_only.embed(texts) if texts else []
    records = [{"memory": t, "user_id": f"user{i % args.users}", "vector": v} for i, (t, v) in enumerate(zip(texts, vecs))]

    tmp = tempfile.mkdtemp(prefix="memlab-bench-pg-")
    url, data = args.url, None
    if url is None:
        from memlab.store.pg import server

        data = Path(tmp) / "pgdata"
        url = server.start(data)
    results: dict = {"n": n, "users": args.users, "embedder": "hash 384-d",
                     "machine": f"{mp.cpu_count()} CPU cores, shared; server and clients on the same machine"}
    started = time.perf_counter()
    try:
        if not args.only_ann:
            results["faiss"] = run_scoped("faiss", {**HASH, "vector_store": {"provider": "faiss",
                                                   "config": {"path": str(Path(tmp) / "faiss")}}},
                                          records, args.users, args.ops, args.queries)
            results["pgvector"] = run_scoped("pgvector", pg_cfg(url, "bench"), records, args.users, args.ops,
                                             args.queries)
            results["copy_vs_row_by_row"] = copy_vs_rows(url, records[: args.copy_n])
            procs = [int(p) for p in args.procs.split(",") if p]
            results["concurrent_pgvector"] = {
                "seconds": args.proc_seconds, "mix": "90% scoped search (dense/keyword), 10% add",
                "processes": concurrent(pg_cfg(url, "bench"), args.users, procs, args.proc_seconds)}
            with Memory(pg_cfg(url, "bench")) as m:
                m.reset()
            if args.fusion_queries:
                fargs = argparse.Namespace(**{**vars(args), "url": url})
                fdata = fusion_stores(fargs)[1]
                results["fusion"] = {"n": args.n, "users": args.users, **run_fusion(fargs, url, fdata)}
                if args.fusion_data is None:
                    shutil.rmtree(fdata, ignore_errors=True)
        if args.ann_n:
            m_, efc = (int(x) for x in args.hnsw_build.split(","))
            run_ann(url, args.ann_n, args.users, args.ann_queries, [int(e) for e in args.ef.split(",")],
                    str(Path(tmp) / "faiss_ann"), results.setdefault("ann", {}), (m_, efc))
    finally:
        results["wall_s"] = round(time.perf_counter() - started, 1)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        Path(args.out, "pg.json").write_text(json.dumps(results, indent=2) + "\n")
        try:
            write_report(results, Path(args.out, "pg.md"))
        finally:
            if data is not None:
                server.stop(data)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
