"""Behaviour both engines share, run on each (FAISS + SQLite, PostgreSQL + pgvector): persistence, history,
states, expiry, validation that writes nothing, two Memory objects and threads on one store, no lost
update, and identical search results (dense, keyword, hybrid) on identical data."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from memlab import Memory
from memlab.errors import NotFoundError, ValidationError
from tests.pg.support import pg_config

ENGINES = ["faiss", "pgvector"]
HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}


@pytest.fixture(params=ENGINES)
def store_config(request, tmp_path):
    """A config two Memory objects can open at once: an on-disk FAISS store or a PostgreSQL collection."""
    if request.param == "faiss":
        return {**HASH, "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "store")}}}
    return pg_config(request.getfixturevalue("pg_url"), request.getfixturevalue("pg_collection"))


def test_persistence_across_reopen(store_config):
    with Memory(store_config) as m:
        a = m.add("I live in Lyon", user_id="alice", infer=False, metadata={"city": "Lyon", "n": 2})["results"][0]["id"]
        m.add("Bob likes chess", user_id="bob", infer=False)
        m.update(a, "I live in Paris", metadata={"city": "Paris"})
        m.set_state(m.get_all(user_id="bob")["results"][0]["id"], "archived")
    with Memory(store_config) as again:
        item = again.get(a)
        assert item["memory"] == "I live in Paris" and item["metadata"] == {"city": "Paris", "n": 2}
        assert [h["event"] for h in again.history(a)] == ["ADD", "UPDATE"]
        assert again.get_all(user_id="bob")["results"] == []
        assert len(again.get_all(user_id="bob", filters={"state": "archived"})["results"]) == 1
        assert again.search("Paris", user_id="alice")["results"][0]["id"] == a


def test_history_and_states(engine_mem):
    m = engine_mem
    mid = m.add("temporary note", user_id="u", infer=False)["results"][0]["id"]
    m.set_state(mid, "paused")
    assert m.get_all(user_id="u")["results"] == [] and m.search("note", user_id="u")["results"] == []
    assert [r["id"] for r in m.get_all(user_id="u", filters={"state": "paused"})["results"]] == [mid]
    m.set_state(mid, "active")
    m.update(mid, text="kept note")
    m.delete(mid)
    events = [h["event"] for h in m.history(mid)]
    assert events == ["ADD", "STATE:active->paused", "STATE:paused->active", "UPDATE", "DELETE"]
    assert m.history(mid)[-1]["is_deleted"] is True and m.get(mid) is None
    with pytest.raises(NotFoundError):
        m.update(mid, "again")
    assert m.history("00000000-0000-4000-8000-000000000000") == []


def test_expired_memories_are_hidden(engine_mem):
    m = engine_mem
    past = (date.today() - timedelta(days=2)).isoformat()
    future = (date.today() + timedelta(days=30)).isoformat()
    old = m.add("old coupon", user_id="u", infer=False, expiration_date=past)["results"][0]["id"]
    new = m.add("new coupon", user_id="u", infer=False, expiration_date=future)["results"][0]["id"]
    forever = m.add("coupon forever", user_id="u", infer=False)["results"][0]["id"]
    assert sorted(r["id"] for r in m.get_all(user_id="u")["results"]) == sorted([new, forever])
    assert old not in [r["id"] for r in m.search("coupon", user_id="u")["results"]]
    assert old in [r["id"] for r in m.get_all(user_id="u", show_expired=True)["results"]]
    assert m.get(old)["expiration_date"] == past


def test_validation_leaves_the_store_unchanged(engine_mem):
    m = engine_mem
    m.add("first", user_id="u", infer=False)
    before = m.to_pandas(include_deleted=True)
    bad_calls = [
        lambda: m.add("x", infer=False),
        lambda: m.add("x", user_id="u", infer=False, metadata={"user_id": "v"}),
        lambda: m.add_records([{"memory": "ok", "user_id": "u"}, {"memory": "", "user_id": "u"}]),
        lambda: m.get_all(user_id="u", filters={"a": {"near": 1}}),
        lambda: m.search("q", user_id="u", limit=0),
        lambda: m.set_state(before["id"][0], "gone"),
    ]
    for call in bad_calls:
        with pytest.raises(ValidationError):
            call()
    with pytest.raises(RuntimeError):  # an error inside a transaction rolls everything back
        with m.store.transaction() as tx:
            from memlab.store.rows import apply_add, new_row

            apply_add(tx, new_row("half", {"user_id": "u"}, {}, now="2024-01-01T00:00:00+00:00"),
                      m.embed(["half"])[0])
            raise RuntimeError("boom")
    after = m.to_pandas(include_deleted=True)
    assert after.equals(before)
    assert m.get_all(user_id="u", filters={"memory": "half"})["results"] == []


def test_two_memories_and_threads_on_one_store(store_config):
    with Memory(store_config) as a, Memory(store_config) as b:
        a.add("written by a", user_id="u", infer=False)
        assert [r["memory"] for r in b.get_all(user_id="u")["results"]] == ["written by a"]
        errors = []

        def writer(mem, k):
            try:
                for i in range(10):
                    mem.add(f"note {k}-{i}", user_id=f"user{k}", infer=False)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(a if k % 2 else b, k)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for mem in (a, b):
            for k in range(4):
                texts = [r["memory"] for r in mem.get_all(user_id=f"user{k}")["results"]]
                assert texts == [f"note {k}-{i}" for i in range(10)]  # insertion order, nothing lost


def test_no_lost_update_on_concurrent_metadata_updates(store_config):
    with Memory(store_config) as a, Memory(store_config) as b:
        mid = a.add("shared", user_id="u", infer=False)["results"][0]["id"]
        errors = []

        def bump(mem, k):
            try:
                for i in range(8):
                    mem.update(mid, metadata={f"k{k}_{i}": i})
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=bump, args=(a if k % 2 else b, k)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        meta = b.get(mid)["metadata"]
        assert set(meta) == {f"k{k}_{i}" for k in range(4) for i in range(8)}  # every merge survived
        assert len(a.history(mid)) == 1 + 32


TEXTS = ["I love pizza with extra cheese", "My sister lives in Lyon", "the dog Rex loves the park",
         "pizza pizza pizza", "Allergic to peanuts", "Winter hiking in the Alps", "the the the",
         "Lyon has great food", "I adopted a dog named Rex", "my sister likes pizza too"]


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
@pytest.mark.parametrize("query", ["pizza", "the dog", "sister Lyon", "unknownword", "the the pizza"])
def test_both_engines_rank_identically(pg_url, pg_collection, mode, query):
    records = [{"id": f"00000000-0000-4000-8000-{i:012d}", "memory": t, "user_id": "u" if i % 3 else "v"}
               for i, t in enumerate(TEXTS * 2)]
    with Memory(HASH) as faiss_mem, Memory(pg_config(pg_url, pg_collection)) as pg_mem:
        for m in (faiss_mem, pg_mem):
            m.add_records(records)
        for scope in ({"user_id": "u"}, {"user_id": "v"}):
            want = faiss_mem.search(query, mode=mode, limit=7, **scope)["results"]
            got = pg_mem.search(query, mode=mode, limit=7, **scope)["results"]
            # the same scores in the same order; ids may swap only where scores tie up to float rounding
            # (pgvector and numpy sum a dot product in different orders: 0.0 vs 3.7e-09)
            assert len(got) == len(want)
            every = {r["id"]: r for r in faiss_mem.search(query, mode=mode, limit=100, **scope)["results"]}
            for g, w in zip(got, want):
                assert g["score"] == pytest.approx(w["score"], abs=1e-5)
                assert g["score"] == pytest.approx(every[g["id"]]["score"], abs=1e-5)
                for key in ("keyword_score", "rank_score"):
                    # hybrid: two dense rows tied up to rounding may swap ranks, moving RRF by < 1/60 - 1/61
                    tol = 1e-3 if key == "rank_score" and mode == "hybrid" else 1e-9
                    assert g.get(key, 0) == pytest.approx(w.get(key, 0), abs=tol)
                    assert g.get(key, 0) == pytest.approx(every[g["id"]].get(key, 0), abs=tol)
