"""The rows saved beside memlab.db at close (memlab.store.faiss.table_cache): a re-open from them gives exactly what a
read from SQLite gives, and any change to the database since -- by memlab in another process, by a reset, or by
another tool editing the file -- means a normal read."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd

from memlab import Memory
from memlab.doctor import check_store
from memlab.store.faiss.table_cache import FILE, SEAL


def _cfg(path):
    return {"embedder": {"provider": "hash", "config": {"embedding_dims": 32}},
            "vector_store": {"provider": "faiss", "config": {"path": str(path)}}}


def _fill(m: Memory) -> list[str]:
    msgs = [{"role": "user", "content": f"went hiking with the dog near lake {j}", "name": "Ana"} if j % 2 == 0
            else {"role": "assistant", "content": f"the invoice {j} is overdue"} for j in range(6)]
    ids = [r["id"] for r in m.add(msgs, user_id="u0", infer=False)["results"]]
    ids.append(m.add("Lisbon in May", user_id="u1", agent_id="a", infer=False, metadata={"k": [1, {"x": None}]},
                     timestamp="2023-05-08T10:00:00")["results"][0]["id"])
    m.update(ids[0], text="went hiking with the cat")
    m.delete(ids[1])
    m.add_records([{"memory": "tagged memory", "user_id": "u1", "categories": ["travel", "work"]}])
    return ids


def _state(m: Memory) -> tuple:
    frame = m.to_pandas(include_deleted=True).sort_values("id").reset_index(drop=True)
    hits = [(r["id"], r["score"]) for q in ("hiking dog", "invoice overdue", "Lisbon") for u in ("u0", "u1")
            for r in m.search(q, user_id=u)["results"]]
    vecs = {i: m.store.table.vecs[m.store.table.pos_by_id[i]].tolist() for i in frame["id"]}
    return frame, hits, vecs


def _read_from_sqlite(path) -> tuple:
    (path / FILE).unlink(missing_ok=True)
    with Memory(_cfg(path)) as m:
        assert m.store._table_saved is None  # read from SQLite
        return _state(m)


def _same(a: tuple, b: tuple) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[1] == b[1] and a[2] == b[2]


def test_a_reopen_from_the_cache_is_a_read_from_sqlite(tmp_path):
    with Memory(_cfg(tmp_path)) as m:
        _fill(m)
    assert (tmp_path / FILE).is_file() and (tmp_path / SEAL).is_file()
    with Memory(_cfg(tmp_path)) as m:
        assert m.store._table_saved is not None  # opened from the cache
        cached = _state(m)
        assert m.store.table.column("categories").tolist().count(("travel", "work")) == 1
        m.add("written after a cached open", user_id="u0", infer=False)  # writes still go to SQLite
    with Memory(_cfg(tmp_path)) as m:
        after = _state(m)
    _same(after, _read_from_sqlite(tmp_path))
    assert len(after[0]) == len(cached[0]) + 1


def test_an_edit_by_another_tool_unseals_the_cache(tmp_path):
    with Memory(_cfg(tmp_path)) as m:
        ids = _fill(m)
    conn = sqlite3.connect(tmp_path / "memlab.db")  # not through memlab: no write counter moves
    with conn:
        conn.execute("UPDATE memories SET memory = 'edited by hand' WHERE id = ?", (ids[2],))
    conn.close()
    with Memory(_cfg(tmp_path)) as m:
        assert m.store._table_saved is None
        assert m.get(ids[2])["memory"] == "edited by hand"


def test_writes_by_another_memory_that_never_saved_are_read(tmp_path):
    with Memory(_cfg(tmp_path)) as m:
        ids = _fill(m)
    with Memory(_cfg(tmp_path)) as writer:  # killed before it closes: it neither saves nor seals
        writer.store._save_caches = lambda: False
        writer.update(ids[2], text="changed by another process")
        writer.add("new row from another process", user_id="u0", infer=False)
    with Memory(_cfg(tmp_path)) as m:
        assert m.store._table_saved is None
        assert m.get(ids[2])["memory"] == "changed by another process"
        got = _state(m)
    _same(got, _read_from_sqlite(tmp_path))


def test_reset_damaged_files_and_doctor_mean_a_normal_read(tmp_path):
    with Memory(_cfg(tmp_path)) as m:
        _fill(m)
        m.reset()
        m.add("after the reset", user_id="u0", infer=False)
    with Memory(_cfg(tmp_path)) as m:
        assert [r["memory"] for r in m.get_all(user_id="u0")["results"]] == ["after the reset"]
    (tmp_path / FILE).write_bytes(b"not an npz file")
    with Memory(_cfg(tmp_path)) as m:
        assert m.store._table_saved is None and len(m.get_all(user_id="u0")["results"]) == 1
    assert (tmp_path / FILE).is_file()  # saved again at that close
    before = (tmp_path / FILE).stat().st_mtime_ns
    check_store(tmp_path)  # the doctor checks SQLite itself: it drops the copy (its own store saves a new one)
    assert not (tmp_path / FILE).exists() or (tmp_path / FILE).stat().st_mtime_ns != before


def test_vectors_survive_bit_for_bit(tmp_path):
    with Memory(_cfg(tmp_path)) as m:
        _fill(m)
        before = m.store.table.vecs[: m.store.table.n].copy(), m.store.table.context_vectors(
            np.arange(m.store.table.n)).copy()
    with Memory(_cfg(tmp_path)) as m:
        assert m.store._table_saved is not None
        t = m.store.table
        np.testing.assert_array_equal(t.vecs[: t.n], before[0])
        np.testing.assert_array_equal(t.context_vectors(np.arange(t.n)), before[1])
