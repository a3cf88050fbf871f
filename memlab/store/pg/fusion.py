"""Fusion search (the default mode) on PostgreSQL: the FAISS engine's six channels, fused by its code.

Every row the filter allows is scored, as in :mod:`memlab.store.ranking`:

- ``dense`` / ``dense_context``: cosine of the query to ``embedding`` / ``context_embedding``
  (pgvector's inner product of unit vectors, computed in SQL; a row without a context embedding
  uses its own vector);
- ``keyword`` / ``keyword_context``: Okapi BM25 over ``tokens`` (speaker + memory text) and
  ``context_tokens`` (the context window; NULL = the row has none and uses ``tokens``), with the
  corpus rule of the FAISS engine: N, mean length, document frequencies and the idf floor over
  the allowed rows only. The arithmetic is :func:`memlab.store.keyword.bm25_rows` /
  :func:`~memlab.store.keyword.mean_idf`, the FAISS engine's own;
- ``speaker``: :func:`memlab.store.ranking.speaker_match` on the rows' ``actor_id``;
- ``time``: :func:`memlab.store.ranking.time_scores` on the rows' ``created_at``.

Then :func:`memlab.store.ranking.rank_fused` (the FAISS engine's CombSUM, order, cosine threshold
and ``explain``), with ``vid`` as the row position (insertion order breaks ties, as there).

Round trips: two. One statement returns, per allowed row, its vid, actor, both cosines (computed by
pgvector) and both term lists; the BM25 statistics (lengths, the query terms' frequencies and, for
the idf floor, the scope vocabulary's document frequencies) are counted from those lists in this
process (measured faster than counting them in SQL: benchmarks/bench_pg_fusion.py). The second
statement fetches the winners' rows.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain
from typing import Any, Mapping, Optional

import numpy as np

from memlab.store.keyword import bm25_rows, mean_idf
from memlab.store.pg.sql import where
from memlab.store.pg.transaction import decode, row_sql
from memlab.store.ranking import fusion_channels, rank_fused, speaker_match, time_scores


def _postings(docs: list[list[str]], terms: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """term -> (indices of the documents holding it, ascending; its term frequency there), for the query's terms."""
    out = {}
    for term in terms:
        idx = [i for i, doc in enumerate(docs) if term in doc]
        if idx:
            out[term] = (np.asarray(idx, dtype=np.int64), np.asarray([docs[i].count(term) for i in idx], dtype=np.float64))
    return out


def _corpus_mean_idf(docs: list[list[str]]) -> float:
    """Mean idf over the documents' vocabulary (each term's document frequency: the rows holding it)."""
    df = Counter(chain.from_iterable(set(doc) for doc in docs))
    return mean_idf(np.fromiter(df.values(), dtype=np.float64, count=len(df)), len(docs))


def _bm25(query_terms: list[str], docs: list[list[str]], k1: float, b: float) -> np.ndarray:
    """BM25 of every document (0 where no query term occurs), the corpus being ``docs``: as ranking._bm25_over."""
    out = np.zeros(len(docs))
    postings = _postings(docs, list(dict.fromkeys(query_terms)))
    if not postings:  # no document holds a query term (or none has a token): nothing matches
        return out
    doc_len = np.fromiter(map(len, docs), dtype=np.float64, count=len(docs))
    idx, scores = bm25_rows(query_terms, postings, doc_len, float(doc_len.mean()), k1, b,
                            lambda: _corpus_mean_idf(docs))
    out[idx] = scores
    return out


def channel_scores(conn: Any, t: str, q: np.ndarray, text: str, node: Any, channels: list[str], *,
                   analyzer: Any, k1: float, b: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(vids of the allowed rows, ascending; raw score of each named channel over them), in one statement."""
    cond, params = where(t, node)
    rows = conn.execute(
        f"SELECT m.vid, m.actor_id, (m.embedding <#> %(q)b) * -1, (m.context_embedding <#> %(q)b) * -1, "
        f"m.tokens, m.context_tokens, m.created_at FROM {t} m WHERE {cond} ORDER BY m.vid", {**params, "q": q},
        binary=True).fetchall()
    if not rows:
        return np.empty(0, dtype=np.int64), {}
    vids, actors, cos, ctx_cos, tokens, ctx_tokens, created = zip(*rows)
    vids = np.asarray(vids, dtype=np.int64)
    query_terms = analyzer.analyze(text)
    out: dict[str, np.ndarray] = {}
    # as the FAISS engine: without any context embedding in the allowed rows the context channels
    # ARE the plain ones (the same arrays, so fusion normalises them once)
    has_ctx = np.fromiter((c is not None for c in ctx_cos), dtype=bool, count=len(vids))
    any_ctx = bool(has_ctx.any())
    if "dense" in channels or ("dense_context" in channels and not any_ctx):
        out["dense"] = np.asarray(cos, dtype=np.float64)
    if "dense_context" in channels:
        out["dense_context"] = np.where(has_ctx, np.asarray([c if c is not None else 0.0 for c in ctx_cos]),
                                        np.asarray(cos, dtype=np.float64)) if any_ctx else out["dense"]
    if "keyword" in channels or ("keyword_context" in channels and not any_ctx):
        out["keyword"] = _bm25(query_terms, tokens, k1, b)
    if "keyword_context" in channels:
        # a row without a context window (context_tokens NULL) is scored on its own tokens
        out["keyword_context"] = _bm25(query_terms, [c if c is not None else d for c, d in zip(ctx_tokens, tokens)],
                                       k1, b) if any_ctx else out["keyword"]
    if "speaker" in channels:
        out["speaker"] = speaker_match(np.array(actors, dtype=object), text)
    if "time" in channels:
        out["time"] = time_scores(list(created), text)
    return vids, out


def fused(conn: Any, t: str, q: np.ndarray, text: str, node: Any, *, weights: Mapping[str, float],
          normalization: str, limit: int, threshold: Optional[float], explain: bool, analyzer: Any,
          k1: float, b: float) -> list[tuple[dict, float, dict]]:
    """The FAISS engine's fusion search on PostgreSQL: (row, cosine, extra), best first (see module docstring)."""
    vids, raw = channel_scores(conn, t, q, text, node, fusion_channels(weights), analyzer=analyzer, k1=k1, b=b)
    if not len(vids):
        return []
    hits = rank_fused(raw, vids, weights=weights, normalization=normalization, limit=limit, threshold=threshold,
                      explain=explain)
    if not hits:
        return []
    found = {int(r[0]): decode(r) for r in conn.execute(
        f"SELECT {row_sql(t)} FROM {t} m WHERE m.vid = ANY(%s)", ([vid for vid, _, _ in hits],)).fetchall()}
    # a row deleted between the two statements is gone
    return [(found[vid], cos, extra) for vid, cos, extra in hits if vid in found]
