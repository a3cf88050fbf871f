"""Concurrency on one PostgreSQL database for real: client processes writing at once, two clients updating
the same memory, two clients adding the same id, and the typed errors of lock and statement timeouts."""

from __future__ import annotations

import threading
import time

import pytest

from memlab import Memory
from memlab.errors import ConflictError, MemlabError, StoreError, ValidationError
from tests.pg.procs import assert_consistent, launch, no_client_outlives_its_test, read_acks  # noqa: F401
from tests.pg.support import pg_config


def test_four_processes_write_at_once_and_lose_nothing(pg_url, pg_collection, tmp_path):
    Memory(pg_config(pg_url, pg_collection)).close()  # create the tables once, before the race
    procs = [(launch("writer", pg_url, pg_collection, tmp_path / f"acks{k}", f"p{k}", 40, 30_000,
                     log=tmp_path / f"log{k}"),
              tmp_path / f"log{k}") for k in range(4)]
    for proc, log in procs:
        assert proc.wait(timeout=300) == 0, log.read_text()
    acks = read_acks(*(tmp_path / f"acks{k}" for k in range(4)))
    assert acks.errors == [] and len(acks.updates) >= 4 * 4
    rows, _ = assert_consistent(pg_url, pg_collection, acks)
    assert set(rows) == set(acks.adds)  # every process finished: exactly the acknowledged memories
    with Memory(pg_config(pg_url, pg_collection)) as m:
        for k in range(4):
            texts = {r["memory"] for r in m.get_all(user_id=f"p{k}", limit=1000)["results"]}
            assert texts == {rows[mid]["memory"] for mid in acks.adds if acks.adds[mid].startswith(f"p{k} ")}
        assert m.check().ok


def test_two_processes_updating_one_memory_lose_no_update(pg_url, pg_collection, tmp_path):
    with Memory(pg_config(pg_url, pg_collection)) as m:
        mid = m.add("the shared memory", user_id="u", infer=False)["results"][0]["id"]
        procs = [launch("updater", pg_url, pg_collection, tmp_path / f"acks{k}", f"client{k}", mid, 15,
                        log=tmp_path / f"log{k}") for k in range(2)]
        for k, proc in enumerate(procs):
            assert proc.wait(timeout=300) == 0, (tmp_path / f"log{k}").read_text()
        acks = read_acks(tmp_path / "acks0", tmp_path / "acks1")
        assert acks.untyped == [] and acks.errors == [] and len(acks.updates) == 30
        _, chains = assert_consistent(pg_url, pg_collection, acks)  # each UPDATE starts from the one before it
        events = chains[mid]
        assert [e["event"] for e in events] == ["ADD"] + ["UPDATE"] * 30
        assert {e["new"] for e in events[1:]} == {text for _, text in acks.updates}  # both clients' 15 each
        final = m.get(mid)["memory"]
        assert final == events[-1]["new"] and final in {"client0 version 14", "client1 version 14"}
        assert [h["new_memory"] for h in m.history(mid)] == [e["new"] for e in events]


def _wait_for_a_lock_waiter(url: str, table: str, timeout: float = 60.0) -> bool:
    """True once another session waits for a lock in a statement on ``table`` (polled, never slept on
    blindly): proof that two clients really collide, not merely run one after the other."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND position(%s in query) > 0",
                             (table,)).fetchone()[0]
            if n:
                return True
            time.sleep(0.01)
    return False


def test_two_clients_adding_the_same_id_never_overwrite_each_other(pg_url, pg_collection):
    """add_records with an id another client is inserting at the same moment: one wins, the other gets a
    typed error and writes nothing (before the fix the second silently overwrote the first, with two ADDs).

    Forced, not timed: a's transaction (row written, not committed) stays open until b is seen waiting
    for a's row lock; only then does a commit."""
    rid = "00000000-0000-4000-8000-000000000015"
    with Memory(pg_config(pg_url, pg_collection)) as a, Memory(pg_config(pg_url, pg_collection)) as b:
        inside, outcome, collided = threading.Event(), {}, []

        def hold_until_b_waits(tx, written):  # runs inside a's transaction, after a's insert
            inside.set()
            collided.append(_wait_for_a_lock_waiter(pg_url, pg_collection))

        def run(name, mem, **kw):
            try:
                outcome[name] = mem.add_records([{"id": rid, "memory": f"written by {name}", "user_id": "u"}], **kw)
            except MemlabError as exc:
                outcome[name] = exc

        first = threading.Thread(target=run, args=("a", a), kwargs={"in_transaction": hold_until_b_waits})
        first.start()
        assert inside.wait(30)
        run("b", b)  # blocks on a's uncommitted row until a commits
        first.join()
        assert collided == [True], "b never waited for a's uncommitted row: the race did not happen"
        assert outcome["a"] == [rid]
        assert isinstance(outcome["b"], (ConflictError, ValidationError)), outcome["b"]
        assert "nothing was written" in str(outcome["b"]) or "already exists" in str(outcome["b"])
        assert a.get(rid)["memory"] == "written by a"
        assert [(h["event"], h["new_memory"]) for h in a.history(rid)] == [("ADD", "written by a")]
        b.add_records([{"id": rid, "memory": "b retries", "user_id": "u"}], on_conflict="skip")  # retry: skipped
        assert b.get(rid)["memory"] == "written by a"
    assert_consistent(pg_url, pg_collection)


