"""Writes that stay flat and a re-opened store's first search (issue 25), each figure beside its reference
in the same run, with the machine's load. Hash embedder (the engine, not a model), durable on-disk stores.

Run:  .venv/bin/python benchmarks/bench_writes.py [--n 20000] [--users 1000] [--sessions 30]

* single ``add(text, infer=False)``, one durable transaction each: the first 1k of a new store and the
  last 1k of ``--n`` memories, timed interleaved (flat: last/first >= 0.8);
* bulk session adds: ``add(100 messages, infer=False)`` with context windows on (memories per second);
* re-open of the ``--n`` store and its first and second scoped (default: fusion) search, with the rows and
  keyword indexes saved at close (memlab.store.faiss.table_cache, keyword_cache) and, as the reference,
  without the files (rows read from SQLite, indexes rebuilt from the texts).

``--reference DIR`` also times another checkout of memlab (e.g. a worktree at the commit issue 25 measured,
``c1c2734``) and this one, each in its own processes, alternating ``--rounds`` times: the first and last 1k single
adds of ``--n``, bulk session adds, re-open and first search. Its figures on this machine, beside what the issue
measured for that code on the machine it was filed on, turn the issue's absolute targets into this machine's
(``target x reference here / reference there``): the machines are shared and differ.

Writes benchmarks/results/writes.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
if "--tree" in sys.argv:  # a probe timing another checkout's memlab (--reference)
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])

from memlab import Memory  # noqa: E402

# What issue 25 measured, on the machine it was filed on, for the code of commit c1c2734 (the reference).
FILED = {"commit": "c1c2734", "single_first_1k_per_s": 3040, "single_last_1k_per_s": 2264, "bulk_per_s": 3462,
         "reopen_ms": 238, "first_search_ms": 404}
TARGETS = {"single_first_1k_per_s": 2000, "bulk_per_s": 10_000, "reopen_ms": 300, "first_search_ms": 20}


def cfg(path: str) -> dict:
    return {"embedder": {"provider": "hash", "config": {"embedding_dims": 384}},
            "vector_store": {"provider": "faiss", "config": {"path": path}}}


def text(i: int) -> str:
    return f"benchmark memory {i} about topic {i % 97} and item {i % 13}"


def single_adds(path: str, n: int, users: int) -> dict:
    """The first 1k adds of a new store timed interleaved, add by add, with the last 1k of the ``n`` store
    (so the machine's load hits both alike)."""
    big = Memory(cfg(path))
    for i in range(n - 1000):
        big.add(text(i), user_id=f"user{i % users}", infer=False)
    small_path, bare_path = tempfile.mkdtemp(), tempfile.mkdtemp()
    small = Memory(cfg(small_path))
    Memory(cfg(bare_path)).close()
    bare = bare_writer(bare_path, small.embed([text(0)])[0])
    spent = {"first": 0.0, "last": 0.0, "bare": 0.0}
    for i in range(1000):
        for key, m, j in (("first", small, i), ("last", big, n - 1000 + i)):
            t = time.perf_counter()
            m.add(text(j), user_id=f"user{j % users}", infer=False)
            spent[key] += time.perf_counter() - t
        t = time.perf_counter()
        bare(text(i), f"user{i % users}")
        spent["bare"] += time.perf_counter() - t
    small.close()
    shutil.rmtree(small_path, ignore_errors=True)
    shutil.rmtree(bare_path, ignore_errors=True)
    big.search("warm up the keyword index", user_id="user1")  # a store in use has searched
    big.close()
    return {"first_1k_per_s": 1000 / spent["first"], "last_1k_per_s": 1000 / spent["last"],
            "bare_sqlite_per_s": 1000 / spent["bare"]}


def bare_writer(path: str, vector):
    """The floor under a single durable add: the same SQLite statements on a memlab database (seq counter,
    the row with its vector, its ADD history row, one WAL commit; same pragmas), with nothing else (no
    embedding, validation, in-memory table, FAISS or keyword index)."""
    import sqlite3

    from memlab.store.faiss.transaction import ROW_COLUMNS
    from memlab.store.rows import new_id

    conn = sqlite3.connect(str(Path(path) / "memlab.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    blob = vector.tobytes()
    cols = ", ".join(ROW_COLUMNS)
    marks = ", ".join("?" * (len(ROW_COLUMNS) + 2))

    def add(memory: str, user: str) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        row = {"id": new_id(), "memory": memory, "hash": "h", "metadata": "{}", "user_id": user, "state": "active",
               "created_at": now, "updated_at": now}
        conn.execute("BEGIN IMMEDIATE")
        seq = conn.execute("UPDATE store_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' "
                           "RETURNING value").fetchone()[0]
        conn.execute(f"INSERT INTO memories ({cols}, vector, seq) VALUES ({marks})",
                     (*[row.get(c) for c in ROW_COLUMNS], blob, int(seq)))
        conn.execute("INSERT INTO history (id, memory_id, old_memory, new_memory, event, created_at, updated_at, "
                     "is_deleted, actor_id, role, hseq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (new_id(), row["id"], None, memory, "ADD", now, now, 0, None, None, int(seq) << 32 | 1))
        conn.execute("COMMIT")

    return add


def session_adds(sessions: int) -> dict:
    """Memories per second of ``add(100 messages)`` with context windows on, and the embedder's share of it
    (the hash embedder is pure Python: it embeds each message and each message's context window)."""
    path = tempfile.mkdtemp()
    try:
        m = Memory(cfg(path))
        embed, spent = m.embed, [0.0]

        def timed(texts, purpose="add"):
            t = time.perf_counter()
            try:
                return embed(texts, purpose)
            finally:
                spent[0] += time.perf_counter() - t

        m.embed = timed  # add() hands its bound embed to the write path: this one is timed
        msgs = lambda k: [{"role": "user" if j % 2 == 0 else "assistant",  # noqa: E731
                           "content": f"session {k} message {j}: I went hiking near lake {j % 7} with dog {k % 13}"}
                          for j in range(100)]
        m.add(msgs(-1), user_id="warm", infer=False)
        spent[0] = 0.0
        t = time.perf_counter()
        for k in range(sessions):
            m.add(msgs(k), user_id=f"user{k % 50}", infer=False)
        total = time.perf_counter() - t
        m.close()
        return {"per_s": 100 * sessions / total, "embedder_share": spent[0] / total}
    finally:
        shutil.rmtree(path, ignore_errors=True)


def reopen(path: str, keep_file: bool, q: int) -> dict:
    """Re-open and two searches, with the caches saved at close (keyword indexes, rows) or, as the reference,
    without them (SQLite read, indexes rebuilt from the texts)."""
    from memlab.store.faiss.keyword_cache import FILE
    from memlab.store.faiss.table_cache import FILE as TABLE_FILE, SEAL

    files = [Path(path) / f for f in (FILE, TABLE_FILE, SEAL)]
    if not keep_file:
        for f in files:
            shutil.copy(f, f.with_name(f.name + ".bak"))
            f.unlink()
    try:
        t = time.perf_counter()
        m = Memory(cfg(path))
        opened = time.perf_counter() - t
        t = time.perf_counter()
        m.search(f"topic {q} and item {q % 13}", user_id=f"user{q}")
        first = time.perf_counter() - t
        t = time.perf_counter()
        m.search(f"topic {q + 1} and item {(q + 1) % 13}", user_id=f"user{q + 1}")
        second = time.perf_counter() - t
        m.store._save_caches = lambda: False  # this measurement must not rewrite the files
        m.store.close()
        return {"open_ms": 1000 * opened, "first_search_ms": 1000 * first, "second_search_ms": 1000 * second}
    finally:
        if not keep_file:
            for f in files:
                os.replace(f.with_name(f.name + ".bak"), f)


def probe(n: int, users: int, sessions: int) -> dict:
    """One checkout's figures in one process (``--reference``): the first and last 1k of ``n`` single adds,
    re-open and two scoped searches, bulk session adds. Uses only the public API (any memlab version)."""
    path = tempfile.mkdtemp()
    try:
        m = Memory(cfg(path))
        spent = {}
        for key, lo, hi in (("first", 0, 1000), (None, 1000, n - 1000), ("last", n - 1000, n)):
            t = time.perf_counter()
            for i in range(lo, hi):
                m.add(text(i), user_id=f"user{i % users}", infer=False)
            if key:
                spent[key] = time.perf_counter() - t
        m.search("warm up the keyword index", user_id="user1")
        m.close()
        t = time.perf_counter()
        m = Memory(cfg(path))
        opened = time.perf_counter() - t
        t = time.perf_counter()
        m.search("topic 10 and item 10", user_id="user10")
        first = time.perf_counter() - t
        m.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return {"single_first_1k_per_s": 1000 / spent["first"], "single_last_1k_per_s": 1000 / spent["last"],
            "reopen_ms": 1000 * opened, "first_search_ms": 1000 * first, "bulk_per_s": session_adds(sessions)["per_s"]}


def against_reference(args: argparse.Namespace) -> dict:
    """This checkout and ``--reference``, each probed in its own process, alternating ``--rounds`` times; medians,
    and the issue's targets scaled to this machine by the reference."""
    import statistics
    import subprocess

    trees = {"this": str(HERE.parent), "reference": str(Path(args.reference).resolve())}
    got: dict = {k: [] for k in trees}
    loads = []
    for r in range(args.rounds):
        for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            cmd = [sys.executable, __file__, "--probe", "--tree", trees[name], "--n", str(args.n),
                   "--users", str(args.users), "--sessions", str(args.sessions)]
            got[name].append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True,
                                                       env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout.splitlines()[-1]))
            loads.append(round(os.getloadavg()[0], 2))
    med = {k: {f: statistics.median(x[f] for x in v) for f in v[0]} for k, v in got.items()}
    scale = {f: med["reference"][f] / FILED[f] for f in TARGETS}  # this machine vs the one the issue ran on
    return {"reference": FILED["commit"], "rounds": args.rounds, "load_average_1min": loads, "filed": FILED,
            "this": med["this"], "reference_here": med["reference"], "all": got,
            "targets_here": {f: TARGETS[f] * scale[f] for f in TARGETS}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reference", default=None, help="another checkout timed alongside (the code issue 25 measured)")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tree", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(probe(args.n, args.users, args.sessions)), flush=True)
        return 0
    r: dict = {"n": args.n, "cores": os.cpu_count(), "load_start": [round(x, 2) for x in os.getloadavg()]}
    path = tempfile.mkdtemp()
    try:
        r["single_add"] = single_adds(path, args.n, args.users)
        r["session_add"] = session_adds(args.sessions)
        r["reopen"] = {"saved_index": [], "rebuilt_index": []}
        for k in range(args.rounds):  # interleaved: with the saved file, then without
            r["reopen"]["saved_index"].append(reopen(path, True, 10 + 2 * k))
            r["reopen"]["rebuilt_index"].append(reopen(path, False, 11 + 2 * k))
    finally:
        shutil.rmtree(path, ignore_errors=True)
    if args.reference:
        r["against_reference"] = against_reference(args)
    r["load_end"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    (out / "writes.json").write_text(json.dumps(r, indent=2) + "\n")
    print(report(r))
    return 0


def report(r: dict) -> str:
    import statistics

    s = r["single_add"]
    med = {k: {f: statistics.median(x[f] for x in v) for f in v[0]} for k, v in r["reopen"].items()}
    rows = [
        f"load average {r['load_start']} -> {r['load_end']} on {r['cores']} cores; {r['n']:,} memories",
        "", "| what | measured | reference / target |", "|---|---|---|",
        f"| single durable add, first 1k / last 1k of {r['n']:,} | {s['first_1k_per_s']:,.0f} / "
        f"{s['last_1k_per_s']:,.0f} per s (×{s['last_1k_per_s'] / s['first_1k_per_s']:.2f}) | ≥ 2,000 /s, ≥ ×0.8 |",
        f"| the same SQLite statements alone (no embedding, table, FAISS), interleaved | "
        f"{s['bare_sqlite_per_s']:,.0f} per s | the floor under a durable add |",
        f"| bulk session adds (100 messages, context on) | {r['session_add']['per_s']:,.0f} memories/s "
        f"(hash embedder: {100 * r['session_add']['embedder_share']:.0f}% of it) | ≥ 10,000 /s |",
    ]
    a, b = med["saved_index"], med["rebuilt_index"]
    rows.append(f"| re-open (median of {len(r['reopen']['saved_index'])}) | {a['open_ms']:.0f} ms | "
                f"{b['open_ms']:.0f} ms without the saved rows and index; ≤ 300 ms |")
    rows.append(f"| first / second scoped search after re-open | {a['first_search_ms']:.1f} / "
                f"{a['second_search_ms']:.1f} ms | {b['first_search_ms']:.1f} / {b['second_search_ms']:.1f} ms "
                "without them; first ≤ 20 ms |")
    if "against_reference" in r:
        a = r["against_reference"]
        this, ref, tgt, filed = a["this"], a["reference_here"], a["targets_here"], a["filed"]
        rows += ["", f"Against the code issue 25 measured ({a['reference']}), each in its own processes, alternating "
                 f"{a['rounds']} times (load {a['load_average_1min']}); the target here is the issue's target × "
                 "(reference here / reference when filed):", "",
                 "| what | this code | reference here | reference when filed | target | target here |",
                 "|---|---|---|---|---|---|"]
        names = {"single_first_1k_per_s": ("single add, first 1k (per s)", "≥"),
                 "single_last_1k_per_s": ("single add, last 1k (per s)", ""), "bulk_per_s": ("bulk session adds (per s)", "≥"),
                 "reopen_ms": ("re-open (ms)", "≤"), "first_search_ms": ("first search after re-open (ms)", "≤")}
        for f, (label, sign) in names.items():
            target = f"{sign} {TARGETS[f]:,}" if f in TARGETS else "last/first ≥ 0.8"
            here = f"{sign} {tgt[f]:,.0f}" if f in tgt else f"×{this[f] / this['single_first_1k_per_s']:.2f}"
            rows.append(f"| {label} | {this[f]:,.1f} | {ref[f]:,.1f} | {filed[f]:,} | {target} | {here} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
