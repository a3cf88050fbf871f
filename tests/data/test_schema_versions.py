"""Store schema revisions: HEAD created directly == Alembic chain; upgrade/downgrade/rollback."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3

import pytest

from memlab import Memory
from memlab.errors import MigrationError, StoreError
from memlab.store.faiss import revisions as S
from memlab.store.faiss.snapshots import list_snapshots
from memlab.store.faiss.schema import HEAD_REVISION, REVISIONS

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}


def _schema(db) -> dict:
    conn = sqlite3.connect(str(db))
    try:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        # whitespace and IF NOT EXISTS are presentation; the structure must be identical
        return {(t, n): re.sub(r"\s+", " ", (sql or "").replace("IF NOT EXISTS ", "")).replace("( ", "(").replace(" )", ")").strip()
                for t, n, sql in rows if n != "alembic_version"}
    finally:
        conn.close()


def _dump(db) -> str:
    """Hash of every memory-bearing table's rows (vectors included)."""
    conn = sqlite3.connect(str(db))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        h = hashlib.sha256()
        for t in ("memories", "history", "categories", "memory_categories", "configs"):
            if t in tables:
                for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2"):
                    h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        conn.close()


def _populated(tmp_path):
    store = tmp_path / "store"
    m = Memory(HASH, path=str(store))
    ids = [m.add(t, user_id="alice", infer=False, metadata={"n": i})["results"][0]["id"]
           for i, t in enumerate(["likes tea", "lives in Oslo", "has a cat"])]
    m.update(ids[0], "likes green tea")
    m.delete(ids[2])
    with m.store.transaction() as tx:
        tx.conn.execute("INSERT INTO categories (id, name, description) VALUES ('c1', 'food', 'Food')")
        tx.conn.execute("INSERT INTO memory_categories VALUES (?, 'c1')", (ids[0],))
        tx.conn.execute("INSERT INTO configs VALUES ('main', '{\"a\": 1}', NULL, NULL)")
    m.close()
    return store, ids


def test_head_created_directly_equals_alembic_chain(tmp_path):
    direct = tmp_path / "direct"
    Memory(HASH, path=str(direct)).close()
    chained = tmp_path / "chained"
    chained.mkdir()
    sqlite3.connect(str(chained / "memlab.db")).close()
    from alembic import command

    command.upgrade(S.alembic_config(chained), "head")
    assert S.current(direct) == S.current(chained) == HEAD_REVISION
    assert _schema(direct / "memlab.db") == _schema(chained / "memlab.db")
    assert [r["revision"] for r in S.history()] == list(REVISIONS)


