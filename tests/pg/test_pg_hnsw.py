"""Dense search with an HNSW index on PostgreSQL: the index scan agrees with exact search, stays complete
under selective filters, falls back to exact when the scan comes back short, and small scopes stay exact."""

from __future__ import annotations

import numpy as np
import pytest

from memlab import Memory
from memlab.store import filters as F
from memlab.store.pg import search as Q
from memlab.store.pg.sql import where
from tests.pg.support import pg_config

DIMS = 32
CLUSTERS, PER_CLUSTER = 40, 50


def _unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def clustered(pg_url, pg_collection):
    """2,000 unit vectors in 40 tight clusters (distinct distances: no ties), one user; every 16th row
    is tagged ``rare``. The store has an HNSW index and treats scopes of 100+ rows as large."""
    rng = np.random.default_rng(3)
    centers = _unit(rng.normal(size=(CLUSTERS, DIMS)))
    vecs = _unit(np.repeat(centers, PER_CLUSTER, axis=0) + 0.15 * rng.normal(size=(CLUSTERS * PER_CLUSTER, DIMS)))
    records = [{"memory": f"row {i}", "user_id": "u", "vector": v, "metadata": {"rare": i % 16 == 0}}
               for i, v in enumerate(vecs)]
    with Memory(pg_config(pg_url, pg_collection, dims=DIMS, hnsw=True, hnsw_exact_below=100)) as m:
        m.add_records(records)
        with m.store._conn() as conn:  # the statistics autovacuum would gather a little later
            conn.execute(f"ANALYZE {pg_collection}")
        yield m, centers, rng


def _conn(m):
    """A pooled connection on which the planner must use an index to order rows (a 2,000-row table is
    otherwise cheaper to sort): what it does by itself on a large table."""
    cm = m.store._conn()
    conn = cm.__enter__()
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET enable_sort = off")
    return cm, conn


def _ids(hits):
    return [(h[0]["id"], round(h[1], 5)) for h in hits]


def test_index_scan_equals_exact_search_and_uses_the_index(clustered):
    m, centers, rng = clustered
    t = m.store.table_name
    node = F.parse({"user_id": "u"})
    cm, conn = _conn(m)
    try:
        cond, params = where(t, node)
        q = _unit(centers[0] + 0.05 * rng.normal(size=DIMS))
        with conn.transaction():
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            plan = "\n".join(r[0] for r in conn.execute(
                "EXPLAIN " + Q.ann_sql(t, cond), {**params, "q": q, "limit": 10}).fetchall())
        assert f"{t}_hnsw" in plan
        for c in range(0, CLUSTERS, 4):
            q = _unit(centers[c] + 0.05 * rng.normal(size=DIMS))
            exact = Q.dense(conn, t, q, node, 10)
            approx = Q.dense(conn, t, q, node, 10, ann="hnsw", exact_below=100)
            assert _ids(approx) == _ids(exact)
            assert [h[0]["vid"] for h in approx] == [h[0]["vid"] for h in exact]
    finally:
        cm.__exit__(None, None, None)


def test_memory_search_through_the_planner_matches_exact(clustered, monkeypatch):
    m, centers, rng = clustered
    calls = {"ann": 0}
    real = Q._ann

    def counting(*a, **k):
        calls["ann"] += 1
        return real(*a, **k)

    monkeypatch.setattr(Q, "_ann", counting)
    node = F.parse({"user_id": "u"})
    for c in (1, 7, 23):
        q = _unit(centers[c] + 0.05 * rng.normal(size=DIMS))
        got = m.store.search(q, node, 10)
        with m.store._conn() as conn:
            want = Q.dense(conn, m.store.table_name, q, node, 10)  # no ann: exact
        assert [(r["id"], round(e["cosine"], 5)) for r, _, e in got] == [(r["id"], round(s, 5)) for r, s in want]
    assert calls["ann"] == 3  # the scope (2,000 rows) is large: the index path ran each time


