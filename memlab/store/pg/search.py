"""Search statements on PostgreSQL: dense (exact or HNSW) and BM25's corpus counts, the filter pushed into SQL.

* dense, exact: ``ORDER BY -(embedding <#> q) DESC, vid`` over the rows the filter allows. Vectors
  are L2-normalised, so the inner product is the cosine, as in the FAISS engine. The ORDER BY
  expression is deliberately not ``embedding <#> q`` itself (an HNSW index can only serve that
  form), so the planner scores every allowed row, found through the scope indexes.
* dense, HNSW (only when the table has an HNSW index and the planner estimates that the filter
  allows at least ``exact_below`` rows: :func:`estimated_rows`): ``ORDER BY embedding <#> q`` with the
  filter in the same statement and pgvector's iterative index scan (``hnsw.iterative_scan =
  relaxed_order``: the scan keeps walking the graph until ``limit`` allowed rows are found or
  ``hnsw.max_scan_tuples`` are visited), then re-sorted by (score, vid) in Python so ties stay
  deterministic. Completeness is checked, not hoped for: fewer than ``limit`` rows back (a very
  selective filter inside a large scope) means the exact statement runs instead.
* keyword: SQL finds the allowed rows holding a query term (:func:`bm25_sql`) with their term
  counts; the arithmetic is :func:`memlab.ranking.bm25.bm25_of_counts`, so scores match the FAISS
  engine's up to float rounding. The modes (keyword, hybrid, fusion) are memlab.ranking.modes',
  fed by :class:`memlab.store.pg.candidates.PgCandidates`.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from memlab.store.pg.sql import where
from memlab.store.pg.terms import SQL_JOIN
from memlab.store.faiss.table import COLUMNS
from memlab.store.pg.transaction import decode, row_sql


EXACT_BELOW = 10_000  # allowed rows below which dense search is exact even with an HNSW index
EF_SEARCH = 100  # hnsw.ef_search of an index scan (pgvector's default, 40, loses recall at 1M rows)
MAX_SCAN_TUPLES = 20_000  # hnsw.max_scan_tuples: how far an iterative scan walks before giving up


def ann_index(conn: Any, t: str) -> Optional[str]:
    """"hnsw" when table ``t`` has an HNSW index on its embedding (the only kind :func:`dense` uses)."""
    row = conn.execute("SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                       "WHERE i.indrelid = to_regclass(%s) AND a.amname = 'hnsw' LIMIT 1", (t,)).fetchone()
    return "hnsw" if row else None


def _exact(conn: Any, t: str, q: np.ndarray, cond: str, params: dict, limit: int) -> list[tuple[dict, float]]:
    rows = conn.execute(
        f"SELECT {row_sql(t)}, (m.embedding <#> %(q)b) * -1 AS score FROM {t} m WHERE {cond} "
        f"ORDER BY score DESC, m.vid LIMIT %(limit)s", {**params, "q": q, "limit": limit}).fetchall()
    return [(decode(r), float(r[-1])) for r in rows]


def ann_sql(t: str, cond: str) -> str:
    """The index-scan statement: the ORDER BY is the bare distance, the one form HNSW serves."""
    return (f"SELECT {row_sql(t)}, m.embedding <#> %(q)b AS distance FROM {t} m WHERE {cond} "
            f"ORDER BY distance LIMIT %(limit)s")


def _ann(conn: Any, t: str, q: np.ndarray, cond: str, params: dict, limit: int, ef_search: int,
         max_scan_tuples: int) -> list[tuple[dict, float]]:
    with conn.transaction():  # SET LOCAL lasts until this (sub)transaction ends
        conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        conn.execute(f"SET LOCAL hnsw.ef_search = {int(max(ef_search, limit))}")
        conn.execute(f"SET LOCAL hnsw.max_scan_tuples = {int(max_scan_tuples)}")
        rows = conn.execute(ann_sql(t, cond), {**params, "q": q, "limit": limit}).fetchall()
    hits = [(decode(r), -float(r[-1])) for r in rows]
    hits.sort(key=lambda h: (-h[1], h[0]["vid"]))  # relaxed order comes back nearly sorted; ties by insertion
    return hits


def estimated_rows(conn: Any, t: str, cond: str, params: dict) -> float:
    """The planner's estimate of the rows the filter allows (table statistics: no row is read).

    A count, even capped, reads every allowed row up to the cap: at a 10,000-row cap that costs more
    than the index scan it decides on. An estimate can be wrong, which costs time, never results:
    too high, the index scan comes back short and the exact statement runs; too low, the search is
    exact, as a small scope's is."""
    plan = conn.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {t} m WHERE {cond}", params).fetchone()[0]
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def dense(conn: Any, t: str, q: np.ndarray, node: Any, limit: int, *, ann: Optional[str] = None,
          exact_below: int = EXACT_BELOW, ef_search: int = EF_SEARCH,
          max_scan_tuples: int = MAX_SCAN_TUPLES) -> list[tuple[dict, float]]:
    """(row, cosine) of the ``limit`` best allowed rows, best first, ties by insertion order.

    ``ann="hnsw"`` (the table has an HNSW index) lets scopes of ``exact_below`` rows or more use it;
    the result is never shorter than the exact one (see the module docstring).
    """
    cond, params = where(t, node)
    limit = int(limit)
    if ann == "hnsw" and limit < exact_below and estimated_rows(conn, t, cond, params) >= exact_below:
        hits = _ann(conn, t, q, cond, params, limit, ef_search, max_scan_tuples)
        if len(hits) >= limit:  # a full page is complete: the scope has at least ``limit`` rows
            return hits
    return _exact(conn, t, q, cond, params, limit)


