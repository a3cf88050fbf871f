"""OpenMemory fidelity (issue 13, items 2 and 3): categories and states of every memory survive import,
show on items, filter, export, verify and round-trip; the report lists where every table/column went.

Follows OpenMemory's own API (mem0ai/mem0 ``openmemory/api/app/routers/memories.py``: memory items
carry ``categories`` as a list of names and ``state``; ``categories`` filters list memories by
category name) and its schema ``openmemory/api/app/models.py``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from memlab import Memory
from memlab.migrate import export, import_export, import_openmemory, verify_migration

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
ALL_STATES = {"state": {"in": ["active", "paused", "archived", "deleted"]}}


def _every_item(m: Memory) -> dict:
    """Every memory of every state, as items (an explicit all-scopes read)."""
    return {r["id"]: r for r in m.get_all(all_scopes=True, filters=ALL_STATES, limit=100_000)["results"]}


def _source_columns(db) -> set:
    conn = sqlite3.connect(str(db))
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {(t, c[1]) for t in tables for c in conn.execute(f'PRAGMA table_info("{t}")')} | {(t, None) for t in tables}
    finally:
        conn.close()


# --------------------------------------------------------------------------- the shared fixture
@pytest.fixture
def om(shared_dir):
    folder = shared_dir / "fixtures" / "openmemory"
    return folder / "openmemory.db", json.loads((folder / "expected.json").read_text())


def test_categories_and_states_of_every_memory_round_trip(om, tmp_path):
    db, exp = om
    m = Memory(HASH)
    report = import_openmemory(db, into=m)
    items = _every_item(m)
    assert len(items) == len(exp["memories"])
    with_categories = 0
    for e in exp["memories"]:
        item = items[e["id"]]
        assert item["state"] == e["state"] and item["categories"] == sorted(e["categories"]), e["id"]
        with_categories += bool(e["categories"])
        if e["state"] != "deleted":
            assert m.get(e["id"])["categories"] == sorted(e["categories"])
    assert with_categories > 0  # the fixture really has categorised memories

    # filterable, per user, with OpenMemory's category names
    for user in {e["user_id"] for e in exp["memories"]}:
        for cat in exp["categories"]:
            want = {e["id"] for e in exp["memories"]
                    if e["user_id"] == user and cat in e["categories"] and e["state"] == "active"}
            got = {r["id"] for r in m.get_all(user_id=user, filters={"categories": {"contains": cat}})["results"]}
            assert got == want, (user, cat)
        # state filters return the non-active ones (default reads stay active-only)
        for state in ("paused", "archived", "deleted"):
            want = {e["id"] for e in exp["memories"] if e["user_id"] == user and e["state"] == state}
            got = {r["id"] for r in m.get_all(user_id=user, filters={"state": state})["results"]}
            assert got == want and all(r["state"] == state for r in m.get_all(user_id=user, filters={"state": state})["results"])
        assert all(r["state"] == "active" for r in m.get_all(user_id=user)["results"])

    # export -> import -> verify: categories and states hash-checked memory by memory
    for fmt in ("jsonl", "parquet"):
        path = tmp_path / f"om.{fmt}"
        export(m, path, format=fmt)
        copy = Memory(HASH)
        import_export(path, into=copy)
        check = verify_migration(m, copy)
        assert check.ok and check.same == len(exp["memories"]) and "categories" in check.fields
        assert {i: (r["state"], r["categories"]) for i, r in _every_item(copy).items()} == \
               {i: (r["state"], r["categories"]) for i, r in items.items()}
        descr = dict(copy.store.conn.execute("SELECT name, description FROM categories").fetchall())
        assert descr == dict(m.store.conn.execute("SELECT name, description FROM categories").fetchall())

    # the report names every source table and column with its fate
    listed = {(f["table"], f["column"]) for f in report.fates}
    assert listed == _source_columns(db)
    assert all(f["fate"] for f in report.fates)
    assert "source tables:" in report.summary() and "memory_access_logs" in report.summary()
    assert len(report.fates_frame()) == len(report.fates)


# --------------------------------------------------------------------------- a database built here
OM_DDL = [
    "CREATE TABLE users (id UUID NOT NULL PRIMARY KEY, user_id VARCHAR NOT NULL, name VARCHAR, email VARCHAR, "
    "metadata JSON, created_at DATETIME, updated_at DATETIME)",
    "CREATE TABLE apps (id UUID NOT NULL PRIMARY KEY, owner_id UUID NOT NULL, name VARCHAR NOT NULL, "
    "description VARCHAR, metadata JSON, is_active BOOLEAN, created_at DATETIME, updated_at DATETIME)",
    "CREATE TABLE categories (id UUID NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, description VARCHAR, "
    "created_at DATETIME, updated_at DATETIME)",
    # `importance` is not an OpenMemory column: a newer/forked schema; it must be reported, not dropped silently
    "CREATE TABLE memories (id UUID NOT NULL PRIMARY KEY, user_id UUID NOT NULL, app_id UUID NOT NULL, "
    "content VARCHAR NOT NULL, vector VARCHAR, metadata JSON, state VARCHAR(8), created_at DATETIME, "
    "updated_at DATETIME, archived_at DATETIME, deleted_at DATETIME, importance INTEGER)",
    "CREATE TABLE memory_categories (memory_id UUID NOT NULL, category_id UUID NOT NULL, "
    "PRIMARY KEY (memory_id, category_id))",
    "CREATE TABLE memory_status_history (id UUID NOT NULL PRIMARY KEY, memory_id UUID NOT NULL, "
    "changed_by UUID NOT NULL, old_state VARCHAR(8) NOT NULL, new_state VARCHAR(8) NOT NULL, changed_at DATETIME)",
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)",  # OpenMemory's own migrations
]


def _hex() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def small_om(tmp_path):
    db = tmp_path / "openmemory.db"
    conn = sqlite3.connect(str(db))
    for ddl in OM_DDL:
        conn.execute(ddl)
    user, app = _hex(), _hex()
    conn.execute("INSERT INTO users VALUES (?, 'kim', 'Kim', NULL, '{}', '2025-01-01 10:00:00', NULL)", (user,))
    conn.execute("INSERT INTO apps VALUES (?, ?, 'openmemory', NULL, '{}', 1, '2025-01-01 10:00:00', NULL)", (app, user))
    cats = {name: _hex() for name in ("work", "health", "travel")}
    for name, cid in cats.items():
        conn.execute("INSERT INTO categories VALUES (?, ?, ?, '2025-01-01 10:00:00', NULL)", (cid, name, f"about {name}"))
    rows = [("Works at a bakery", "active", ["work"]), ("Runs every morning", "paused", ["health"]),
            ("Visited Lisbon", "archived", ["travel", "work"]), ("Old job at a bank", "deleted", ["work"]),
            ("No category here", "active", [])]
    ids = []
    for text, state, names in rows:
        mid = _hex()
        ids.append(str(uuid.UUID(mid)))
        conn.execute("INSERT INTO memories VALUES (?, ?, ?, ?, NULL, '{}', ?, '2025-02-01 09:00:00', NULL, ?, ?, 3)",
                     (mid, user, app, text, state, "2025-03-01 09:00:00" if state == "archived" else None,
                      "2025-03-02 09:00:00" if state == "deleted" else None))
        for name in names:
            conn.execute("INSERT INTO memory_categories VALUES (?, ?)", (mid, cats[name]))
        conn.execute("INSERT INTO memory_status_history VALUES (?, ?, ?, 'deleted', 'active', '2025-02-01 09:00:00')",
                     (_hex(), mid, user))
    conn.execute("INSERT INTO memory_categories VALUES (?, ?)", (ids[4].replace("-", ""), _hex()))  # dangling link
    conn.execute("INSERT INTO alembic_version VALUES ('0b53c747049a')")
    conn.commit()
    conn.close()
    return db, ids, rows


def test_small_openmemory_db_categories_states_and_report(small_om, tmp_path):
    db, ids, rows = small_om
    m = Memory(HASH)
    report = import_openmemory(db, into=m)
    items = _every_item(m)
    for mid, (text, state, names) in zip(ids, rows):
        assert items[mid]["memory"] == text and items[mid]["state"] == state
        assert items[mid]["categories"] == sorted(names)
    # OpenMemory's ids and descriptions of categories are kept
    assert dict(m.store.conn.execute("SELECT name, description FROM categories").fetchall()) == \
           {"work": "about work", "health": "about health", "travel": "about travel"}
    work = m.get_all(user_id="kim", filters={"categories": {"contains": "work"}})["results"]
    assert [r["memory"] for r in work] == ["Works at a bakery"]  # archived/deleted ones stay out by default
    work_any = m.get_all(user_id="kim", filters={"categories": {"contains": "work"}, **ALL_STATES})["results"]
    assert sorted(r["memory"] for r in work_any) == ["Old job at a bank", "Visited Lisbon", "Works at a bakery"]
    # equality compares whole values, so a scalar never equals the list: use contains (docs/engine.md)
    assert m.search("bakery", user_id="kim", filters={"categories": "work"})["results"] == []
    hits = m.search("travel", user_id="kim", filters={"categories": {"contains": "travel"}, "state": "archived"})
    assert [r["memory"] for r in hits["results"]] == ["Visited Lisbon"]

    # nothing silently: the unknown column, the unknown table and the dangling link are all reported
    fates = {(f["table"], f["column"]): f["fate"] for f in report.fates}
    assert fates[("memories", "importance")].startswith("NOT IMPORTED")
    assert "does not know" in fates[("alembic_version", None)]
    assert any("memories.importance" in w for w in report.warnings)
    assert any("alembic_version" in w for w in report.warnings)
    assert report.repair_counts() == {"category_missing": 1}
    verbatim = json.loads(m.store.conn.execute(
        "SELECT value FROM configs WHERE key = 'openmemory:table:alembic_version'").fetchone()[0])
    assert verbatim == [{"version_num": "0b53c747049a"}]
    assert {(t, c) for t, c in fates} == _source_columns(db)

    # round trip through an export keeps categories and states
    export(m, tmp_path / "small.jsonl")
    copy = Memory(HASH)
    import_export(tmp_path / "small.jsonl", into=copy)
    assert verify_migration(m, copy).ok
    assert {i: (r["state"], r["categories"]) for i, r in _every_item(copy).items()} == \
           {i: (r["state"], r["categories"]) for i, r in items.items()}


def test_categories_follow_updates_and_state_changes(small_om):
    db, ids, _ = small_om
    m = Memory(HASH)
    import_openmemory(db, into=m)
    m.update(ids[0], "Works at a bakery in Porto")  # text changes keep the categories
    assert m.get(ids[0])["categories"] == ["work"]
    m.set_state(ids[1], "active")
    assert m.get(ids[1])["state"] == "active" and m.get(ids[1])["categories"] == ["health"]
    m.add_records([{"id": str(uuid.uuid4()), "memory": "Booked a flight", "user_id": "kim",
                    "categories": ["travel", "plans"]}])
    got = m.get_all(user_id="kim", filters={"categories": {"contains": "plans"}})["results"]
    assert [r["categories"] for r in got] == [["plans", "travel"]]


def test_categories_reach_a_second_handle_and_survive_reopening(small_om, tmp_path):
    db, ids, rows = small_om
    store = str(tmp_path / "store")
    a, b = Memory(HASH, path=store), Memory(HASH, path=store)
    import_openmemory(db, into=a)  # written through a; b catches up from SQLite (rows + links)
    want = {mid: sorted(names) for mid, (_, _, names) in zip(ids, rows)}
    assert {i: r["categories"] for i, r in _every_item(b).items()} == want
    a.close()
    b.close()
    with Memory(HASH, path=store) as again:
        assert {i: r["categories"] for i, r in _every_item(again).items()} == want
        assert [r["memory"] for r in again.get_all(user_id="kim", filters={"categories": {"contains": "work"}})
                ["results"]] == ["Works at a bakery"]
