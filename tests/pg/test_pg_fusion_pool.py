"""Bounded fusion on PostgreSQL at its edges (memlab.store.pg.candidates): which filters may take the pool
(only those without a scope id equality), the size thresholds taken exactly (``n == fusion_exact_below``
pools, one row fewer is exact), the pool's make-up (the FUSION_POOL nearest rows, by the HNSW index or the
exact scan, and an equal share of KEYWORD_POOL per distinct query term, at least one row each), and the scope
cache noticing a write that changes a scope's vocabulary but not its size."""

from __future__ import annotations

import pytest

from memlab import Memory
from memlab.store.pg import candidates as PC
from memlab.store.pg import search as Q
from tests.ci import require_module
from tests.pg.support import pg_config

require_module("psycopg", "the pg extra is not installed (psycopg missing)", "PostgreSQL")

QUERY = "violin lessons"
# insertion (= table) order matters: the first rows holding "violin" / "lessons" are weak cosine matches, the
# second ones too; the nearest rows come last
TEXTS = ["my old violin needs new strings before the summer concert season",       # 0: first "violin"
         "lessons at the school start again in the autumn for every pupil",         # 1: first "lessons"
         "a violin repair shop opened near the station on a rainy monday",          # 2: second "violin"
         "lessons learned from the flood: keep the basement dry and the pump on",   # 3: second "lessons"
         "the weather was cold and grey all week long",                             # 4: no query term
         "we cooked pasta with tomatoes and basil for dinner",                      # 5: no query term
         "violin lessons",                                                          # 6: nearest
         "violin lessons today"]                                                    # 7: second nearest


def _store(url: str, t: str, **extra) -> Memory:
    m = Memory(pg_config(url, t, **extra))
    for i, text in enumerate(TEXTS):
        m.add(text, user_id="u1", metadata={"topic": "music" if i != 5 else "food"}, infer=False)
    m.add("a note for the other user", user_id="u2", metadata={"topic": "other"}, infer=False)
    with m.store._conn() as conn:  # fixed planner statistics: the estimate does not move during the test
        conn.execute(f"ANALYZE {t}")
    return m


def _ids(m: Memory, **kw) -> set:
    return {r["id"] for r in m.search(QUERY, limit=50, **kw)["results"]}


def _by_text(m: Memory) -> dict:
    return {r["memory"]: r["id"] for u in ("u1", "u2") for r in m.get_all(user_id=u)["results"]}


@pytest.fixture(params=["exact", "hnsw"])
def pooled(request, pg_url, pg_collection, monkeypatch):
    """The store (with or without an HNSW index), a pool of the 2 nearest rows and 1 row per query term."""
    extra = {"hnsw": True} if request.param == "hnsw" else {}
    m = _store(pg_url, pg_collection, **extra)
    assert bool(m.store.dense_opts["ann"]) == (request.param == "hnsw")
    monkeypatch.setattr(PC, "FUSION_POOL", 2)
    monkeypatch.setattr(PC, "KEYWORD_POOL", 3)  # 2 distinct query terms: 3 // 2 = 1 row each
    try:
        yield m
    finally:
        m.close()


def test_pool_is_the_nearest_rows_and_the_first_rows_of_each_term_at_the_exact_size(pooled):
    m = pooled
    ids = _by_text(m)
    everything = _ids(m, all_scopes=True)
    assert len(everything) == len(TEXTS) + 1
    nearest = {r["id"] for r in m.search(QUERY, all_scopes=True, limit=2, mode="dense")["results"]}
    assert nearest == {ids[TEXTS[6]], ids[TEXTS[7]]}  # the data does what the comments say
    n = len(TEXTS) + 1
    m.store.fusion_exact_below = n  # the whole store has exactly n rows: bounded
    want = nearest | {ids[TEXTS[0]], ids[TEXTS[1]]}
    assert _ids(m, all_scopes=True) == want
    m.store.fusion_exact_below = n + 1  # one more than the store holds: exact, every row
    assert _ids(m, all_scopes=True) == everything
    # a scope id decides by the scope's own size (u1: len(TEXTS) rows)
    m.store.fusion_exact_below = len(TEXTS)
    assert _ids(m, user_id="u1") == want
    m.store.fusion_exact_below = len(TEXTS) + 1
    assert _ids(m, user_id="u1") == everything - {ids["a note for the other user"]}


