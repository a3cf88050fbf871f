"""Bulk writes by COPY on PostgreSQL (add_records, add(infer=False)) leave exactly what the row-by-row path
leaves: the same rows (vid order, tokens, vectors), history, category links; and stay one transaction."""

from __future__ import annotations

import psycopg
import pytest

from memlab import Memory
from memlab.errors import ConflictError, ValidationError
from memlab.store.pg.transaction import PgTransaction
from tests.pg.support import drop_collection, new_collection, pg_config


def _records(n: int = 60) -> list[dict]:
    out = []
    for i in range(n):
        rec = {"id": f"00000000-0000-4000-8000-{i:012d}", "memory": f"memory {i} about topic {i % 7} é ünï",
               "user_id": f"u{i % 3}", "metadata": {"i": i, "tag": ["a", "b"][i % 2], "nested": {"x": [i, None]}},
               "created_at": f"2024-01-{1 + i % 28:02d}T00:00:00+00:00"}
        if i % 5 == 0:
            rec.update(actor_id=f"actor{i}", role="user", context=f"context window {i}")
        if i % 4 == 0:
            rec["categories"] = ["food", f"c{i % 3}"]
        if i % 9 == 0:
            rec.update(state="archived", archived_at="2024-02-01T00:00:00+00:00")
        if i % 11 == 0:
            rec.update(memory_type="procedural_memory", expiration_date="2999-01-01")
        out.append(rec)
    return out


def _dump(url: str, t: str) -> dict:
    """Everything a collection holds, minus per-write random ids (history uuids)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT vid, id, memory, hash, metadata, user_id, agent_id, run_id, actor_id, role, "
                            f"memory_type, state, created_at, updated_at, archived_at, deleted_at, expiration_date, "
                            f"context, tokens, embedding::text FROM {t} ORDER BY vid").fetchall()
        first = rows[0][0] if rows else 0
        history = conn.execute(f"SELECT memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, "
                               f"actor_id, role FROM {t}_history ORDER BY hseq").fetchall()
        links = conn.execute(f"SELECT mc.memory_id, c.name FROM {t}_memory_categories mc JOIN {t}_categories c "
                             "ON c.id = mc.category_id ORDER BY 1, 2").fetchall()
        cats = conn.execute(f"SELECT id, name FROM {t}_categories ORDER BY name").fetchall()
    return {"rows": [(r[0] - first, *r[1:]) for r in rows], "history": history, "links": links, "categories": cats}


@pytest.fixture
def two_collections(pg_url):
    names = [new_collection(), new_collection()]
    yield names
    for n in names:
        drop_collection(pg_url, n)


def _row_by_row(monkeypatch):
    """The engine without its bulk methods: rows.apply_adds / existing_ids fall back to put_row one by one."""
    monkeypatch.delattr(PgTransaction, "add_rows")
    monkeypatch.delattr(PgTransaction, "existing_ids")


def test_add_records_by_copy_equals_row_by_row(pg_url, two_collections, monkeypatch):
    copy_t, rows_t = two_collections
    recs = _records()
    replace = [{**recs[3], "memory": "replaced three"}, {"memory": "fresh", "user_id": "u9",
                                                         "id": "00000000-0000-4000-8000-999999999999",
                                                         "created_at": "2024-03-01T00:00:00+00:00"},
               {**recs[10], "memory": "replaced ten", "categories": ["drink"]}]
    calls = {"copy": 0}
    real = PgTransaction.add_rows

    def counting(self, pairs, **k):
        calls["copy"] += bool(pairs)
        return real(self, pairs, **k)

    monkeypatch.setattr(PgTransaction, "add_rows", counting)
    with Memory(pg_config(pg_url, copy_t)) as m:
        m.add_records(recs)
        m.add_records(replace, on_conflict="replace")
        m.add_records(recs[:5], on_conflict="skip")
    assert calls["copy"] == 2  # all 60 rows at once; then the one new row between two replaced ones
    monkeypatch.undo()
    _row_by_row(monkeypatch)
    with Memory(pg_config(pg_url, rows_t)) as m:
        m.add_records(recs)
        m.add_records(replace, on_conflict="replace")
        m.add_records(recs[:5], on_conflict="skip")
    a, b = _dump(pg_url, copy_t), _dump(pg_url, rows_t)
    assert len(a["rows"]) == 61 and len(a["history"]) == 63 and a["links"]
    assert a == b


def test_add_without_inference_by_copy_equals_row_by_row(pg_url, two_collections, monkeypatch):
    copy_t, rows_t = two_collections
    msgs = [{"role": "user" if i % 2 else "assistant", "content": f"message {i} about the trip to Lyon",
             **({"name": "alice"} if i % 3 == 0 else {})} for i in range(40)]
    results = []
    for t, bulk in ((copy_t, True), (rows_t, False)):
        if not bulk:
            _row_by_row(monkeypatch)
        with Memory(pg_config(pg_url, t)) as m:
            out = m.add(msgs, user_id="alice", metadata={"src": "chat"}, infer=False)["results"]
            results.append((out, m.get_all(user_id="alice", limit=100)["results"],
                            m.search("trip to Lyon", user_id="alice", limit=5)["results"]))
    (out_a, all_a, hits_a), (out_b, all_b, hits_b) = results
    strip = lambda items: [{k: v for k, v in i.items() if k not in ("id", "created_at", "updated_at")} for i in items]
    assert len(out_a) == 40 and strip(out_a) == strip(out_b)
    assert strip(all_a) == strip(all_b)
    assert [(h["memory"], round(h["score"], 6)) for h in hits_a] == [(h["memory"], round(h["score"], 6)) for h in hits_b]
    a, b = _dump(pg_url, copy_t), _dump(pg_url, rows_t)
    drop_ids = lambda d: [(r[0],) + r[2:12] + r[16:] for r in d["rows"]]  # ids and timestamps differ between the runs
    assert drop_ids(a) == drop_ids(b)
    assert [h[1:4] + h[6:] for h in a["history"]] == [h[1:4] + h[6:] for h in b["history"]]


def test_a_failed_bulk_write_writes_nothing(pg_url, pg_collection):
    """An id collision inside the COPY (another client's row) rolls back the whole call."""
    with Memory(pg_config(pg_url, pg_collection)) as m:
        m.add_records(_records(5))
        before = _dump(pg_url, pg_collection)
        fresh = [{"memory": f"new {i}", "user_id": "u0"} for i in range(20)]
        with pytest.raises(ValidationError, match="already exists"):
            m.add_records(fresh + [_records(5)[2]])
        assert _dump(pg_url, pg_collection) == before
        dup = ({**_records(1)[0], "memory": "dup"}, m.embed(["dup"])[0])
        many = [({"id": f"10000000-0000-4000-8000-{i:012d}", "memory": f"x {i}", "user_id": "u0", "metadata": {},
                  "state": "active", "created_at": "2024-01-01T00:00:00+00:00"}, m.embed([f"x {i}"])[0])
                for i in range(30)]
        for pairs in ([dup], many + [dup]):  # INSERT path (a few rows) and COPY path
            with pytest.raises(ConflictError):  # a row no existence check saw (as a concurrent writer's would be)
                with m.store.transaction() as tx:
                    tx.add_rows(pairs)
            assert _dump(pg_url, pg_collection) == before

