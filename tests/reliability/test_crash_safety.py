"""Crash safety: child processes write in a loop and are SIGKILL'd at random moments.

After every kill the store must open cleanly, pass ``PRAGMA integrity_check``, hold every
write the child acknowledged (logged after the call returned), hold the one in-flight write
either completely or not at all (row, vector and history together), and its FAISS index
must agree with SQLite.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from memlab import Memory
from memlab.embedders import check_vectors
from memlab.embedders.hashing import HashEmbedder
from tests.reliability._rel_support import (
    REPO, assert_index_agrees, hash_cfg, integrity_ok, read_log, sqlite_rows,
)

DIMS = 32
USER = "crash-user"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


# --------------------------------------------------------------------------- the model
def _apply(model: dict, op: dict) -> None:
    kind = op["op"]
    if kind == "add":
        model[op["id"]] = {"memory": op["text"], "state": "active", "run": op.get("run"),
                           "events": [("ADD", None, op["text"])]}
    elif kind == "bulk":
        for mid, text in zip(op["ids"], op["texts"]):
            model[mid] = {"memory": text, "state": "active", "run": op.get("run"), "events": [("ADD", None, text)]}
    elif kind == "update":
        e = model[op["id"]]
        e["events"].append(("UPDATE", e["memory"], op["text"]))
        e["memory"] = op["text"]
    elif kind == "delete":
        e = model[op["id"]]
        e["events"].append(("DELETE", e["memory"], None))
        e["state"] = "deleted"
    elif kind == "state":
        e = model[op["id"]]
        e["events"].append((f"STATE:{e['state']}->{op['state']}", e["memory"], e["memory"]))
        e["state"] = op["state"]
    elif kind == "delete_all":  # only the *active* memories of the run (paused ones stay)
        for e in model.values():
            if e["run"] == op["run"] and e["state"] == "active":
                e["events"].append(("DELETE", e["memory"], None))
                e["state"] = "deleted"


def _copy(model: dict) -> dict:
    return {k: {**v, "events": list(v["events"])} for k, v in model.items()}


def _actual(store) -> tuple[dict, dict]:
    rows, hist = sqlite_rows(store)
    state = {mid: {"memory": r["memory"], "state": r["state"], "run": r["run_id"],
                   "events": [tuple(e) for e in hist.get(mid, [])]} for mid, r in rows.items()}
    return state, rows


def verify_after_kill(store, model: dict, log: list[dict], stats: dict) -> dict:
    """Check the store against the acknowledged log; return the new model (= verified state)."""
    assert not [e for e in log if e["k"] == "ERROR"], [e["tb"] for e in log if e["k"] == "ERROR"]
    acked = _copy(model)
    pending = None
    for entry in log:
        if entry["k"] == "BEGIN":
            pending = entry
        elif entry["k"] == "ACK":
            _apply(acked, entry)
            pending = None
            stats["acked"] += 1
            stats.setdefault("by_op", {}).setdefault(entry["op"], 0)
            stats["by_op"][entry["op"]] += 1
    # 1. the store opens cleanly (this also recovers the WAL the dead writer left behind)
    m = Memory(hash_cfg(DIMS), path=store)
    try:
        assert integrity_ok(store)
        actual, rows = _actual(store)
        # 2. acknowledged writes are all there; the in-flight one is all-or-nothing
        candidates = [acked]
        if pending is not None:
            stats["in_flight"] += 1
            applied = _copy(acked)
            if pending["op"] == "add":
                extra = [k for k in actual if k not in acked]
                assert len(extra) <= 1, f"{len(extra)} unexpected rows after an interrupted add"
                if extra:
                    _apply(applied, {**pending, "id": extra[0]})
            else:
                _apply(applied, pending)
            candidates.append(applied)
        assert actual in candidates, _diff(actual, candidates)
        if pending is not None and actual == candidates[1] and actual != candidates[0]:
            stats["in_flight_committed"] += 1
        # 3. every touched row's hash and vector belong to its text (row + blob written together)
        touched = {k for k in actual if k not in model or actual[k] != model[k]}
        if touched:
            emb = HashEmbedder(embedding_dims=DIMS)
            ids = sorted(touched)
            want = check_vectors(emb.embed([rows[k]["memory"] for k in ids]), len(ids), DIMS, "hash")
            for k, vec in zip(ids, want):
                assert rows[k]["hash"] == hashlib.md5(rows[k]["memory"].encode()).hexdigest()
                assert np.array_equal(rows[k]["vector"], vec), f"vector of {k} does not match its text"
        # 4. the FAISS index agrees with SQLite, and search finds what was written
        assert_index_agrees(store, m.store)
        live = [k for k in sorted(touched) if actual[k]["state"] == "active"][:5]
        for k in live:
            hit = m.search(actual[k]["memory"], user_id=USER, limit=1)["results"]
            assert hit and hit[0]["memory"] == actual[k]["memory"]
        if hasattr(m, "check"):
            report = m.check()
            assert report.ok, report
    finally:
        m.close()
    return actual


def _diff(actual: dict, candidates: list[dict]) -> str:
    want = candidates[0]
    missing = [k for k in want if k not in actual]
    extra = [k for k in actual if k not in want]
    changed = [k for k in want if k in actual and want[k] != actual[k]]
    return f"missing={missing[:5]} extra={extra[:5]} changed={[(k, want[k], actual[k]) for k in changed[:3]]}"


# --------------------------------------------------------------------------- trials
class Zygote:
    """A child interpreter with memlab imported that forks one workload process per trial."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.reliability._rel_support import zygote_main; zygote_main()"],
            cwd=REPO, env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def call(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        try:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=10)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()


