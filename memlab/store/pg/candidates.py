"""The PostgreSQL engine's side of a search: raw channel values over the rows a filter allows.

:class:`PgCandidates` implements :class:`memlab.ranking.modes.Candidates` with ``vid`` (insertion
order) as the row key, the filter pushed into every statement:

- dense: :func:`memlab.store.pg.search.dense` (exact, or HNSW for large scopes); its rows are kept
  so the answer does not fetch them again; the scope size (the calibrated score's ``log_n``) is the scope
  statistics' (a ``count(*)`` only for other filters, or when an expired row may be left out);
- keyword: the scope's BM25 counts in one statement (:func:`memlab.store.pg.search.bm25_sql`), the
  arithmetic :func:`memlab.ranking.bm25.bm25_of_counts`; with a scope filter N and the total length are the
  scope statistics' (likewise) and the idf floor's vocabulary is fusion's cached one while the scope's
  version matches;
- fusion's channels: ONE statement returning ONE row (:func:`memlab.store.pg.search.fusion_sql`): per
  allowed row, in vid order and as arrays (a few arrays decode much faster than a hundred row tuples), its
  vid, actor, both cosines (computed by pgvector: ``embedding`` / ``context_embedding``, a row without a
  context embedding uses its own vector), its date, both document lengths and -- only for rows holding a
  query term -- both documents' terms as one text each (:mod:`memlab.store.pg.terms`: counted by substring);
  BM25 over them is :func:`memlab.ranking.bm25.bm25_rows` with the FAISS engine's corpus rule (the allowed
  rows). BM25's idf floor needs the document frequencies of the scope's whole vocabulary, and only when a
  query term has a negative idf: then every row's terms are needed and counted, and the counts are cached
  per scope version (:mod:`memlab.store.pg.stats`): the statement reads the scope's version from
  ``<collection>_scope_stats`` and sends every row's terms only when the cache does not hold both
  vocabularies of that version (a scope's first search, the first after any process wrote to it, or one
  after searches that needed neither); a search counts a vocabulary only when it needs it.
  Filters other than a scope (metadata, categories, state) are not cached: every row's terms come back.

Fusion over a large allowed set (``fusion_exact_below`` rows or more, by the scope statistics or, for
a filter without a scope id, the planner's estimate; default :data:`memlab.store.pg.search.EXACT_BELOW`,
the threshold of HNSW too) is bounded: it ranks a candidate pool -- the :data:`FUSION_POOL` rows nearest
by cosine (:func:`memlab.store.pg.search.dense`: HNSW when the table has the index) and at most
:data:`KEYWORD_POOL` rows holding a query term, an equal share per distinct query term (through the
``tokens`` GIN index, the first rows holding it in table order: a rare term brings all its rows, a term
in half the store a sample; context-window terms nominate none) -- as a scope of its own: every
channel, BM25's corpus and the normalisation are the pool's. Below the threshold fusion is exact over
every allowed row and ranks as the FAISS engine does (tests/pg/test_fusion_parity.py).

Fusion's statement also brings each row whole in a scope of fewer than
:data:`memlab.store.pg.search.INLINE_ROWS` rows (a text array per row, decoded only for the winners; category
names by one join), so such a search is ONE round trip; in larger scopes, and in other modes, the rows of the answer
are read in :meth:`PgCandidates.rows` (one statement for those not already at hand).
"""

from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np

from memlab.ranking.bm25 import bm25_of_counts
from memlab.ranking.channels import channel_values
from memlab.store.pg import search as Q
from memlab.store.pg import terms as T
from memlab.store.pg.sql import where
from memlab.store.pg.stats import SCOPE_FIELDS, ScopeCache, conjuncts, scope_of, scope_sql
from memlab.store.faiss.table import COLUMNS
from memlab.store.pg.transaction import decode, row_sql

FUSION_POOL = 1000  # bounded fusion: rows nearest by cosine in the pool
KEYWORD_POOL = 1000  # bounded fusion: at most this many rows holding a query term join the pool
BM25_CHANNELS = ("keyword", "keyword_context")
_META = COLUMNS.index("metadata")


