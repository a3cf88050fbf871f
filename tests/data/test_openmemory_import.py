"""OpenMemory SQLite: users, apps, states, timestamps, categories, status history, configs."""

from __future__ import annotations

import json
import sqlite3

import pytest

from memlab import Memory
from memlab.errors import MigrationError
from memlab.migrate import import_openmemory

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}


@pytest.fixture
def om(shared_dir):
    folder = shared_dir / "fixtures" / "openmemory"
    return folder / "openmemory.db", json.loads((folder / "expected.json").read_text())


def test_every_openmemory_memory_is_imported(om):
    db, exp = om
    m = Memory(HASH)
    report = import_openmemory(db, into=m)
    assert report.ok and len(report.imported) == len(exp["memories"])
    assert report.counts["state"] == exp["counts_by_state"]
    cats = dict(m.store.conn.execute("SELECT name, description FROM categories").fetchall())
    assert sorted(cats) == exp["categories"]
    for e in exp["memories"]:
        row = m.store.get(e["id"])
        assert row["memory"] == e["content"] and row["user_id"] == e["user_id"] and row["state"] == e["state"]
        assert row["metadata"] == {**e["metadata"], "app": e["app"], "app_id": e["app_id"]}
        for key in ("created_at", "updated_at", "archived_at", "deleted_at"):
            assert row[key] == e[key], (e["id"], key)
        got_cats = [r[0] for r in m.store.conn.execute(
            "SELECT c.name FROM memory_categories mc JOIN categories c ON c.id = mc.category_id "
            "WHERE mc.memory_id = ? ORDER BY c.name", (e["id"],))]
        assert got_cats == sorted(e["categories"])
        hist = m.history(e["id"])
        assert len(hist) == len(e["status_history"])
        assert hist[0]["event"] == "ADD"
        for h, s in zip(hist[1:], e["status_history"][1:]):
            assert h["updated_at"] == s["changed_at"] and h["actor_id"] == s["changed_by"]
            assert h["event"] == ("DELETE" if s["new_state"] == "deleted" else f"STATE:{s['old_state']}->{s['new_state']}")
        assert (m.get(e["id"]) is None) == (e["state"] == "deleted")
    # paused/archived/deleted memories stay out of default searches and listings
    active = {e["id"] for e in exp["memories"] if e["state"] == "active"}
    listed = {r["id"] for u in exp["users"] for r in m.get_all(user_id=u["user_id"])["results"]}
    assert listed == active
    configs = {k: json.loads(v) for k, v in m.store.conn.execute("SELECT key, value FROM configs")}
    assert configs["openmemory:config:main"] == exp["configs"]["main"]
    assert {a["name"] for a in configs["openmemory:apps"]} == {a["name"] for a in exp["apps"]}
    assert {u["user_id"] for u in configs["openmemory:users"]} == {u["user_id"] for u in exp["users"]}
    assert any("memory_access_logs" in w for w in report.warnings)


def test_not_an_openmemory_database(tmp_path):
    bad = tmp_path / "x.db"
    conn = sqlite3.connect(str(bad))
    conn.execute("CREATE TABLE something (a)")
    conn.close()
    m = Memory(HASH)
    with pytest.raises(MigrationError, match="lacks OpenMemory table"):
        import_openmemory(bad, into=m)
    (tmp_path / "junk.db").write_bytes(b"junk" * 300)
    with pytest.raises(MigrationError, match="SQLite"):
        import_openmemory(tmp_path / "junk.db", into=m)
    with pytest.raises(MigrationError, match="does not exist"):
        import_openmemory(tmp_path / "none.db", into=m)
    assert m.store.count() == 0