def _lock_row(url: str, table: str, mid: str):
    """Another client holding memory ``mid``'s row lock in an open transaction (plain psycopg)."""
    import psycopg

    conn = psycopg.connect(url)
    conn.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", (mid,))
    return conn


def test_a_lock_wait_past_busy_timeout_is_a_typed_error(pg_url, pg_collection):
    with Memory(pg_config(pg_url, pg_collection, busy_timeout_ms=300)) as m:
        mid = m.add("locked elsewhere", user_id="u", infer=False)["results"][0]["id"]
        other = _lock_row(pg_url, pg_collection, mid)
        try:
            with pytest.raises(StoreError, match=r"Timed out after 300 ms waiting for a row lock.*busy_timeout_ms"):
                m.update(mid, "never applied")
        finally:
            other.rollback()
            other.close()
        assert m.get(mid)["memory"] == "locked elsewhere" and len(m.history(mid)) == 1
        m.update(mid, "applied once the lock is free")
        assert m.get(mid)["memory"] == "applied once the lock is free"


def test_a_statement_timeout_is_a_typed_error(pg_url, pg_collection):
    """The server's statement_timeout (here from the connection string) cancels a statement: StoreError, no write."""
    from psycopg.conninfo import make_conninfo

    with Memory(pg_config(pg_url, pg_collection)) as setup:  # tables and row made without the short timeout
        mid = setup.add("slow to change", user_id="u", infer=False)["results"][0]["id"]
    limited = make_conninfo(pg_url, options="-c statement_timeout=1000")
    with Memory(pg_config(limited, pg_collection, busy_timeout_ms=20_000)) as m:
        other = _lock_row(pg_url, pg_collection, mid)
        try:
            with pytest.raises(StoreError, match="cancelled the statement.*nothing was written.*statement_timeout"):
                m.update(mid, "never applied")
        finally:
            other.rollback()
            other.close()
        assert m.get(mid)["memory"] == "slow to change" and len(m.history(mid)) == 1


@pytest.fixture(params=["faiss", "pgvector"])
def shared_store(request, tmp_path):
    """A config two Memory objects open at once: an on-disk FAISS store, or a PostgreSQL collection."""
    if request.param == "faiss":
        return {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}},
                "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "store")}}}
    return pg_config(request.getfixturevalue("pg_url"), request.getfixturevalue("pg_collection"))


def test_an_update_racing_another_keeps_its_text(shared_store):
    """A reads the memory, B changes its text and commits, then A writes back the text A had read
    (a revert). A embedded nothing, as its text looked unchanged; it must still apply, not fail.

    Forced, not timed: B's change is committed only after A has read the row (A's read is instrumented)
    and A is at its own transaction; on PostgreSQL, only once A is seen waiting for B's row lock."""
    from memlab.store.rows import apply_update

    with Memory(shared_store) as a, Memory(shared_store) as b:
        mid = a.add("original text", user_id="u", infer=False)["results"][0]["id"]
        b_holds, b_go, a_read, a_writes, errors = (threading.Event(), threading.Event(), threading.Event(),
                                                   threading.Event(), [])
        seen: list[str] = []
        real_get, real_transaction = a.store.get, a.store.transaction

        def a_get(memory_id):  # A's read of the row, before its transaction
            row = real_get(memory_id)
            seen.append(row["memory"])
            a_read.set()
            return row

        def a_transaction(*args, **kwargs):
            a_writes.set()  # A has read the row and now asks for the write lock B holds
            return real_transaction(*args, **kwargs)

        a.store.get, a.store.transaction = a_get, a_transaction

        def b_changes_text():
            with b.store.transaction() as tx:  # B's change, committed only once A is waiting for the row
                apply_update(tx, tx.get_row(mid), "text by b", None, b.embed(["text by b"])[0], "2026-01-01T00:00:00")
                b_holds.set()
                b_go.wait(60)

        def a_reverts():
            try:
                a.update(mid, "original text")
            except Exception as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

        tb = threading.Thread(target=b_changes_text)
        tb.start()
        assert b_holds.wait(30)
        ta = threading.Thread(target=a_reverts)
        ta.start()
        assert a_read.wait(30) and a_writes.wait(30)
        if shared_store["vector_store"]["provider"] == "pgvector":
            url = shared_store["vector_store"]["config"]["connection_string"]
            assert _wait_for_a_lock_waiter(url, a.store.table_name), "A never waited for B's row lock"
        b_go.set()
        tb.join()
        ta.join()
        del a.store.get, a.store.transaction
        assert seen == ["original text"]  # A read the row before B's commit: the race happened
        assert errors == []
        assert a.get(mid)["memory"] == "original text"
        assert [(h["old_memory"], h["new_memory"]) for h in a.history(mid)] == [
            (None, "original text"), ("original text", "text by b"), ("text by b", "original text")]
        assert a.search("original text", user_id="u")["results"][0]["id"] == mid
