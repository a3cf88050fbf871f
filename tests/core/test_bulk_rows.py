"""The FAISS engine's bulk write path (``Transaction.add_rows``: two ``executemany`` statements, vids taken from
the AUTOINCREMENT sequence, FAISS filled in one call) writes exactly what ``put_row`` + ``add_history`` one by one
write: the same SQLite rows, vids, history order and category links, the same in-memory table and search
results; and an id already in the store fails the whole transaction."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from memlab import Memory
from memlab.errors import ConflictError
from memlab.store.faiss.transaction import Transaction


def _cfg(path):
    return {"embedder": {"provider": "hash", "config": {"embedding_dims": 32}},
            "vector_store": {"provider": "faiss", "config": {"path": str(path)}}}


RECORDS = [
    {"id": f"00000000-0000-4000-8000-{i:012d}", "memory": f"memory {i} about the lake and the dog {i % 3}",
     "user_id": f"u{i % 2}", "agent_id": "a" if i % 3 == 0 else None, "actor_id": "Ana" if i % 2 else None,
     "role": "user", "metadata": {"i": i, "tag": ["x", i]} if i % 4 else {},
     "created_at": f"2024-01-{1 + i % 28:02d}T10:00:00+00:00", "updated_at": f"2024-02-{1 + i % 28:02d}T10:00:00+00:00",
     "categories": ["travel", f"c{i % 2}"] if i % 5 == 0 else None,
     "context": f"Ana: before {i}\nBob: memory {i} about the lake\nAna: after {i}" if i % 3 == 1 else None,
     "expiration_date": "2031-01-01" if i == 7 else None}
    for i in range(12)
]


def _dump(path) -> tuple:
    conn = sqlite3.connect(str(path / "memlab.db"))
    try:
        mems = conn.execute("SELECT * FROM memories ORDER BY vid").fetchall()
        hist = conn.execute("SELECT memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, "
                            "actor_id, role, hseq FROM history ORDER BY hseq").fetchall()
        links = conn.execute("SELECT memory_id, category_id FROM memory_categories ORDER BY 1, 2").fetchall()
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'memories'").fetchone()
    finally:
        conn.close()
    return mems, hist, links, seq


def _write(path, bulk: bool, monkeypatch) -> Memory:
    m = Memory(_cfg(path))
    m.add_records([{"memory": f"old {i}", "user_id": "u0"} for i in range(5)])
    m.reset()  # the sequence stays ahead of the (now empty) table: new vids must continue it
    with monkeypatch.context() as mp:
        if not bulk:
            mp.delattr(Transaction, "add_rows")
        m.add_records(RECORDS)
        m.add_records([{"memory": "one more", "user_id": "u1"}])  # a single row: put_row either way
    return m


def test_bulk_rows_equal_row_by_row(tmp_path, monkeypatch):
    a, b = tmp_path / "bulk", tmp_path / "rows"
    ma, mb = _write(a, True, monkeypatch), _write(b, False, monkeypatch)
    try:
        mems_a, hist_a, links_a, seq_a = _dump(a)
        mems_b, hist_b, links_b, seq_b = _dump(b)
        # the last row ("one more") has a fresh id and timestamp in each store: compare the imported ones
        assert mems_a[:-1] == mems_b[:-1]
        assert [r[0] for r in mems_a] == list(range(6, 6 + len(RECORDS) + 1))  # vids continue past the reset
        assert seq_a == seq_b == (6 + len(RECORDS),)
        assert hist_a[:-1] == hist_b[:-1] and len(hist_a) == len(hist_b) == len(RECORDS) + 1
        assert links_a == links_b and len(links_a) == 6
        pa = ma.to_pandas(include_deleted=True).drop(columns=["created_at", "updated_at"]).iloc[:-1]
        pb = mb.to_pandas(include_deleted=True).drop(columns=["created_at", "updated_at"]).iloc[:-1]
        assert pa.equals(pb)
        assert ma.store.index.ntotal == mb.store.index.ntotal == len(RECORDS) + 1
        known = {r["id"] for r in RECORDS}
        for q in ("lake dog 1", "before 4", "memory 7"):
            hits_a = [(r["id"] if r["id"] in known else "new", r["score"]) for r in ma.search(q, user_id="u1")["results"]]
            hits_b = [(r["id"] if r["id"] in known else "new", r["score"]) for r in mb.search(q, user_id="u1")["results"]]
            assert hits_a == hits_b and hits_a
    finally:
        ma.close()
        mb.close()
    # and a re-open reads the same vectors back from SQLite
    m = Memory(_cfg(a))
    try:
        pos = m.store.table.pos_by_id[RECORDS[4]["id"]]
        assert np.array_equal(m.store.table.vecs[pos], ma.embed([RECORDS[4]["memory"]])[0])
    finally:
        m.close()


def test_bulk_insert_of_an_existing_id_writes_nothing(tmp_path):
    m = Memory(_cfg(tmp_path))
    try:
        m.add_records(RECORDS[:3])
        before = _dump(tmp_path)
        rows = [({**RECORDS[5], "state": "active", "hash": "h", "metadata": {}}, m.embed(["x"])[0]),
                ({**RECORDS[1], "state": "active", "hash": "h", "metadata": {}}, m.embed(["y"])[0])]  # exists
        with pytest.raises(ConflictError):
            with m.store.transaction() as tx:
                tx.add_rows(rows)
        assert _dump(tmp_path) == before
        assert m.get(RECORDS[5]["id"]) is None and len(m.get_all(user_id="u1")["results"]) == 1
    finally:
        m.close()
