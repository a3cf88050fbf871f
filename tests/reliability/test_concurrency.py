"""Concurrency: threads sharing one Memory, threads with one Memory each on one directory,
several processes on one directory, torn-read checks, and regression tests for two
catch-up races found in review (see docs/reliability.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from memlab import Memory
from memlab.store.faiss.engine import Store
from tests.reliability._rel_support import (
    REPO, assert_index_agrees, hash_cfg, integrity_ok, mixed_ops, sqlite_rows,
)

DIMS = 32


def _run_threads(targets) -> list:
    results: list = [None] * len(targets)
    errors: list = []

    def wrap(i, fn):
        try:
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - every failure must fail the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=wrap, args=(i, fn)) for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    return results


def _assert_state(store_dir, m: Memory, expected_by_user: dict) -> None:
    """Exact final state: SQLite rows, this Memory's view, a fresh Memory's view, the index."""
    rows, hist = sqlite_rows(store_dir)
    for user, expected in expected_by_user.items():
        active = {k: r["memory"] for k, r in rows.items() if r["user_id"] == user and r["state"] == "active"}
        assert active == expected, f"SQLite state of {user} differs"
        got = {r["id"]: r["memory"] for r in m.get_all(user_id=user, limit=1_000_000)["results"]}
        assert got == expected, f"live view of {user} differs"
    for mid, r in rows.items():  # no half-applied event: the last history row matches the row
        event, old, new = hist[mid][-1]
        assert (new if event != "DELETE" else old) == r["memory"]
        assert (event == "DELETE") == (r["state"] == "deleted")
    assert_index_agrees(store_dir, m.store)
    fresh = Memory(hash_cfg(DIMS), path=store_dir)
    try:
        for user, expected in expected_by_user.items():
            got = {r["id"]: r["memory"] for r in fresh.get_all(user_id=user, limit=1_000_000)["results"]}
            assert got == expected
        assert_index_agrees(store_dir, fresh.store)
    finally:
        fresh.close()
    assert integrity_ok(store_dir)


def test_threads_share_one_memory(tmp_path):
    """4 threads x 1,000 mixed operations on one Memory object."""
    store = str(tmp_path / "s")
    m = Memory(hash_cfg(DIMS), path=store)
    users = [f"user{i}" for i in range(4)]
    out = _run_threads([lambda u=u, i=i: mixed_ops(m, u, 1000, seed=i) for i, u in enumerate(users)])
    ops = sum(sum(o["counts"].values()) for o in out)
    assert ops == 4000
    _assert_state(store, m, {u: o["expected"] for u, o in zip(users, out)})
    m.close()


def test_threads_with_one_memory_each_on_one_directory(tmp_path):
    """4 threads, each with its own Memory (own SQLite connection) on the same directory: every
    write reaches the others through the seq/data_version catch-up."""
    store = str(tmp_path / "s")
    mems = [Memory(hash_cfg(DIMS), path=store) for _ in range(4)]
    users = [f"user{i}" for i in range(4)]
    out = _run_threads([lambda m=m, u=u, i=i: mixed_ops(m, u, 600, seed=100 + i)
                        for i, (m, u) in enumerate(zip(mems, users))])
    expected = {u: o["expected"] for u, o in zip(users, out)}
    for m in mems:  # every connection converges on the same, exact state
        _assert_state(store, m, expected)
    for m in mems:
        m.close()


def test_no_torn_reads_between_threads(tmp_path):
    """A batch written by add_records is visible all at once or not at all."""
    m = Memory(hash_cfg(DIMS), path=str(tmp_path / "s"))
    stop = threading.Event()
    seen = {"reads": 0}

    def writer():
        for b in range(150):
            m.add_records([{"memory": f"batch {b} item {j}", "user_id": "torn", "metadata": {"b": b}}
                           for j in range(10)])
        stop.set()

    def reader():
        while not stop.is_set():
            n = len(m.get_all(user_id="torn", limit=1_000_000)["results"])
            assert n % 10 == 0, f"torn read: {n} rows"
            hits = m.search("batch item", user_id="torn", filters={"b": {"gte": 0}}, limit=1_000_000)["results"]
            assert len(hits) % 10 == 0
            seen["reads"] += 1

    _run_threads([writer, reader, reader])
    assert seen["reads"] > 10
    assert len(m.get_all(user_id="torn", limit=10_000)["results"]) == 1500
    m.close()


def _spawn(code: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_processes_on_one_directory(tmp_path):
    """4 processes race to create one new store, then mix 300 operations each; a long-lived
    Memory in the parent (opened during the race) and a fresh one both see the exact result."""
    store = str(tmp_path / "s")
    go = str(tmp_path / "go")
    users = [f"proc{i}" for i in range(4)]
    procs = [_spawn("from tests.reliability._rel_support import process_worker; "
                    f"process_worker({store!r}, {u!r}, 300, {i}, {go!r}, {DIMS})") for i, u in enumerate(users)]
    time.sleep(1.0)  # let the interpreters import, so that they open the new store together
    open(go, "w").close()
    live = Memory(hash_cfg(DIMS), path=store)
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert sum(sum(o["counts"].values()) for o in outs) == 1200
    _assert_state(store, live, {u: o["expected"] for u, o in zip(users, outs)})
    live.close()


def test_no_torn_reads_across_processes(tmp_path):
    store = str(tmp_path / "s")
    m = Memory(hash_cfg(DIMS), path=store)
    m.add_records([{"memory": f"seed {j}", "user_id": "torn"} for j in range(10)])
    code = f"""
