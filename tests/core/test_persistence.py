"""A store directory gives back every memory, its history and identical search results."""

from __future__ import annotations

import os

import numpy as np

from memlab import Memory


def test_reopen_round_trip(tmp_path, hash_config):
    m = Memory(hash_config, path=tmp_path / "store")
    texts = [f"user {u} fact number {i} about topic {i % 7}" for u in range(5) for i in range(40)]
    for n, t in enumerate(texts):
        m.add(t, user_id=f"user{n % 5}", infer=False, metadata={"n": n})
    ids = [r["id"] for r in m.get_all(limit=1000, all_scopes=True)["results"]]
    m.update(ids[3], "changed text for three")
    m.delete(ids[4])
    m.set_state(ids[5], "archived")
    queries = ["fact number 7", "topic 3", "changed text"]
    before_search = {q: m.search(q, user_id="user3", limit=10)["results"] for q in queries}
    before_all = m.get_all(limit=1000, all_scopes=True)["results"]
    before_hist = {i: m.history(i) for i in ids[:6]}
    before_df = m.to_pandas(include_deleted=True)
    m.close()

    r = Memory(hash_config, path=tmp_path / "store")
    assert r.get_all(limit=1000, all_scopes=True)["results"] == before_all
    assert {q: r.search(q, user_id="user3", limit=10)["results"] for q in queries} == before_search
    assert {i: r.history(i) for i in ids[:6]} == before_hist
    assert r.get(ids[4]) is None and r.store.index.ntotal == len(texts) - 2
    assert r.to_pandas(include_deleted=True).equals(before_df)
    # the vectors survive bit for bit
    assert np.array_equal(r.store.vector(ids[10]), m.store.table.vecs[m.store.table.pos_by_id[ids[10]]])


def test_append_does_not_rewrite_the_store(tmp_path, hash_config):
    """An add writes one row (WAL append), never a whole-file rewrite like mem0's index dump."""
    m = Memory(hash_config, path=tmp_path)
    m.add_records([{"memory": f"bulk memory {i}", "user_id": "u"} for i in range(3000)])
    m.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db = tmp_path / "memlab.db"
    size_db = db.stat().st_size
    m.add("one more", user_id="u", infer=False)
    wal = tmp_path / "memlab.db-wal"
    assert db.stat().st_size == size_db            # main file untouched until a checkpoint
    assert wal.stat().st_size < size_db / 10       # the WAL holds a few pages, not a copy
    assert not any(p.suffix in (".faiss", ".pkl") for p in tmp_path.iterdir())


def test_two_handles_on_one_directory_see_each_other(tmp_path, hash_config):
    a = Memory(hash_config, path=tmp_path)
    b = Memory(hash_config, path=tmp_path)
    mid = a.add("written by a", user_id="u", infer=False)["results"][0]["id"]
    assert b.get(mid)["memory"] == "written by a"
    b.update(mid, "updated by b")
    assert a.search("updated by b", user_id="u")["results"][0]["memory"] == "updated by b"
    b.delete(mid)
    assert a.get(mid) is None and a.store.index.ntotal == 0
    a.reset()
    b.add("fresh", user_id="u", infer=False)
    assert [x["memory"] for x in a.get_all(all_scopes=True)["results"]] == ["fresh"]


def test_in_memory_store_leaves_no_files(tmp_path, hash_config):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        m = Memory(hash_config)
        m.add("x", user_id="u", infer=False)
        assert list(tmp_path.iterdir()) == []
    finally:
        os.chdir(cwd)