def test_opening_a_new_or_head_store_does_not_start_alembic(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("Alembic upgrade started for a store already at head")

    monkeypatch.setattr(S, "upgrade_open_store", boom)
    Memory(HASH).close()
    Memory(HASH, path=str(tmp_path / "s")).close()
    Memory(HASH, path=str(tmp_path / "s")).close()  # re-open at head
    assert S.current(tmp_path / "s") == HEAD_REVISION


def test_upgrade_downgrade_upgrade_is_lossless(tmp_path):
    store, _ = _populated(tmp_path)
    before = _dump(store / "memlab.db")
    for target in ("0002_categories", "0001_initial"):
        change = S.downgrade(store, target)
        assert change.to_revision == target and change.snapshot is not None
    tables = {r[0] for r in sqlite3.connect(str(store / "memlab.db")).execute("SELECT name FROM sqlite_master")}
    assert "categories" not in tables and "configs" not in tables
    S.upgrade(store, "+1")
    assert S.current(store) == "0002_categories"
    S.upgrade(store)
    assert S.current(store) == HEAD_REVISION
    assert _dump(store / "memlab.db") == before
    assert S.upgrade(store).snapshot is None  # already at head: nothing done, no snapshot


def test_opening_an_old_store_snapshots_and_upgrades(tmp_path):
    store, ids = _populated(tmp_path)
    S.downgrade(store, "0001_initial")
    n_snaps = len(list_snapshots(store))
    m = Memory(HASH, path=str(store))
    assert S.current(store) == HEAD_REVISION
    assert m.get(ids[0])["memory"] == "likes green tea"
    assert [h["event"] for h in m.history(ids[2])] == ["ADD", "DELETE"]
    snaps = list_snapshots(store)
    assert len(snaps) == n_snaps + 1 and snaps[-1].revision == "0001_initial" and snaps[-1].memories == 3
    cat = m.store.conn.execute("SELECT name FROM categories").fetchall()
    assert cat == [("food",)]  # the category parked by the downgrade came back
    m.close()


def test_rollback_restores_the_snapshot(tmp_path):
    store, ids = _populated(tmp_path)
    before = _dump(store / "memlab.db")
    S.downgrade(store, "base")
    assert S.current(store) is None
    restored = S.rollback(store)
    assert restored.reason.startswith("pre-downgrade")
    assert S.current(store) == HEAD_REVISION and _dump(store / "memlab.db") == before
    with Memory(HASH, path=str(store)) as m:
        assert m.get(ids[1])["memory"] == "lives in Oslo"
    assert list_snapshots(store)[-1].reason == "pre-rollback"


def test_bad_revisions_and_paths(tmp_path):
    store, _ = _populated(tmp_path)
    with pytest.raises(MigrationError, match="Unknown revision"):
        S.upgrade(store, "9999_nope")
    S.downgrade(store, "-1")
    with pytest.raises(MigrationError, match="Cannot downgrade"):
        S.downgrade(store, "head")
    S.upgrade(store)
    with pytest.raises(MigrationError, match="No memlab store"):
        S.current(tmp_path / "nowhere")
    with pytest.raises(MigrationError, match="not found"):
        S.rollback(store, "nope")
    conn = sqlite3.connect(str(store / "memlab.db"))
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    conn.close()
    with pytest.raises(StoreError, match="newer memlab"):
        Memory(HASH, path=str(store))


def test_reset_clears_memory_categories(tmp_path):
    store, _ = _populated(tmp_path)
    with Memory(HASH, path=str(store)) as m:
        m.reset()
        conn = m.store.conn
        assert conn.execute("SELECT count(*) FROM memory_categories").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM memories").fetchone()[0] == 0


def test_alembic_ini_and_mako_ship_with_the_package():
    names = {p.name for p in S.ALEMBIC_DIR.iterdir()}
    assert {"env.py", "script.py.mako", "alembic.ini", "versions"} <= names
    data = json.loads(json.dumps(S.history()))
    assert data[-1]["head"] and data[0]["down_revision"] is None


def test_scope_indexes_are_partial_at_head_and_full_after_a_downgrade(tmp_path):
    """0006: ix_memories_user/agent/run hold only rows that have the scope; ``= ?`` lookups still use them; a
    downgrade to 0005 brings back full indexes and an upgrade the partial ones, the rows untouched."""
    store, _ = _populated(tmp_path)

    def indexes():
        conn = sqlite3.connect(str(store / "memlab.db"))
        try:
            sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE name LIKE 'ix_memories_%'"))
            entries = {name: conn.execute(f"SELECT count(*) FROM memories INDEXED BY {name} WHERE {col} IS NOT NULL"
                                          ).fetchone()[0]
                       for name, col in (("ix_memories_user", "user_id"), ("ix_memories_agent", "agent_id"))}
            plan = " ".join(r[-1] for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM memories WHERE user_id = ?", ("alice",)))
            return sql, entries, plan
        finally:
            conn.close()

    sql, entries, plan = indexes()
    for name, col in (("user", "user_id"), ("agent", "agent_id"), ("run", "run_id")):
        assert sql[f"ix_memories_{name}"].endswith(f"({col}) WHERE {col} IS NOT NULL")
    assert entries == {"ix_memories_user": 3, "ix_memories_agent": 0}  # alice's 3 rows; no agent ids
    assert "ix_memories_user" in plan
    before = _dump(store / "memlab.db")
    S.downgrade(store, "0005_context")
    sql, _, plan = indexes()
    assert sql["ix_memories_agent"].endswith("(agent_id)") and "ix_memories_user" in plan
    S.upgrade(store)
    sql, _, _ = indexes()
    assert sql["ix_memories_run"].endswith("WHERE run_id IS NOT NULL")
    assert S.current(store) == HEAD_REVISION == "0006_scope_indexes" and _dump(store / "memlab.db") == before