import json, time
from memlab import Memory
from tests.reliability._rel_support import hash_cfg
m = Memory(hash_cfg({DIMS}), path={store!r})
print("READY", flush=True)
reads, bad, last = 0, 0, 0
t_end = time.time() + 60
while time.time() < t_end:
    n = len(m.get_all(user_id="torn", limit=1_000_000)["results"])
    reads += 1
    bad += n % 10 != 0
    last = n
    if n >= 1000:
        break
print(json.dumps({{"reads": reads, "bad": bad, "last": last}}))
"""
    proc = _spawn(code)
    assert proc.stdout.readline().strip() == "READY", proc.stderr.read()[-3000:]
    for b in range(99):
        m.add_records([{"memory": f"batch {b} item {j}", "user_id": "torn"} for j in range(10)])
        time.sleep(0.005)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-3000:]
    res = json.loads(stdout.strip().splitlines()[-1])
    assert res["bad"] == 0 and res["last"] == 1000 and res["reads"] >= 5
    m.close()


# --------------------------------------------------------------------------- regressions
def test_commit_by_another_connection_right_after_ours_is_not_lost(tmp_path, monkeypatch):
    """Regression: data_version used to be read after COMMIT, so a commit by another connection
    landing in between was never loaded by this one."""
    store = str(tmp_path / "s")
    a, b = Memory(hash_cfg(DIMS), path=store), Memory(hash_cfg(DIMS), path=store)
    original = Store._apply
    fired = []

    def apply_after_a_sneaky_commit(self, tx):
        if self is a.store and not fired:
            fired.append(1)
            b.add("written by b between a's COMMIT and a's bookkeeping", user_id="u", infer=False)
        return original(self, tx)

    monkeypatch.setattr(Store, "_apply", apply_after_a_sneaky_commit)
    a.add("written by a", user_id="u", infer=False)
    monkeypatch.setattr(Store, "_apply", original)
    assert fired
    assert len(a.get_all(user_id="u")["results"]) == 2
    assert_index_agrees(store, a.store)


def test_reset_by_another_connection_before_our_write_is_seen(tmp_path, monkeypatch):
    """Regression: a write that found another connection's commits since its last sync loaded
    only newer rows, keeping rows that a concurrent reset() had wiped."""
    store = str(tmp_path / "s")
    a, b = Memory(hash_cfg(DIMS), path=store), Memory(hash_cfg(DIMS), path=store)
    a.add("old one", user_id="u", infer=False)
    a.add("old two", user_id="u", infer=False)
    original = Store.sync
    fired = []

    def sync_then_reset_elsewhere(self):
        original(self)
        if self is a.store and not fired:
            fired.append(1)
            b.reset()
            b.add("after reset", user_id="u", infer=False)

    monkeypatch.setattr(Store, "sync", sync_then_reset_elsewhere)
    a.add("new from a", user_id="u", infer=False)
    monkeypatch.setattr(Store, "sync", original)
    assert sorted(r["memory"] for r in a.get_all(user_id="u")["results"]) == ["after reset", "new from a"]
    assert_index_agrees(store, a.store)


@pytest.mark.slow
def test_threads_share_one_memory_long(tmp_path):
    store = str(tmp_path / "s")
    m = Memory(hash_cfg(DIMS), path=store)
    users = [f"user{i}" for i in range(8)]
    out = _run_threads([lambda u=u, i=i: mixed_ops(m, u, 5000, seed=i) for i, u in enumerate(users)])
    _assert_state(store, m, {u: o["expected"] for u, o in zip(users, out)})
    m.close()


def test_interrupt_while_applying_a_commit_heals_on_next_access(tmp_path, monkeypatch):
    """Regression: a KeyboardInterrupt (notebook cell stopped) after COMMIT but while the table and
    FAISS index were being updated left them out of step with SQLite for good."""
    from memlab.store.faiss.index import VectorIndex

    store = str(tmp_path / "s")
    m = Memory(hash_cfg(DIMS), path=store)
    m.add_records([{"memory": f"first batch {i}", "user_id": "u"} for i in range(5)])
    original = VectorIndex.add

    def interrupted(self, vids, vecs):
        raise KeyboardInterrupt

    monkeypatch.setattr(VectorIndex, "add", interrupted)
    with pytest.raises(KeyboardInterrupt):
        m.add_records([{"memory": f"second batch {i}", "user_id": "u"} for i in range(5)])
    monkeypatch.setattr(VectorIndex, "add", original)
    # the write was committed: it must be fully visible, and the index must agree
    assert len(m.get_all(user_id="u")["results"]) == 10
    assert_index_agrees(store, m.store)
    assert m.search("second batch 3", user_id="u", limit=1)["results"][0]["memory"] == "second batch 3"


def test_interrupt_while_catching_up_heals_on_next_access(tmp_path, monkeypatch):
    store = str(tmp_path / "s")
    a, b = Memory(hash_cfg(DIMS), path=store), Memory(hash_cfg(DIMS), path=store)
    b.add_records([{"memory": f"from b {i}", "user_id": "u"} for i in range(5)])
    original = Store._load_rows

    def interrupted(self, since):
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "_load_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        a.get_all(user_id="u")
    monkeypatch.setattr(Store, "_load_rows", original)
    assert len(a.get_all(user_id="u")["results"]) == 5
    assert_index_agrees(store, a.store)


def test_many_processes_create_one_new_store_at_once(tmp_path):
    """Regression: opening a brand-new store from several processes at once failed with
    "database is locked" (switching to WAL does not wait for the lock) or "not a memlab store"
    (schema checked outside the write lock), and two embedders could both claim the store."""
    code = ("import json; from tests.reliability._rel_support import creation_race; "
            f"print(json.dumps(creation_race(12, 6, {str(tmp_path)!r})))")
    proc = _spawn(code)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    res = json.loads(stdout.strip().splitlines()[-1])
    assert res["trials"] == 12 and res["opens"] == 72
    assert res["failures"] == [] and res["wrong_counts"] == 0, res


def test_update_racing_a_delete_never_resurrects(tmp_path):
    """Two connections: one keeps updating memories while the other deletes them. Every update
    either lands before the delete or raises NotFoundError; nothing comes back to life."""
    from memlab.errors import NotFoundError

    store = str(tmp_path / "s")
    a, b = Memory(hash_cfg(DIMS), path=store), Memory(hash_cfg(DIMS), path=store)
    ids = a.add_records([{"memory": f"contested {i}", "user_id": "u"} for i in range(40)])
    stats = {"updated": 0, "refused": 0}

    def updater():
        for round_ in range(15):
            for mid in ids:
                try:
                    a.update(mid, f"contested {mid[:4]} round {round_}")
                    stats["updated"] += 1
                except NotFoundError:
                    stats["refused"] += 1

    def deleter():
        for mid in ids:
            time.sleep(0.005)
            b.delete(mid)

    _run_threads([updater, deleter])
    assert stats["refused"] + stats["updated"] == 15 * 40
    rows, hist = sqlite_rows(store)
    for mid in ids:
        assert rows[mid]["state"] == "deleted"
        events = [e[0] for e in hist[mid]]
        assert events[-1] == "DELETE" and events.count("DELETE") == 1
    assert a.get_all(user_id="u")["results"] == [] and b.get_all(user_id="u")["results"] == []
    assert_index_agrees(store, a.store)
