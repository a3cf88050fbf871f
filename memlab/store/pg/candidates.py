"""The PostgreSQL engine's side of a search: raw channel values over the rows a filter allows.

:class:`PgCandidates` implements :class:`memlab.ranking.modes.Candidates` with ``vid`` (insertion
order) as the row key, the filter pushed into every statement:

- dense: :func:`memlab.store.pg.search.dense` (exact, or HNSW for large scopes); its rows are kept
  so the answer does not fetch them again;
- keyword: the scope's BM25 counts in one statement (:func:`memlab.store.pg.search.bm25_sql`), the
  arithmetic :func:`memlab.ranking.bm25.bm25_of_counts`;
- fusion's channels: one statement returns, per allowed row, its vid, actor, both cosines (computed
  by pgvector: ``embedding`` / ``context_embedding``, a row without a context embedding uses its own
  vector) and both term lists (``tokens``; ``context_tokens``, NULL = the row has none and uses
  ``tokens``); BM25 over them is :func:`memlab.ranking.bm25.bm25_of_docs` with the FAISS engine's
  corpus rule (measured faster than counting in SQL: benchmarks/bench_pg_fusion.py).

The rows of the answer are fetched by :meth:`PgCandidates.rows` (one statement for those not
already at hand). Round trips of a fusion search: two.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from memlab.ranking.bm25 import bm25_of_counts, bm25_of_docs
from memlab.ranking.channels import channel_values
from memlab.store.pg import search as Q
from memlab.store.pg.sql import where
from memlab.store.pg.transaction import decode, row_sql


class PgCandidates:
    """The allowed rows of one search, read on one connection."""

    def __init__(self, conn: Any, t: str, q: np.ndarray, node: Any, *, analyzer: Any, k1: float, b: float,
                 dense_opts: dict):
        self.conn, self.t, self.q, self.node = conn, t, q, node
        self.analyzer, self.k1, self.b, self.dense_opts = analyzer, k1, b, dense_opts
        self._rows: dict[int, dict] = {}  # vid -> row, from statements that brought whole rows
        self._cos: dict[int, float] = {}  # vid -> cosine
        self.ceilings: dict[str, float] = {}
        self.reference_date = None  # datetime that relative dates in the query are read against
        self._n: Optional[int] = None  # rows the filter allows, once a statement has counted them

    def scope_size(self) -> int:
        if self._n is None:  # dense search only: the BM25 and channel statements count the rows already
            cond, params = where(self.t, self.node)
            self._n = int(self.conn.execute(f"SELECT count(*) FROM {self.t} m WHERE {cond}", params).fetchone()[0])
        return self._n

    def dense_top(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        hits = Q.dense(self.conn, self.t, self.q, self.node, limit, **self.dense_opts)
        for row, cos in hits:
            self._rows[row["vid"]], self._cos[row["vid"]] = row, cos
        return (np.asarray([r["vid"] for r, _ in hits], dtype=np.int64),
                np.asarray([c for _, c in hits], dtype=np.float64))

    def bm25(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        terms = self.analyzer.analyze(text)
        distinct = list(dict.fromkeys(terms))
        if not distinct:
            return np.empty(0, dtype=np.int64), np.empty(0)
        cond, params = where(self.t, self.node)
        n, total, vids, dls, toks, cs, vocab_dfs = self.conn.execute(
            Q.bm25_sql(self.t, cond), {**params, "terms": distinct}).fetchone()
        self._n = int(n or 0)
        stats: dict = {"ceiling": 0.0}
        self.ceilings["keyword"] = 0.0
        if not vids:  # no allowed row holds a query term
            return np.empty(0, dtype=np.int64), np.empty(0)
        got = bm25_of_counts(terms, n, total, list(zip(vids, dls, toks, cs)), vocab_dfs, self.k1, self.b, stats)
        self.ceilings["keyword"] = stats["ceiling"]
        return got

    def cosines(self, keys: np.ndarray) -> np.ndarray:
        missing = [int(k) for k in keys.tolist() if int(k) not in self._cos]
        if missing:
            self._cos.update((int(v), float(c)) for v, c in self.conn.execute(
                f"SELECT m.vid, (m.embedding <#> %b) * -1 FROM {self.t} m WHERE m.vid = ANY(%s)",
                (self.q, missing)).fetchall())
        # a row deleted since the ranking statement has no cosine: NaN, and the search skips it
        return np.asarray([self._cos.get(int(k), np.nan) for k in keys.tolist()], dtype=np.float64)

    def channels(self, text: str, names: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        cond, params = where(self.t, self.node)
        found = self.conn.execute(
            f"SELECT m.vid, m.actor_id, (m.embedding <#> %(q)b) * -1, (m.context_embedding <#> %(q)b) * -1, "
            f"m.tokens, m.context_tokens, m.created_at FROM {self.t} m WHERE {cond} ORDER BY m.vid",
            {**params, "q": self.q}, binary=True).fetchall()
        if not found:
            return np.empty(0, dtype=np.int64), {}
        vids, actors, cos, ctx_cos, tokens, ctx_tokens, created = zip(*found)
        self._n = len(vids)
        terms = self.analyzer.analyze(text)
        has_ctx = np.fromiter((c is not None for c in ctx_cos), dtype=bool, count=len(vids))
        return np.asarray(vids, dtype=np.int64), channel_values(
            names, text, any_ctx=bool(has_ctx.any()),
            dense=lambda: cos,
            dense_context=lambda: np.where(has_ctx, np.asarray([c if c is not None else 0.0 for c in ctx_cos]),
                                           np.asarray(cos, dtype=np.float64)),
            keyword=lambda: self._bm25_docs(terms, tokens, "keyword"),
            keyword_context=lambda: self._bm25_docs(
                terms, [c if c is not None else d for c, d in zip(ctx_tokens, tokens)], "keyword_context"),
            actors=lambda: np.array(actors, dtype=object),
            created_at=lambda: list(created), reference_date=self.reference_date,
            texts=lambda: self._texts(list(vids)))

    def _texts(self, vids: list) -> list:
        """The memories of rows ``vids`` (in that order): fetched only for a query that names a date."""
        got = dict(self.conn.execute(f"SELECT vid, memory FROM {self.t} WHERE vid = ANY(%s)", (vids,)).fetchall())
        return [got.get(v) for v in vids]

    def _bm25_docs(self, terms: list[str], docs: Any, channel: str) -> np.ndarray:
        stats: dict = {}
        out = bm25_of_docs(terms, docs, self.k1, self.b, stats)
        self.ceilings[channel] = stats.get("ceiling", 0.0)
        return out

    def rows(self, keys: list[int]) -> dict[int, dict]:
        """The rows of ``keys`` (vid -> row); a row deleted meanwhile is absent."""
        missing = [k for k in keys if k not in self._rows]
        if missing:
            self._rows.update((int(r[0]), decode(r)) for r in self.conn.execute(
                f"SELECT {row_sql(self.t)} FROM {self.t} m WHERE m.vid = ANY(%s)", (missing,)).fetchall())
        return {k: self._rows[k] for k in keys if k in self._rows}