def bm25_sql(t: str, cond: str, scope_cte: Optional[str] = None) -> str:
    """BM25's corpus figures in ONE statement, scope first: the allowed rows are materialised once
    (through the scope indexes; a GIN probe of a frequent term would walk the whole table), then
    N, the total length, each (row, query term) count, and -- only when some query term is in more
    than half the allowed rows, i.e. has a negative idf -- the document frequencies of the whole
    allowed vocabulary (an InitPlan under CASE runs only when its branch is taken), then the scope's version.

    With ``scope_cte`` (:func:`memlab.store.pg.stats.scope_sql`) N and the total length are the scope
    statistics' when they are exact (``%(exact)s``: the filter leaves no expired row out, or the scope has no
    row with an expiration date), and the vocabulary is not counted when the scope's version is
    ``%(cached)s`` (the caller holds it)."""
    if scope_cte is None:
        head, version, counted = "", "NULL::numeric", "true"
        figures = "SELECT count(*) AS n, coalesce(sum(cardinality(a.tokens)), 0) AS total FROM a"
    else:
        head, version = f"sc AS MATERIALIZED ({scope_cte}), ", "(SELECT sc.version FROM sc)"
        counted = f"{version} IS DISTINCT FROM %(cached)s::numeric"
        exact = "%(exact)s OR sc.expiring = 0"
        figures = (f"SELECT CASE WHEN {exact} THEN sc.n ELSE (SELECT count(*) FROM a) END AS n, "
                   f"CASE WHEN {exact} THEN sc.total_len "
                   f"ELSE (SELECT coalesce(sum(cardinality(a.tokens)), 0) FROM a) END AS total FROM sc")
    return f"""WITH {head}a AS MATERIALIZED (SELECT m.vid, m.tokens FROM {t} m WHERE {cond}),
        s AS MATERIALIZED ({figures}),
        h AS (SELECT a.vid, cardinality(a.tokens) AS dl, u.tok, count(*) AS c
              FROM a, unnest(a.tokens) AS u(tok) WHERE u.tok = ANY(%(terms)s::text[]) GROUP BY 1, 2, 3)
    SELECT s.n, s.total, hh.vids, hh.dls, hh.toks, hh.cs,
        CASE WHEN {counted} AND EXISTS (SELECT 1 FROM h GROUP BY h.tok HAVING 2 * count(*) > (SELECT n FROM s))
             THEN (SELECT array_agg(v.df) FROM (SELECT count(DISTINCT a.vid) AS df FROM a, unnest(a.tokens) AS u(tok)
                                                GROUP BY u.tok) v) END, {version}
    FROM s, (SELECT array_agg(h.vid) AS vids, array_agg(h.dl) AS dls, array_agg(h.tok) AS toks,
                    array_agg(h.c) AS cs FROM h) hh"""


# Fusion over a scope of fewer rows sends them whole (no second round trip for the winners). Measured on
# scopes of 20 / 50 / 100 rows (bench_pg.py's conversations, idle machine), first search inline vs read after:
# 2.2 vs 2.3-2.4 ms, 3.1-3.5 vs 3.0-3.3 ms, 5.1 vs 4.1-4.2 ms: whole rows pay below ~50 and cost above.
INLINE_ROWS = 64