def run_trials(tmp_path, n_stores: int, per_store: int, seed: int, max_delay: float) -> dict:
    rng = random.Random(seed)
    stats = {"trials": 0, "acked": 0, "in_flight": 0, "in_flight_committed": 0, "killed_before_ready": 0}
    zygote = Zygote()
    try:
        for s in range(n_stores):
            store = str(tmp_path / f"store{s}")
            model: dict = {}
            for t in range(per_store):
                ack = str(tmp_path / f"ack-{s}-{t}.log")
                pid = zygote.call(cmd="run", store=store, seed=rng.randrange(1 << 30), ack=ack, user=USER,
                                  dims=DIMS)["pid"]
                time.sleep(rng.uniform(0.0, max_delay))
                os.kill(pid, signal.SIGKILL)
                status = zygote.call(cmd="wait", pid=pid)["status"]
                log = read_log(ack)
                assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (status, log[-3:])
                if not any(e["k"] == "READY" for e in log):
                    stats["killed_before_ready"] += 1
                model = verify_after_kill(store, model, log, stats)
                stats["trials"] += 1
    finally:
        zygote.close()
    return stats


def test_sigkill_trials_lose_no_acknowledged_write(tmp_path):
    stats = run_trials(tmp_path, n_stores=5, per_store=12, seed=20261125, max_delay=0.3)
    print("crash trials:", stats)
    assert stats["trials"] == 60
    assert stats["acked"] > 500  # the kills really landed in the middle of busy work
    assert stats["in_flight"] > 10


def test_sigkill_of_a_fresh_interpreter(tmp_path):
    """A few trials with a full ``sys.executable -c`` child (kills also land during import/open)."""
    rng = random.Random(7)
    stats = {"acked": 0, "in_flight": 0, "in_flight_committed": 0}
    store = str(tmp_path / "store")
    model: dict = {}
    for t in range(4):
        ack = str(tmp_path / f"ack-{t}.log")
        code = ("from tests.reliability._rel_support import crash_workload; "
                f"crash_workload({store!r}, {t}, {ack!r}, {USER!r}, {DIMS})")
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=_env())
        time.sleep(rng.uniform(0.2, 2.5))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        model = verify_after_kill(store, model, read_log(ack), stats)


@pytest.mark.slow
def test_sigkill_trials_many(tmp_path):
    stats = run_trials(tmp_path, n_stores=10, per_store=50, seed=99, max_delay=0.6)
    print("crash trials (slow):", stats)
    assert stats["trials"] == 500


def test_the_checker_catches_a_lost_acknowledged_write(tmp_path):
    """The verification above is only worth something if it fails on a lost write."""
    store = str(tmp_path / "s")
    m = Memory(hash_cfg(DIMS), path=store)
    kept = m.add("kept write", user_id=USER, infer=False)["results"][0]["id"]
    m.close()
    stats = {"acked": 0, "in_flight": 0, "in_flight_committed": 0}
    good = [{"k": "READY"}, {"k": "BEGIN", "op": "add", "text": "kept write"},
            {"k": "ACK", "op": "add", "id": kept, "text": "kept write"}]
    model = verify_after_kill(store, {}, good, stats)
    lost = [{"k": "BEGIN", "op": "update", "id": kept, "text": "acknowledged but missing"},
            {"k": "ACK", "op": "update", "id": kept, "text": "acknowledged but missing"}]
    with pytest.raises(AssertionError):
        verify_after_kill(store, model, lost, stats)
    ghost = [{"k": "BEGIN", "op": "bulk", "ids": ["a1", "a2"], "texts": ["x", "y"]},
             {"k": "ACK", "op": "bulk", "ids": ["a1", "a2"], "texts": ["x", "y"]}]
    with pytest.raises(AssertionError):
        verify_after_kill(store, model, ghost, stats)