def test_each_query_term_brings_its_share_and_at_least_one_row(pooled, monkeypatch):
    m = pooled
    ids = _by_text(m)
    nearest = {ids[TEXTS[6]], ids[TEXTS[7]]}
    m.store.fusion_exact_below = 1
    monkeypatch.setattr(PC, "KEYWORD_POOL", 5)  # 5 // 2 = 2 rows per term (not 2.5)
    assert _ids(m, all_scopes=True) == nearest | {ids[TEXTS[i]] for i in range(4)}
    monkeypatch.setattr(PC, "KEYWORD_POOL", 1)  # 1 // 2 = 0: still one row per term
    assert _ids(m, all_scopes=True) == nearest | {ids[TEXTS[0]], ids[TEXTS[1]]}


def test_only_a_filter_without_a_scope_id_takes_the_pool_by_the_planners_estimate(pooled, monkeypatch):
    m = pooled
    ids = _by_text(m)
    music = {ids[TEXTS[i]] for i in range(len(TEXTS)) if i != 5}
    seen = []
    real = Q.estimated_rows

    def spy(*a, **kw):
        seen.append(real(*a, **kw))
        return seen[-1]

    monkeypatch.setattr(Q, "estimated_rows", spy)
    m.store.fusion_exact_below = 10_000
    assert _ids(m, filters={"topic": "music"}, all_scopes=True) == music  # estimate below the bound: exact
    estimate = int(seen[-1])
    assert estimate >= 1
    m.store.fusion_exact_below = estimate  # an estimate equal to the bound: bounded
    nearest = {r["id"] for r in m.search(QUERY, filters={"topic": "music"}, all_scopes=True, limit=2,
                                         mode="dense")["results"]}
    assert _ids(m, filters={"topic": "music"}, all_scopes=True) == nearest | {ids[TEXTS[0]], ids[TEXTS[1]]}
    m.store.fusion_exact_below = estimate + 1
    assert _ids(m, filters={"topic": "music"}, all_scopes=True) == music
    # a scope id ANDed with another filter is never bounded, however low the bound: every allowed row
    calls = len(seen)
    for bound in (1, 0):
        m.store.fusion_exact_below = bound
        assert _ids(m, user_id="u1", filters={"topic": "music"}) == music
    assert len(seen) == calls  # and the planner was not asked
    m.store.fusion_exact_below = 0  # off: an unscoped filter is exact too
    assert _ids(m, filters={"topic": "music"}, all_scopes=True) == music
    assert len(seen) == calls


def test_a_write_that_keeps_the_scope_size_still_invalidates_its_cached_vocabulary(pg_url, pg_collection):
    cfg = pg_config(pg_url, pg_collection)
    chat = ["Rex the dog", "Rex at the park", "Rex and the ball", "a walk"]
    with Memory(cfg) as m:
        for text in chat:
            m.add(text, user_id="u1", infer=False)
        cache = m.store.scope_cache
        # "rex" is in more than half the rows: its idf is floored by the mean idf of the scope's whole vocabulary
        before = m.search("Rex walk", user_id="u1", explain=True)["results"]
        assert (cache.hits, cache.misses) == (0, 1)
        walk = [r["id"] for r in m.get_all(user_id="u1")["results"] if r["memory"] == "a walk"][0]
        m.update(walk, "a long walk by the river with many new words in it")  # same number of rows
        after = m.search("Rex walk", user_id="u1", explain=True)["results"]
        assert (cache.hits, cache.misses) == (0, 2)  # a new version: recounted, not read from the cache
        with Memory(cfg) as fresh:  # nothing cached there
            assert fresh.search("Rex walk", user_id="u1", explain=True)["results"] == after
        assert [r["score"] for r in after] != [r["score"] for r in before]
        assert m.search("Rex walk", user_id="u1", explain=True)["results"] == after
        assert (cache.hits, cache.misses) == (1, 2)


def test_a_fusion_search_is_one_statement_whole_rows_included(pg_url, pg_collection, monkeypatch):
    """The module's promise: fusion over a scope (or a scope with another filter) brings every allowed row
    whole in its ranking statement, so the answer -- the winners' rows, and the memories' texts a query naming
    a date needs -- costs no second round trip."""
    import psycopg

    with _store(pg_url, pg_collection) as m:
        m.search(QUERY, user_id="u1")  # the scope's vocabulary is cached: the steady state
        statements = []
        real = psycopg.Connection.execute

        def counting(self, query, *args, **kwargs):
            statements.append(str(query)[:80])
            return real(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Connection, "execute", counting)
        for query, scope in ((QUERY, {"user_id": "u1"}), ("violin lessons in June 2023", {"user_id": "u1"}),
                             (QUERY, {"user_id": "u1", "filters": {"topic": "music"}}),
                             ("violin lessons in June 2023", {"user_id": "u1", "filters": {"topic": "music"}})):
            statements.clear()
            got = m.search(query, limit=3, **scope)["results"]
            assert len(got) == 3 and all(r["memory"] in TEXTS for r in got)
            assert len(statements) == 1, (query, scope, statements)