def fusion_sql(t: str, cond: str, scope_cte: Optional[str] = None, *, whole: bool = True) -> str:
    """Fusion's channels over the allowed rows in ONE statement returning ONE row, every per-row value an array
    in vid order (a few arrays decode much faster than a hundred row tuples):

    ``version, n`` (the scope's, from ``scope_cte``: :func:`memlab.store.pg.stats.scope_sql`; NULL without it),
    ``vids, actors, cosines, context cosines`` (a row without a context embedding: its own cosine),
    ``any_ctx`` (some row has a context embedding), ``created_at``, then per BM25 document -- the row's
    ``tokens``; its context document: ``context_tokens`` with a context embedding, else ``tokens`` -- its
    length (the context one: ``cardinality(context_tokens)``, else the row's own) and its terms as one text
    (:mod:`memlab.store.pg.terms`; NULL for a row holding no query term, unless the vocabularies are counted;
    for the context document its term count, to check the text), then ``rows`` (each row's columns as one
    text array, :func:`row_array`, together a 2-D array; NULL unless ``whole``, and in a scope of
    :data:`INLINE_ROWS` rows or more, where sending every row costs more than reading the winners
    afterwards) and ``{vid: category names}`` as JSON text of the rows that have categories (NULL: none).

    Every row's terms come back (the vocabularies of BM25's idf floor are counted from them) with
    ``scope_cte`` when the scope's version is not ``%(cached)s`` (the process cache holds the others), without
    it always. With ``scope_cte`` a scope of ``%(bound)s`` rows or more returns no row (the caller ranks a pool
    instead). Parameters: the filter's, ``q``, ``terms`` and those above. Counting terms in SQL
    (array_positions, unnest) costs more than sending them: a function call per array element."""
    inline = scope_cte is None
    if scope_cte is not None:
        bound = " AND (SELECT s.n FROM s) < %(bound)s"
        every = "(SELECT s.version FROM s) IS DISTINCT FROM %(cached)s::numeric"
    else:
        scope_cte, bound, every = "SELECT NULL::numeric AS version, NULL::bigint AS n", "", "true"
    js = "NULL::text[]" if not whole else row_array() if inline else \
        f"CASE WHEN (SELECT s.n FROM s) < {INLINE_ROWS} THEN {row_array()} END"
    per_row = ["r.vid", "r.actor", "r.cos", "coalesce(r.ccos, r.cos)", "r.created", "r.dl",
               f"CASE WHEN {every} OR r.toks && %(terms)s::text[] THEN {SQL_JOIN.format('r.toks')} END",
               "r.cdl", "cardinality(r.ctoks)",
               f"CASE WHEN {every} OR r.ctoks && %(terms)s::text[] THEN {SQL_JOIN.format('r.ctoks')} END", "r.js"]
    aggs = [f"array_agg({e} ORDER BY r.vid)" for e in per_row[:-1]]
    aggs.append("array_agg(r.js ORDER BY r.vid) FILTER (WHERE r.js IS NOT NULL)")  # NULL arrays: not aggregable
    aggs.insert(4, "bool_or(r.ccos IS NOT NULL)")
    return f"""WITH s AS MATERIALIZED ({scope_cte}),
    r AS MATERIALIZED (SELECT m.vid, m.id, m.actor_id AS actor, (m.embedding <#> %(q)b) * -1 AS cos,
        (m.context_embedding <#> %(q)b) * -1 AS ccos, m.created_at AS created, m.tokens AS toks,
        CASE WHEN m.context_embedding IS NULL THEN m.tokens ELSE m.context_tokens END AS ctoks,
        cardinality(m.tokens) AS dl, coalesce(cardinality(m.context_tokens), cardinality(m.tokens)) AS cdl,
        {js} AS js
        FROM {t} m WHERE {cond}{bound} OFFSET 0)
    SELECT s.version, s.n, a.*,
        (SELECT json_object_agg(g.vid, g.names)::text FROM (SELECT r.vid, array_agg(c.name ORDER BY c.name COLLATE "C")
            AS names FROM r JOIN {t}_memory_categories mc ON mc.memory_id = r.id
            JOIN {t}_categories c ON c.id = mc.category_id GROUP BY r.vid) g)
    FROM s, LATERAL (SELECT {", ".join(aggs)} FROM r) a"""


def row_array() -> str:
    """A memory row's columns (alias ``m``) as one text array, in :data:`COLUMNS` order (``metadata`` as JSON
    text; categories apart: :func:`fusion_sql`). Fusion sends it with every row of a small scope (the winners'
    are decoded), which saves a second round trip after the ranking: on a busy machine the server process
    waits for a core after the client's Python work. A text array costs the server a quarter of what
    building JSON did (no escaping, no type lookup per value)."""
    return "ARRAY[" + ", ".join(f"m.{c}::text" if c == "metadata" else f"m.{c}" for c in COLUMNS) + "]"
