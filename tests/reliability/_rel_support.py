"""Helpers shared by the reliability tests: store dumps, in-memory snapshots, index checks,
and the crash-test child process (a pre-imported "zygote" that forks one workload per trial).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
import traceback
import uuid
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parents[2]


def hash_cfg(dims: int = 32) -> dict:
    return {"embedder": {"provider": "hash", "config": {"embedding_dims": dims}}}


# --------------------------------------------------------------------------- dumps and snapshots
def dump_db(store_dir) -> dict:
    """Every row of every table of a store's SQLite file (read-only connection), for equality checks."""
    conn = sqlite3.connect(f"file:{Path(store_dir) / 'memlab.db'}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
    finally:
        conn.close()


def index_ids(store) -> np.ndarray:
    return np.sort(faiss.vector_to_array(store.index.index.id_map).astype(np.int64))


def memory_snapshot(m) -> dict:
    """The semantic in-memory state of a Memory: table rows, vectors, flags, index contents."""
    st = m.store
    t = st.table
    with st.lock:
        rows = [t.row(i) for i in range(t.n)]
        return {
            "n": t.n,
            "rows": json.dumps(rows, sort_keys=True, default=str),
            "vids": t.vids[: t.n].tobytes(),
            "vecs": t.vecs[: t.n].tobytes(),
            "active": t.active[: t.n].tobytes(),
            "pos_by_id": dict(t.pos_by_id),
            "index_ids": index_ids(st).tobytes(),
            "ntotal": st.index.ntotal,
            "last_seq": st.last_seq,
            "epoch": st.epoch,
        }


def sqlite_rows(store_dir) -> tuple[dict, dict]:
    """(rows by id, history events by memory id in order) read straight from SQLite."""
    conn = sqlite3.connect(f"file:{Path(store_dir) / 'memlab.db'}?mode=ro", uri=True)
    try:
        rows = {}
        for vid, mid, text, h, state, user, vec, run_id in conn.execute(
                "SELECT vid, id, memory, hash, state, user_id, vector, run_id FROM memories"):
            rows[mid] = {"vid": vid, "memory": text, "hash": h, "state": state, "user_id": user,
                         "vector": np.frombuffer(vec, dtype=np.float32), "run_id": run_id}
        hist: dict[str, list] = {}
        for mid, event, old, new in conn.execute(
                "SELECT memory_id, event, old_memory, new_memory FROM history ORDER BY hseq"):
            hist.setdefault(mid, []).append((event, old, new))
        return rows, hist
    finally:
        conn.close()


def assert_index_agrees(store_dir, store) -> None:
    """The FAISS index of an open store holds exactly the active SQLite rows, with their blobs."""
    rows, _ = sqlite_rows(store_dir)
    active = {r["vid"]: r["vector"] for r in rows.values() if r["state"] == "active"}
    ids = index_ids(store)
    assert ids.tolist() == sorted(active), "FAISS ids differ from the active SQLite rows"
    for vid, vec in active.items():
        assert np.array_equal(store.index.index.reconstruct(int(vid)), vec), f"vector of vid {vid} differs"
    t = store.table
    assert int(t.active[: t.n].sum()) == len(active)


def integrity_ok(store_dir) -> bool:
    conn = sqlite3.connect(f"file:{Path(store_dir) / 'memlab.db'}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


# --------------------------------------------------------------------------- crash-test child
WORDS = ("tea coffee berlin lisbon dog cat marathon nurse sushi ramen peanut sister brother "
         "piano guitar chess mountain river winter summer").split()


def crash_workload(store: str, seed: int, ack_path: str, user: str, dims: int) -> None:
    """Loop over random writes forever; log BEGIN before and ACK after every call returns.

    The log is written with unbuffered ``os.write`` (O_APPEND): a SIGKILL'd process loses
    nothing it wrote, since the data already sits in the kernel's page cache.
    """
    from memlab import Memory

    fd = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def log(kind: str, **kw) -> None:
        os.write(fd, (json.dumps({"k": kind, **kw}) + "\n").encode())

    rng = random.Random(seed)
    runs = ("r0", "r1", "r2")
    try:
        m = Memory(hash_cfg(dims), path=store)
        log("READY")
        # id -> [run_id, state] of this user's live (active or paused) memories the child knows
        live = {r["id"]: [r.get("run_id"), "active"] for r in m.get_all(user_id=user, limit=1_000_000)["results"]}
        i = 0
        while True:
            i += 1
            text = f"s{seed} n{i} " + " ".join(rng.sample(WORDS, 3))
            run = rng.choice(runs)
            r = rng.random()
            if r < 0.33 or not live:
                log("BEGIN", op="add", text=text, run=run)
                res = m.add(text, user_id=user, run_id=run, infer=False, metadata={"i": i})
                mid = res["results"][0]["id"]
                live[mid] = [run, "active"]
                log("ACK", op="add", id=mid, text=text, run=run)
            elif r < 0.50:
                mid = rng.choice(sorted(live))
                log("BEGIN", op="update", id=mid, text=text)
                m.update(mid, text)
                log("ACK", op="update", id=mid, text=text)
            elif r < 0.62:
                mid = rng.choice(sorted(live))
                log("BEGIN", op="delete", id=mid)
                m.delete(mid)
                del live[mid]
                log("ACK", op="delete", id=mid)
            elif r < 0.74:
                recs = [{"id": str(uuid.uuid4()), "memory": f"{text} b{j}", "user_id": user, "run_id": run}
                        for j in range(5)]
                op = {"op": "bulk", "ids": [x["id"] for x in recs], "texts": [x["memory"] for x in recs], "run": run}
                log("BEGIN", **op)
                m.add_records(recs)
                live.update((x["id"], [run, "active"]) for x in recs)
                log("ACK", **op)
            elif r < 0.82:
                mid = rng.choice(sorted(live))
                new_state = "paused" if live[mid][1] == "active" else "active"
                log("BEGIN", op="state", id=mid, state=new_state)
                m.set_state(mid, new_state)
                live[mid][1] = new_state
                log("ACK", op="state", id=mid, state=new_state)
            elif r < 0.85:  # a multi-row transaction: every active memory of one run
                log("BEGIN", op="delete_all", run=run)
                m.delete_all(user_id=user, run_id=run)
                for mid in [k for k, (rr, st) in live.items() if rr == run and st == "active"]:
                    del live[mid]
                log("ACK", op="delete_all", run=run)
            else:
                m.search(text, user_id=user, limit=3)
    except BaseException:
        log("ERROR", tb=traceback.format_exc())
        raise


def zygote_main() -> None:
    """Read JSON commands on stdin; ``run`` forks a workload child and prints its pid,
    ``wait`` reaps a child and prints its raw wait status. Importing memlab once here makes
    each trial cost a fork instead of a new interpreter."""
    import memlab  # noqa: F401  (the point: pay the import once)

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "run":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    crash_workload(cmd["store"], cmd["seed"], cmd["ack"], cmd["user"], cmd["dims"])
                except BaseException:
                    code = 1
                os._exit(code)
            print(json.dumps({"pid": pid}), flush=True)
        elif cmd["cmd"] == "wait":
            _, status = os.waitpid(cmd["pid"], 0)
            print(json.dumps({"status": status}), flush=True)
        elif cmd["cmd"] == "quit":
            return


def read_log(ack_path) -> list[dict]:
    """Complete lines of a child's log (a torn last line, cut by the kill, is ignored)."""
    try:
        data = Path(ack_path).read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in data.split(b"\n")[:-1]:
        out.append(json.loads(line))
    return out


# --------------------------------------------------------------------------- concurrent workers
def mixed_ops(m, user: str, n_ops: int, seed: int, check_isolation: bool = True) -> dict:
    """Random add/search/update/delete/get_all on ``user``'s memories; returns the expected final
    state {id: text} of that user's active memories (every op is on this user's own rows)."""
    rng = random.Random(seed)
    expected: dict[str, str] = {}
    counts = {"add": 0, "search": 0, "update": 0, "delete": 0, "get_all": 0, "bulk": 0}
    for i in range(n_ops):
        r = rng.random()
        text = f"{user} op{i} " + " ".join(rng.sample(WORDS, 3))
        if r < 0.30 or not expected:
            res = m.add(text, user_id=user, infer=False, metadata={"i": i})["results"]
            expected[res[0]["id"]] = text
            counts["add"] += 1
        elif r < 0.35:
            recs = [{"memory": f"{text} b{j}", "user_id": user} for j in range(3)]
            for mid, rec in zip(m.add_records(recs), recs):
                expected[mid] = rec["memory"]
            counts["bulk"] += 1
        elif r < 0.60:
            hits = m.search(text, user_id=user, limit=5)["results"]
            if check_isolation:
                assert all(h["user_id"] == user for h in hits), "cross-scope search result"
            counts["search"] += 1
        elif r < 0.78:
            mid = rng.choice(sorted(expected))
            m.update(mid, text)
            expected[mid] = text
            counts["update"] += 1
        elif r < 0.90:
            mid = rng.choice(sorted(expected))
            m.delete(mid)
            del expected[mid]
            counts["delete"] += 1
        else:
            got = m.get_all(user_id=user, limit=1_000_000)["results"]
            if check_isolation:
                assert all(g["user_id"] == user for g in got)
            counts["get_all"] += 1
    return {"expected": expected, "counts": counts}


def process_worker(store: str, user: str, n_ops: int, seed: int, go_file: str, dims: int) -> None:
    """A worker process: wait for the start signal, open the (maybe not yet created) store,
    run mixed ops, print the expected final state as JSON on stdout."""
    import time

    from memlab import Memory

    while not os.path.exists(go_file):
        time.sleep(0.005)
    m = Memory(hash_cfg(dims), path=store)
    out = mixed_ops(m, user, n_ops, seed)
    # every writer's final state is visible here once all of them are done: wait for the others
    m.close()
    print(json.dumps(out), flush=True)


def _race_worker(store: str, go: str, queue, embedder_dims: int) -> None:
    import time

    from memlab import Memory

    while not os.path.exists(go):
        time.sleep(0.0005)
    try:
        m = Memory(hash_cfg(embedder_dims), path=store)
        m.add("created in a race", user_id="u", infer=False)
        m.close()
        queue.put("ok")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put(f"{type(exc).__name__}: {exc}")


def creation_race(trials: int, procs: int, base: str) -> dict:
    """``procs`` forked processes open one brand-new store at the same instant, ``trials`` times.
    Half of the trials mix two embedders: exactly one may win, the others get a ConfigError."""
    import multiprocessing as mp
    import time

    from memlab import Memory

    ctx = mp.get_context("fork")
    out = {"trials": 0, "opens": 0, "failures": [], "wrong_counts": 0}
    for t in range(trials):
        store, go = os.path.join(base, f"s{t}"), os.path.join(base, f"go{t}")
        mixed = t % 2 == 1
        queue = ctx.Queue()
        ps = [ctx.Process(target=_race_worker, args=(store, go, queue, 16 if not mixed or i % 2 else 24))
              for i in range(procs)]
        for p in ps:
            p.start()
        time.sleep(0.05)
        open(go, "w").close()
        for p in ps:
            p.join(60)
        results = [queue.get(timeout=10) for _ in ps]
        ok = [r for r in results if r == "ok"]
        bad = [r for r in results if r != "ok"]
        out["trials"] += 1
        out["opens"] += len(results)
        if mixed:  # the losers must be told about the other embedder, nothing else
            out["failures"] += [r for r in bad if not r.startswith("ConfigError")]
        else:
            out["failures"] += bad
        dims = {16, 24} if mixed else {16}
        found = 0
        for d in dims:
            try:
                m = Memory(hash_cfg(d), path=store)
            except Exception:  # noqa: BLE001 - the other embedder's store
                continue
            found += len(m.get_all(user_id="u")["results"])
            m.close()
        out["wrong_counts"] += found != len(ok)
    return out
