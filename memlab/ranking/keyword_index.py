"""The FAISS engine's keyword index: an in-memory inverted index over a table's texts, by position.

Per token the positions holding it with their term frequencies, plus each row's length and its
distinct tokens. The table keeps it up to date on every write once it exists
(:meth:`memlab.store.faiss.table.Table.keyword_index` builds it the first time a keyword search
runs, so dense-only users pay nothing). Terms come from an :class:`~memlab.ranking.analyzer.Analyzer`
(tokens, stop words, Snowball stems); scores are :func:`memlab.ranking.bm25.bm25_rows` over the
allowed rows (see :mod:`memlab.ranking.bm25` for the corpus rule).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Iterable, Optional

import numpy as np

from memlab.ranking.analyzer import Analyzer, default_analyzer
from memlab.ranking.bm25 import B, K1, bm25_rows, mean_idf

# term occurrences the per-scope cache of the forward BM25 path may hold (~24 bytes each: ~24 MB)
SCOPE_CACHE_OCCURRENCES = 1_000_000


class KeywordIndex:
    """Postings (token -> {position: tf}), row lengths and each row's distinct token ids."""

    def __init__(self, capacity: int = 1024, analyzer: Optional[Analyzer] = None,
                 k1: float = K1, b: float = B):
        self.analyzer = analyzer or default_analyzer()
        self.k1, self.b = float(k1), float(b)
        self.vocab: dict[str, int] = {}
        self.postings: list[dict[int, int]] = []
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # tid -> (positions, tfs), cached
        self.doc_terms: list[Optional[np.ndarray]] = []
        self.doc_tfs: list[Optional[np.ndarray]] = []  # term frequencies, parallel to doc_terms
        self.doc_len = np.zeros(capacity, dtype=np.float64)
        # mean idf of a subset's vocabulary, by subset; valid until the next write
        self._mean_idf_cache: dict[tuple[int, bytes], float] = {}
        # a small subset's concatenated term lists (terms, row of each, tfs), by subset; valid until
        # the next write, so repeated searches of one user's scope skip gathering them
        self._scope_cache: dict[tuple[int, bytes], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._scope_cached = 0  # term occurrences held by _scope_cache
        self._cached_upto = -1  # highest position in any cached subset
        # every row's (term id, tf) list also lives in two flat append-only arrays (a row rewritten
        # gets a new segment), so a scope's term lists are gathered by one vectorised index instead
        # of concatenating one small array per row (the first search of a scope pays for that)
        self._flat_terms = np.empty(4 * capacity, dtype=np.int64)
        self._flat_tfs = np.empty(4 * capacity, dtype=np.float64)
        self._flat_used = 0
        self._seg_start = np.zeros(capacity, dtype=np.int64)
        self._seg_len = np.zeros(capacity, dtype=np.int64)

    @classmethod
    def build(cls, texts: Iterable[Optional[str]], analyzer: Optional[Analyzer] = None,
              k1: float = K1, b: float = B) -> "KeywordIndex":
        """An index of ``texts`` at positions 0, 1, 2, ..."""
        texts = list(texts)
        index = cls(capacity=max(1024, len(texts)), analyzer=analyzer, k1=k1, b=b)
        for pos, text in enumerate(texts):
            index.set(pos, text)
        return index

    def set(self, pos: int, text: Optional[str]) -> None:
        """Index ``text`` at ``pos``, replacing whatever that position held."""
        old = self.doc_terms[pos] if pos < len(self.doc_terms) else None
        if old is not None or pos <= self._cached_upto:
            # a cached subset may hold this row: its term lists and mean idf are stale. A new row
            # past every cached subset (an add) leaves them valid, so other scopes stay warm.
            self._mean_idf_cache.clear()
            self._scope_cache.clear()
            self._scope_cached = 0
            self._cached_upto = -1
        if old is not None:
            for tid in old.tolist():
                self.postings[tid].pop(pos, None)
                self._arrays.pop(tid, None)
        counts = Counter(self.analyzer.analyze(text or ""))
        tids = np.empty(len(counts), dtype=np.int64)
        tfs = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        for i, (token, tf) in enumerate(counts.items()):
            tid = self.vocab.get(token)
            if tid is None:
                tid = self.vocab[token] = len(self.postings)
                self.postings.append({})
            self.postings[tid][pos] = tf
            self._arrays.pop(tid, None)
            tids[i] = tid
        if pos >= len(self.doc_terms):
            self.doc_terms.extend([None] * (pos + 1 - len(self.doc_terms)))
            self.doc_tfs.extend([None] * (pos + 1 - len(self.doc_tfs)))
        self.doc_terms[pos] = tids
        self.doc_tfs[pos] = tfs
        if pos >= len(self.doc_len):
            grown = np.zeros(max(2 * len(self.doc_len), pos + 1), dtype=np.float64)
            grown[: len(self.doc_len)] = self.doc_len
            self.doc_len = grown
        self.doc_len[pos] = sum(counts.values())
        self._append_segment(pos, tids, tfs)

    def _append_segment(self, pos: int, tids: np.ndarray, tfs: np.ndarray) -> None:
        end = self._flat_used + len(tids)
        if end > len(self._flat_terms):
            size = max(2 * len(self._flat_terms), end)
            self._flat_terms = np.resize(self._flat_terms, size)
            self._flat_tfs = np.resize(self._flat_tfs, size)
        self._flat_terms[self._flat_used:end] = tids
        self._flat_tfs[self._flat_used:end] = tfs
        if pos >= len(self._seg_start):
            size = max(2 * len(self._seg_start), pos + 1)
            self._seg_start = np.concatenate([self._seg_start, np.zeros(size - len(self._seg_start), np.int64)])
            self._seg_len = np.concatenate([self._seg_len, np.zeros(size - len(self._seg_len), np.int64)])
        self._seg_start[pos] = self._flat_used
        self._seg_len[pos] = len(tids)
        self._flat_used = end

    def _posting_arrays(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        arrays = self._arrays.get(tid)
        if arrays is None:
            post = self.postings[tid]
            arrays = (np.fromiter(post.keys(), dtype=np.int64, count=len(post)),
                      np.fromiter(post.values(), dtype=np.float64, count=len(post)))
            self._arrays[tid] = arrays
        return arrays

    def _mean_idf(self, allowed: np.ndarray, all_terms: Optional[np.ndarray] = None) -> float:
        """Mean idf over every token of the allowed rows (rank_bm25's ``average_idf``).

        It needs every allowed row's tokens (``all_terms``: their concatenation, when the caller
        has it), so it is cached per subset until the next write (repeated searches of one scope
        pay for it once).
        """
        key = (len(allowed), hashlib.blake2b(allowed.tobytes(), digest_size=16).digest())
        cached = self._mean_idf_cache.get(key)
        if cached is not None:
            return cached
        if all_terms is None:
            terms = self.doc_terms
            parts = [terms[p] for p in allowed.tolist() if terms[p] is not None]
            all_terms = np.concatenate(parts) if parts else None
        if all_terms is None or not len(all_terms):
            df = np.zeros(0)
        elif len(all_terms) * 8 < len(self.postings):
            # a small scope in a large vocabulary: sorting its few terms beats a vocabulary-sized
            # bincount (same document frequencies, same ascending term order, so the same mean)
            df = np.unique(all_terms, return_counts=True)[1].astype(np.float64)
        else:
            df = np.bincount(all_terms)
            df = df[df > 0].astype(np.float64)
        mean = mean_idf(df, len(allowed))
        if len(self._mean_idf_cache) >= 4096:  # oldest subset out first
            self._mean_idf_cache.pop(next(iter(self._mean_idf_cache)))
        self._mean_idf_cache[key] = mean
        if len(allowed):
            self._cached_upto = max(self._cached_upto, int(allowed.max()))
        return mean

    def _scope_terms(self, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(term ids, row index into ``allowed``, tfs) of every term occurrence of the allowed rows."""
        key = (len(allowed), hashlib.blake2b(allowed.tobytes(), digest_size=16).digest())
        cached = self._scope_cache.get(key)
        if cached is not None:
            return cached
        inside = allowed < len(self._seg_len)  # positions never indexed hold no terms
        lens = np.zeros(len(allowed), dtype=np.int64)
        lens[inside] = self._seg_len[allowed[inside]]
        starts = np.zeros(len(allowed), dtype=np.int64)
        starts[inside] = self._seg_start[allowed[inside]]
        # flat index of every occurrence: its row's segment start + its offset inside the segment
        ends = np.cumsum(lens)
        at = np.repeat(starts - (ends - lens), lens) + np.arange(int(ends[-1]) if len(ends) else 0)
        terms = self._flat_terms[at]
        tfs = self._flat_tfs[at]
        rows = np.repeat(np.arange(len(allowed)), lens)
        # bounded by term occurrences (~24 bytes each), oldest scope out first
        self._scope_cached += len(terms)
        while self._scope_cache and self._scope_cached > SCOPE_CACHE_OCCURRENCES:
            self._scope_cached -= len(self._scope_cache.pop(next(iter(self._scope_cache)))[0])
        self._scope_cache[key] = (terms, rows, tfs)
        if len(allowed):
            self._cached_upto = max(self._cached_upto, int(allowed.max()))
        return terms, rows, tfs

    def _score_forward(self, query_terms: list[str], allowed: np.ndarray, avgdl: float,
                       stats: Optional[dict] = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`score` computed from the allowed rows' term lists (same numbers, same order of sums)."""
        terms, rows, tfs = self._scope_terms(allowed)
        known = [self.vocab[t] for t in dict.fromkeys(query_terms) if t in self.vocab]
        doc_len = self.doc_len[allowed]
        postings = {}
        for tid in known:
            hit = np.flatnonzero(terms == tid)
            if len(hit):
                postings[tid] = (rows[hit], tfs[hit], doc_len[rows[hit]])
        idx, scores = bm25_rows([self.vocab.get(t) for t in query_terms], postings, len(allowed), avgdl,
                                self.k1, self.b, lambda: self._mean_idf(allowed, terms), len(allowed), stats)
        return allowed[idx], scores

    def score(self, query: str, allowed: np.ndarray, mask: np.ndarray,
              stats: Optional[dict] = None) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of ``query`` over the rows ``allowed`` (positions; ``mask`` is the same as booleans).

        Returns (positions that contain at least one query token, their scores), by position. With
        ``stats`` (a dict), ``stats["ceiling"]`` is the query's BM25 ceiling (memlab.ranking.bm25.bm25_rows).
        """
        if stats is not None:
            stats["ceiling"] = 0.0
        n_docs = len(allowed)
        if n_docs == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        avgdl = float(self.doc_len[allowed].mean())
        if avgdl == 0.0:  # no allowed row has a token: nothing can match
            return np.empty(0, dtype=np.int64), np.empty(0)
        query_terms = self.analyzer.analyze(query)
        known = [self.vocab[t] for t in dict.fromkeys(query_terms) if t in self.vocab]
        if not known:
            return np.empty(0, dtype=np.int64), np.empty(0)
        # Small subsets (a user's scope) are scored from the rows' own term lists, so the cost grows
        # with the scope, not with how common the query terms are in the whole store.
        if n_docs * 16 < sum(len(self.postings[tid]) for tid in known):
            return self._score_forward(query_terms, allowed, avgdl, stats)
        postings = {}
        for tid in dict.fromkeys(known):
            pos, tf = self._posting_arrays(tid)
            keep = mask[pos] if len(pos) else np.zeros(0, dtype=bool)
            if keep.any():
                postings[tid] = (pos[keep], tf[keep], self.doc_len[pos[keep]])
        return bm25_rows([self.vocab.get(t) for t in query_terms], postings, n_docs, avgdl, self.k1, self.b,
                         lambda: self._mean_idf(allowed), len(mask), stats)
