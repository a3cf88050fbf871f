"""Search on PostgreSQL: dense, keyword (BM25) and hybrid, with the filter pushed into SQL.

* dense: ``ORDER BY -(embedding <#> q) DESC, vid`` over the rows the filter allows. Vectors are
  L2-normalised, so the inner product is the cosine, as in the FAISS engine. The ORDER BY
  expression is deliberately not ``embedding <#> q`` itself: an HNSW index can only serve that
  exact form, so the planner always scores every allowed row (exact and complete, no
  over-fetch-then-filter), using the scope indexes to find them.
* keyword: Okapi BM25 with the FAISS engine's constants and its corpus rule (N, mean length,
  document frequencies and the idf floor computed over the allowed rows only). SQL finds the
  allowed rows holding a query term (GIN index on ``tokens``) with their term counts; the
  arithmetic is the engine's, in numpy, so scores match up to float rounding.
* hybrid: reciprocal-rank fusion (:func:`memlab.store.keyword.fuse`) of the two rankings, each
  ``depth`` deep, ties by insertion order (``vid`` plays the FAISS engine's row position).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from memlab.store.keyword import EPSILON, fuse, keyword_ranking
from memlab.store.pg.sql import where
from memlab.store.pg.transaction import decode, row_sql


def dense(conn: Any, t: str, q: np.ndarray, node: Any, limit: int) -> list[tuple[dict, float]]:
    """(row, cosine) of the ``limit`` best allowed rows, best first, ties by insertion order."""
    cond, params = where(t, node)
    rows = conn.execute(
        f"SELECT {row_sql(t)}, (m.embedding <#> %(q)b) * -1 AS score FROM {t} m WHERE {cond} "
        f"ORDER BY score DESC, m.vid LIMIT %(limit)s", {**params, "q": q, "limit": int(limit)}).fetchall()
    return [(decode(r), float(r[-1])) for r in rows]


def _bm25(conn: Any, t: str, text: str, node: Any, analyzer: Any, k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """(vids holding a query term, their BM25 scores) over the allowed rows (see module docstring)."""
    query_tokens = analyzer.analyze(text)
    distinct = list(dict.fromkeys(query_tokens))
    if not distinct:
        return np.empty(0, dtype=np.int64), np.empty(0)
    cond, params = where(t, node)
    allowed = f"SELECT m.vid, m.tokens FROM {t} m WHERE {cond}"
    n, total = conn.execute(f"SELECT count(*), coalesce(sum(cardinality(a.tokens)), 0) FROM ({allowed}) a",
                            params).fetchone()
    if not n or not total:  # no allowed row has a token: nothing can match
        return np.empty(0, dtype=np.int64), np.empty(0)
    avgdl = float(total) / float(n)
    hits = conn.execute(
        f"SELECT a.vid, cardinality(a.tokens), u.tok, count(*) FROM ({allowed}) a, unnest(a.tokens) AS u(tok) "
        f"WHERE a.tokens && %(terms)s::text[] AND u.tok = ANY(%(terms)s::text[]) GROUP BY 1, 2, 3",
        {**params, "terms": distinct}).fetchall()
    if not hits:
        return np.empty(0, dtype=np.int64), np.empty(0)
    df: dict[str, int] = {}
    for _, _, tok, _ in hits:
        df[tok] = df.get(tok, 0) + 1
    idf = {tok: math.log(n - d + 0.5) - math.log(d + 0.5) for tok, d in df.items()}
    if any(v < 0 for v in idf.values()):  # rank_bm25's floor: epsilon * mean idf of the allowed rows' vocabulary
        dfs = np.array([d for (d,) in conn.execute(
            f"SELECT count(DISTINCT a.vid) FROM ({allowed}) a, unnest(a.tokens) AS u(tok) GROUP BY u.tok",
            params).fetchall()], dtype=np.float64)
        eps = EPSILON * float(np.mean(np.log(n - dfs + 0.5) - np.log(dfs + 0.5))) if len(dfs) else 0.0
        idf = {tok: (eps if v < 0 else v) for tok, v in idf.items()}
    vids = sorted({int(v) for v, _, _, _ in hits})
    at = {v: i for i, v in enumerate(vids)}
    scores = np.zeros(len(vids))
    tf_of = {(int(v), tok): (float(c), float(dl)) for v, dl, tok, c in hits}
    for tok in query_tokens:  # in query order, repeated tokens count again (as rank_bm25)
        if tok not in idf:
            continue
        for v in vids:
            found = tf_of.get((v, tok))
            if found is not None:
                tf, dl = found
                scores[at[v]] += idf[tok] * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)))
    return np.asarray(vids, dtype=np.int64), scores


def ranked(conn: Any, t: str, q: np.ndarray, text: str, node: Any, *, mode: str, limit: int,
           threshold: Optional[float], k_rrf: int, depth: int, analyzer: Any, k1: float,
           b: float) -> list[tuple[dict, float, dict]]:
    """Keyword or hybrid search: (row, cosine, {"keyword_score", "rank_score"}), best first."""
    kw_vids, kw_scores = _bm25(conn, t, text, node, analyzer, k1, b)
    kw_rank = kw_vids[keyword_ranking(kw_vids, kw_scores, depth)] if len(kw_vids) else kw_vids
    rankings = [kw_rank]
    if mode == "hybrid":
        dense_rows = dense(conn, t, q, node, depth)
        rankings = [np.asarray([r["vid"] for r, _ in dense_rows], dtype=np.int64), kw_rank]
    fused = fuse(rankings, k_rrf)
    if not fused:
        return []
    cand = [v for v, _ in fused]
    found = {int(r[0]): (decode(r), float(r[-1])) for r in conn.execute(
        f"SELECT {row_sql(t)}, (m.embedding <#> %b) * -1 FROM {t} m WHERE m.vid = ANY(%s)", (q, cand)).fetchall()}
    bm25 = dict(zip(kw_vids.tolist(), kw_scores.tolist()))
    out = []
    for vid, rrf in fused:
        if vid not in found:  # deleted between the two statements: gone
            continue
        row, cos = found[vid]
        if threshold is not None and cos < threshold:
            continue
        out.append((row, cos, {"keyword_score": float(bm25.get(vid, 0.0)), "rank_score": rrf}))
        if len(out) == limit:
            break
    return out