def _unscoped(node: Any) -> bool:
    """No scope id equality ANDed at the top of the filter: the allowed set may be the whole store."""
    return not any(getattr(leaf, "field", None) in SCOPE_FIELDS and leaf.op == "eq" for leaf in conjuncts(node))


class PgCandidates:
    """The allowed rows of one search, read on one connection."""

    inline_rows = True  # fusion's statement brings a small scope's rows whole (else the winners are read after)

    def __init__(self, conn: Any, t: str, q: np.ndarray, node: Any, *, analyzer: Any, k1: float, b: float,
                 dense_opts: dict, cache: Optional[ScopeCache] = None, fusion_exact_below: int = Q.EXACT_BELOW):
        self.conn, self.t, self.q, self.node = conn, t, q, node
        self.analyzer, self.k1, self.b, self.dense_opts = analyzer, k1, b, dense_opts
        self.cache, self.fusion_exact_below = cache, int(fusion_exact_below or 0)
        self._rows: dict[int, dict] = {}  # vid -> row, from statements that brought whole rows
        self._raw: dict[int, list] = {}  # vid -> its columns as texts (fusion), decoded only if it wins
        self._cats: dict[int, list] = {}  # vid -> category names, of the rows in _raw that have any
        self._cos: dict[int, float] = {}  # vid -> cosine
        self._vocab: dict[str, list] = {}  # BM25 channel -> the allowed rows' vocabulary dfs
        self._count: dict[str, Any] = {}  # BM25 channel -> counts its vocabulary (when every row's terms came)
        self.ceilings: dict[str, float] = {}  # BM25 channel -> the query's BM25 ceiling over the allowed rows
        self.reference_date = None  # datetime that relative dates in the query are read against
        self._n: Optional[int] = None  # rows the filter allows, once a statement has counted them

    def scope_size(self) -> int:
        if self._n is None:  # dense search only: the BM25 and fusion statements count the rows already
            cond, params = where(self.t, self.node)
            count = f"(SELECT count(*) FROM {self.t} m WHERE {cond})"
            scoped = scope_of(self.node)
            if scoped is not None:  # the scope statistics, exact unless expired rows may be left out
                cte, scope_params = scope_sql(self.t, scoped[0])
                count = f"coalesce((SELECT s.n FROM ({cte}) s WHERE %(exact)s OR s.expiring = 0), {count})"
                params = {**params, **scope_params, "exact": scoped[1] is None}
            self._n = int(self.conn.execute(f"SELECT {count}", params, prepare=True).fetchone()[0])
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
        args, scope_cte = {**params, "terms": distinct}, None
        scoped = scope_of(self.node) if self.cache is not None else None
        if scoped is not None:  # N and the total length from the scope statistics, the vocabulary from the cache
            cached_version, payload = self.cache.peek(scoped)
            scope_cte, scope_params = scope_sql(self.t, scoped[0])
            cached = cached_version if (payload or {}).get("keyword") is not None else None
            args.update(scope_params, exact=scoped[1] is None, cached=cached)
        n, total, vids, dls, toks, cs, vocab_dfs, version = self.conn.execute(
            Q.bm25_sql(self.t, cond, scope_cte), args, prepare=True).fetchone()
        if scoped is not None and vocab_dfs is None and version is not None and version == cached:
            vocab_dfs = payload["keyword"]
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
        terms = self.analyzer.analyze(text)
        distinct = list(dict.fromkeys(terms))
        cond, params = where(self.t, self.node)
        args = {**params, "q": self.q, "terms": distinct}
        scoped = scope_of(self.node) if self.cache is not None else None
        if scoped is None:  # any other filter: nothing cached, the vocabularies counted when needed
            if self.fusion_exact_below and _unscoped(self.node) and \
                    Q.estimated_rows(self.conn, self.t, cond, params) >= self.fusion_exact_below:
                return self._pool_channels(text, names, terms, distinct, cond, params)
            got = self.conn.execute(Q.fusion_sql(self.t, cond, whole=self.inline_rows), args, binary=True,
                                    prepare=True).fetchone()
            return self._exact_channels(text, names, terms, got, None)
        cached_version, payload = self.cache.peek(scoped)
        complete = payload is not None and all(c in payload for c in BM25_CHANNELS)
        scope_cte, scope_params = scope_sql(self.t, scoped[0])
        # the scope's version rides along; every row's terms come back only when the cache does not hold both
        # vocabularies of the current version (SQL compares); a scope of fusion_exact_below rows or more
        # returns no row
        got = self.conn.execute(
            Q.fusion_sql(self.t, cond, scope_cte, whole=self.inline_rows),
            {**args, **scope_params, "cached": cached_version if complete else None,
             "bound": self.fusion_exact_below or 2 ** 62}, binary=True, prepare=True).fetchone()
        version, n = got[0], got[1]
        if self.fusion_exact_below and n >= self.fusion_exact_below:
            return self._pool_channels(text, names, terms, distinct, cond, params)
        same = payload is not None and version == cached_version
        self.cache.count(same and complete)
        # a miss counts a vocabulary only if this search needs it (a negative idf); one counted before at
        # this version is kept
        out = self._exact_channels(text, names, terms, got, payload if same and complete else None,
                                   dict(payload) if same else {})
        if not (same and complete):
            self.cache.put(scoped, version, dict(self._vocab))
        return out

    def _pool_channels(self, text: str, names: list[str], terms: list[str], distinct: list[str], cond: str,
                       params: dict) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Fusion over a large allowed set: a candidate pool (module docstring), ranked as a scope of its own."""
        if self.dense_opts.get("ann"):  # the HNSW index scan (memlab.store.pg.search.dense)
            pool = {int(v) for v in self.dense_top(FUSION_POOL)[0].tolist()}
        else:  # exact: only the vids (whole rows of a thousand candidates cost more than the scan)
            pool = {int(r[0]) for r in self.conn.execute(
                f"SELECT m.vid FROM {self.t} m WHERE {cond} ORDER BY m.embedding <#> %(q)b, m.vid LIMIT %(k)s",
                {**params, "q": self.q, "k": FUSION_POOL}, binary=True)}
        if distinct:  # per query term, the first rows holding it (the GIN index; a LIMIT without ORDER BY stops early)
            pool.update(int(r[0]) for r in self.conn.execute(
                f"SELECT x.vid FROM unnest(%(terms)s::text[]) AS u(term), LATERAL (SELECT m.vid FROM {self.t} m "
                f"WHERE {cond} AND m.tokens @> ARRAY[u.term] LIMIT %(k)s) x",
                {**params, "terms": distinct, "k": max(1, KEYWORD_POOL // len(distinct))}))
        got = self.conn.execute(Q.fusion_sql(self.t, f"{cond} AND m.vid = ANY(%(pool)s)", whole=False),
                                {**params, "q": self.q, "terms": distinct, "pool": sorted(pool)},
                                binary=True).fetchone()
        return self._exact_channels(text, names, terms, got, None)

    def _exact_channels(self, text: str, names: list[str], terms: list[str], got: tuple,
                        vocab: Optional[dict], known: Optional[dict] = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The channels over the allowed rows from :func:`memlab.store.pg.search.fusion_sql`'s row ``got``.
        ``vocab``: the scope's cached vocabulary document frequencies per BM25 channel; None: ``got`` carries
        every row's terms, and a channel's vocabulary is counted when its BM25 needs it (into ``self._vocab``,
        for the cache; ``known``: those already counted)."""
        (_, _, vids, actors, cos, ctx_cos, any_ctx, created, dls, joined, ctx_dls, ctx_lens, ctx_joined,
         raw, cats) = got
        if not vids:
            self._n = 0
            self._vocab = vocab if vocab is not None else {c: [] for c in BM25_CHANNELS}
            return np.empty(0, dtype=np.int64), {}
        self._n = len(vids)
        if raw:  # else rows() reads the winners
            self._raw = dict(zip(vids, raw))
        if cats:
            self._cats = {int(k): v for k, v in json.loads(cats).items()}
        docs, ctx_docs = self._checked(vids, joined, dls, ctx_joined, ctx_lens)
        self._vocab = dict(known or {}) if vocab is None else vocab
        if vocab is None:  # every row's terms are here: a vocabulary is counted when first needed
            def keyword() -> list:
                dfs = T.vocabulary_dfs(docs, dls)
                if not any_ctx:  # no context window: the context documents are the rows' own
                    self._vocab["keyword_context"] = dfs
                return dfs

            self._count = {"keyword": keyword, "keyword_context": (lambda: T.vocabulary_dfs(ctx_docs, ctx_lens))
                           if any_ctx else (lambda: self._vocabulary("keyword"))}
        return np.asarray(vids, dtype=np.int64), channel_values(
            names, text, any_ctx=bool(any_ctx), dense=lambda: cos, dense_context=lambda: ctx_cos,
            keyword=lambda: self._bm25_rows(terms, dls, docs, "keyword"),
            keyword_context=lambda: self._bm25_rows(terms, ctx_dls, ctx_docs, "keyword_context"),
            actors=lambda: np.array(actors, dtype=object),
            created_at=lambda: list(created), reference_date=self.reference_date,
            texts=lambda: self._texts(vids))

    def _checked(self, vids: list, docs: list, dls: list, ctx_docs: list, ctx_lens: list) -> tuple[list, list]:
        """Both documents of every row as sent (:mod:`memlab.store.pg.terms`); a row whose text does not check
        (a term holding the separator) is read again as arrays."""
        bad = sorted(set(T.bad_rows(docs, dls)) | set(T.bad_rows(ctx_docs, ctx_lens)))
        if bad:
            docs, ctx_docs = list(docs), list(ctx_docs)
            again = {v: (a, c) for v, a, c in self.conn.execute(
                f"SELECT vid, tokens, CASE WHEN context_embedding IS NULL THEN tokens ELSE context_tokens END "
                f"FROM {self.t} WHERE vid = ANY(%s)", ([vids[i] for i in bad],), binary=True).fetchall()}
            for i in bad:
                a, c = again.get(vids[i], ([], []))
                docs[i] = list(a) if docs[i] is not None else None
                ctx_docs[i] = list(c or []) if ctx_docs[i] is not None else None
        return docs, ctx_docs

    def _texts(self, vids: list) -> list:
        """The memories of rows ``vids`` (in that order), for a query that names a date: from the rows fusion
        brought whole, else one statement."""
        at = COLUMNS.index("memory")
        if all(v in self._raw for v in vids):
            return [self._raw[v][at] for v in vids]
        got = dict(self.conn.execute(f"SELECT vid, memory FROM {self.t} WHERE vid = ANY(%s)", (vids,)).fetchall())
        return [got.get(v) for v in vids]

    def _bm25_rows(self, terms: list[str], dls: Any, docs: Any, channel: str) -> np.ndarray:
        """BM25 of every row (0 where no query term occurs): :func:`memlab.store.pg.terms.bm25_channel`."""
        stats: dict = {}
        out = T.bm25_channel(terms, dls, docs, lambda: self._vocabulary(channel), self.k1, self.b, stats)
        self.ceilings[channel] = stats["ceiling"]
        return out

    def _vocabulary(self, channel: str) -> Optional[list]:
        """A BM25 channel's vocabulary document frequencies: cached, else counted now (every row's terms are
        at hand then), else None (a filter without a cache whose rows' terms did not all come)."""
        if channel not in self._vocab and channel in self._count:
            self._vocab[channel] = self._count[channel]()
        return self._vocab.get(channel)

    def rows(self, keys: list[int]) -> dict[int, dict]:
        """The rows of ``keys`` (vid -> row); a row deleted meanwhile is absent."""
        for k in keys:
            if k not in self._rows and k in self._raw:
                values = list(self._raw[k])
                values[_META] = None if values[_META] is None else json.loads(values[_META])
                self._rows[k] = decode((k, *values, self._cats.get(k)))
        missing = [k for k in keys if k not in self._rows]
        if missing:
            self._rows.update((int(r[0]), decode(r)) for r in self.conn.execute(
                f"SELECT {row_sql(self.t)} FROM {self.t} m WHERE m.vid = ANY(%s)", (missing,)).fetchall())
        return {k: self._rows[k] for k in keys if k in self._rows}