def test_selective_filter_inside_a_large_scope_is_complete(clustered, monkeypatch):
    """125 rare rows among 2,000: a filter the index scan must walk far for; every page is the exact page."""
    m, centers, rng = clustered
    t = m.store.table_name
    node = F.parse({"AND": [{"user_id": "u"}, {"rare": True}]})
    monkeypatch.setattr(Q, "estimated_rows", lambda *a: 1e6)  # taken for large: the index scan runs
    cm, conn = _conn(m)
    try:
        for c in range(0, CLUSTERS, 8):
            q = _unit(centers[c] + 0.05 * rng.normal(size=DIMS))
            for limit in (5, 10, 50):
                exact = Q.dense(conn, t, q, node, limit)
                approx = Q.dense(conn, t, q, node, limit, ann="hnsw", exact_below=100)
                assert len(exact) == limit and len(approx) == limit
                assert all(h[0]["metadata"]["rare"] is True for h in approx)
                assert _ids(approx) == _ids(exact)
    finally:
        cm.__exit__(None, None, None)


def test_short_index_scan_falls_back_to_exact(clustered, monkeypatch):
    """An index scan capped at 10 visited rows (ef_search 10) finds fewer than 10 rare rows: the exact statement runs
    and the page is complete."""
    m, centers, rng = clustered
    t = m.store.table_name
    node = F.parse({"AND": [{"user_id": "u"}, {"rare": True}]})
    seen = {"ann": [], "exact": 0}
    real_ann, real_exact = Q._ann, Q._exact

    def ann(*a, **k):
        out = real_ann(*a, **k)
        seen["ann"].append(len(out))
        return out

    def exact(*a, **k):
        seen["exact"] += 1
        return real_exact(*a, **k)

    monkeypatch.setattr(Q, "_ann", ann)
    monkeypatch.setattr(Q, "_exact", exact)
    # the planner's estimate of this filter is statistics-dependent; a scope taken for large is the case here
    monkeypatch.setattr(Q, "estimated_rows", lambda *a: 1e6)
    cm, conn = _conn(m)
    try:
        q = _unit(centers[5] + 0.05 * rng.normal(size=DIMS))
        got = Q.dense(conn, t, q, node, 10, ann="hnsw", exact_below=100, ef_search=10, max_scan_tuples=10)
        assert seen["ann"] and seen["ann"][0] < 10  # the short page ...
        assert seen["exact"] == 1  # ... was replaced by the exact one
        want = real_exact(conn, t, q, *where(t, node), 10)
        assert len(got) == 10 and _ids(got) == _ids(want)
    finally:
        cm.__exit__(None, None, None)


def test_small_scopes_stay_exact(clustered, monkeypatch):
    """A scope under hnsw_exact_below never touches the index (the planner's row estimate decides)."""
    m, centers, rng = clustered
    monkeypatch.setattr(Q, "_ann", lambda *a, **k: pytest.fail("index scan on a small scope"))
    hits = m.search("row", filters={"AND": [{"user_id": "u"}, {"memory": {"in": [f"row {i}" for i in range(60)]}}]},
                    limit=100)["results"]
    assert len(hits) == 60


def test_hnsw_build_options_and_their_validation(pg_url, pg_collection):
    import psycopg

    from memlab.errors import ConfigError

    with pytest.raises(ConfigError, match="at least twice"):
        Memory(pg_config(pg_url, pg_collection, hnsw=True, hnsw_m=32, hnsw_ef_construction=40))
    with psycopg.connect(pg_url) as conn:  # nothing half-created
        assert conn.execute("SELECT to_regclass(%s)", (pg_collection,)).fetchone()[0] is None
    with Memory(pg_config(pg_url, pg_collection, hnsw=True, hnsw_m=24, hnsw_ef_construction=96)) as m:
        m.add("a note", user_id="u", infer=False)
    with psycopg.connect(pg_url) as conn:
        (ddl,) = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (f"{pg_collection}_hnsw",)).fetchone()
    assert "m='24'" in ddl and "ef_construction='96'" in ddl
