"""Keyword (BM25) search and its reciprocal-rank fusion with dense search.

:class:`KeywordIndex` is an inverted index over the ``memory`` text of a table's rows, by
position: per token the positions holding it with their term frequencies, plus each row's
length and its distinct tokens. The table keeps it up to date on every write once it exists
(:meth:`memlab.store.table.Table.keyword_index` builds it the first time a keyword or hybrid
search runs, so dense-only users pay nothing).

Terms come from an :class:`~memlab.store.analyzer.Analyzer` (tokens, stop words, Snowball stems).
Scoring is Okapi BM25 exactly as ``rank_bm25.BM25Okapi`` computes it over the same terms (k1=1.5,
b=0.75 by default, both configurable; epsilon=0.25: a negative idf is replaced by
``epsilon * mean idf over the corpus vocabulary``),
where the *corpus* is the query's allowed subset: N, the mean document length, document
frequencies and the idf floor are computed over the allowed rows only, so a scoped search
behaves like BM25 built over that scope alone. A row without any word token has length 0.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from typing import Callable, Iterable, Optional

import numpy as np

from memlab.errors import ValidationError
from memlab.store.analyzer import Analyzer, default_analyzer

SEARCH_MODES = ("dense", "hybrid", "keyword", "fusion")
K1, B, EPSILON = 1.5, 0.75, 0.25
# term occurrences the per-scope cache of the forward BM25 path may hold (~24 bytes each: ~24 MB)
SCOPE_CACHE_OCCURRENCES = 1_000_000
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+``), no stop words, no stemming (the pre-analyzer tokenizer)."""
    return _TOKEN.findall(text.lower())


def mean_idf(df: np.ndarray, n_docs: int) -> float:
    """Mean idf of a corpus vocabulary (rank_bm25's ``average_idf``): ``df`` holds each distinct term's
    document frequency in a corpus of ``n_docs`` documents (0.0 for an empty vocabulary)."""
    n = float(n_docs)
    return float(np.mean(np.log(n - df + 0.5) - np.log(df + 0.5))) if len(df) else 0.0


def bm25_rows(query_keys: list, postings: dict, doc_len: np.ndarray, avgdl: float, k1: float, b: float,
              corpus_mean_idf: Callable[[], float]) -> tuple[np.ndarray, np.ndarray]:
    """Okapi BM25 (rank_bm25's arithmetic) of a query over a corpus of ``len(doc_len)`` documents.

    ``query_keys`` are the query's terms in query order (repeats count again; a key absent from
    ``postings`` contributes nothing); ``postings`` maps a term to (indices of the documents holding
    it, each once; its term frequency there); ``doc_len`` is every document's length and ``avgdl``
    their mean. A negative idf becomes ``EPSILON * corpus_mean_idf()`` (called at most once, only
    then). Engine-independent: the FAISS engine's forward path and the PostgreSQL engine share it.

    Returns (indices of the documents holding a query term, ascending; their scores).
    """
    n_docs = len(doc_len)
    per_term = {}
    eps = None
    for key in dict.fromkeys(query_keys):
        got = postings.get(key)
        if got is None or not len(got[0]):
            continue
        r, tf = got
        df = len(r)
        idf = math.log(n_docs - df + 0.5) - math.log(df + 0.5)
        if idf < 0:
            if eps is None:
                eps = EPSILON * corpus_mean_idf()
            idf = eps
        # the BM25 term-frequency part of every occurrence at once
        norm = k1 * (1 - b + b * doc_len[r] / avgdl)
        per_term[key] = (r, idf * (tf * (k1 + 1) / (tf + norm)))
    if not per_term:
        return np.empty(0, dtype=np.int64), np.empty(0)
    scores = np.zeros(n_docs)
    matched = np.zeros(n_docs, dtype=bool)
    for key in query_keys:  # query order, repeats count again: like rank_bm25
        got = per_term.get(key)
        if got is not None:
            scores[got[0]] += got[1]
            matched[got[0]] = True
    idx = np.flatnonzero(matched)
    return idx, scores[idx]


def check_mode(mode: object) -> str:
    if mode not in SEARCH_MODES:
        raise ValidationError(f"mode must be one of {', '.join(repr(m) for m in SEARCH_MODES)}, got {mode!r}.")
    return str(mode)


def check_k_rrf(k_rrf: object) -> int:
    if isinstance(k_rrf, bool) or not isinstance(k_rrf, (int, np.integer)) or k_rrf < 0:
        raise ValidationError(f"k_rrf must be a non-negative integer (60 is the usual value), got {k_rrf!r}.")
    return int(k_rrf)


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

    def _score_forward(self, query_terms: list[str], allowed: np.ndarray,
                       avgdl: float) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`score` computed from the allowed rows' term lists (same numbers, same order of sums)."""
        terms, rows, tfs = self._scope_terms(allowed)
        known = [self.vocab[t] for t in dict.fromkeys(query_terms) if t in self.vocab]
        postings = {}
        for tid in known:
            hit = np.flatnonzero(terms == tid)
            if len(hit):
                postings[tid] = (rows[hit], tfs[hit])
        idx, scores = bm25_rows([self.vocab.get(t) for t in query_terms], postings, self.doc_len[allowed], avgdl,
                                self.k1, self.b, lambda: self._mean_idf(allowed, terms))
        return allowed[idx], scores

    def score(self, query: str, allowed: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of ``query`` over the rows ``allowed`` (positions; ``mask`` is the same as booleans).

        Returns (positions that contain at least one query token, their scores), by position.
        """
        n_docs = len(allowed)
        if n_docs == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        avgdl = float(self.doc_len[allowed].mean())
        if avgdl == 0.0:  # no allowed row has a token: nothing can match
            return np.empty(0, dtype=np.int64), np.empty(0)
        terms: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        query_terms = self.analyzer.analyze(query)
        known = [self.vocab[t] for t in dict.fromkeys(query_terms) if t in self.vocab]
        if not known:
            return np.empty(0, dtype=np.int64), np.empty(0)
        # Small subsets (a user's scope) are scored from the rows' own term lists, so the cost grows
        # with the scope, not with how common the query terms are in the whole store.
        if n_docs * 16 < sum(len(self.postings[tid]) for tid in known):
            return self._score_forward(query_terms, allowed, avgdl)
        floored = []
        for token in dict.fromkeys(query_terms):
            tid = self.vocab.get(token)
            if tid is None:
                continue
            pos, tf = self._posting_arrays(tid)
            keep = mask[pos] if len(pos) else np.zeros(0, dtype=bool)
            pos, tf = pos[keep], tf[keep]
            df = len(pos)
            if df == 0:
                continue
            idf = math.log(n_docs - df + 0.5) - math.log(df + 0.5)
            terms[tid] = (pos, tf, idf)
            if idf < 0:
                floored.append(tid)
        if not terms:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if floored:
            eps = EPSILON * self._mean_idf(allowed)
            for tid in floored:
                pos, tf, _ = terms[tid]
                terms[tid] = (pos, tf, eps)
        scores = np.zeros(len(mask))
        hit = np.zeros(len(mask), dtype=bool)
        # one addition per query token, in query order, like rank_bm25 (repeated tokens count again);
        # a term's postings hold each position once, so plain fancy-index += is exact
        k1, b = self.k1, self.b
        for token in query_terms:
            tid = self.vocab.get(token)
            if tid not in terms:
                continue
            pos, tf, idf = terms[tid]
            norm = k1 * (1 - b + b * self.doc_len[pos] / avgdl)
            scores[pos] += idf * (tf * (k1 + 1) / (tf + norm))
            hit[pos] = True
        matched = np.flatnonzero(hit)
        return matched, scores[matched]


def keyword_ranking(positions: np.ndarray, scores: np.ndarray, depth: int) -> np.ndarray:
    """Indices into ``positions`` of the ``depth`` best BM25 scores (ties: lower position first)."""
    if len(scores) > 4 * depth:
        top = np.argpartition(-scores, depth - 1)[:depth]
        # keep every row tied with the depth-th score so the tie-break by position stays exact
        top = np.flatnonzero(scores >= scores[top].min())
        return top[np.lexsort((positions[top], -scores[top]))[:depth]]
    return np.lexsort((positions, -scores))[:depth]


def fuse(rankings: list[np.ndarray], k_rrf: int) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of position rankings: Σ 1 / (k_rrf + rank), rank from 1.

    Ties are broken by the rank in the first ranking (absent = last), then the second, ...,
    then by position, so the order is deterministic. Returns (position, rrf), best first.
    """
    rrf: dict[int, float] = {}
    ranks: dict[int, list[float]] = {}
    for i, ranking in enumerate(rankings):
        for rank, pos in enumerate(ranking.tolist(), start=1):
            rrf[pos] = rrf.get(pos, 0.0) + 1.0 / (k_rrf + rank)
            ranks.setdefault(pos, [math.inf] * len(rankings))[i] = rank
    order = sorted(rrf, key=lambda p: (-rrf[p], *ranks[p], p))
    return [(p, rrf[p]) for p in order]


def ranked_search(index: KeywordIndex, vecs: np.ndarray, q: np.ndarray, query: str, allowed: np.ndarray,
                  mask: np.ndarray, dense_positions: Optional[np.ndarray], *, mode: str, limit: int,
                  threshold: Optional[float], k_rrf: int, depth: int) -> list[tuple[int, float, float, float]]:
    """Keyword or hybrid search over the ``allowed`` rows.

    ``dense_positions`` is the dense ranking (best first, ``depth`` deep; hybrid only). The
    BM25 ranking is cut at ``depth`` too. Candidates whose cosine to ``q`` is below
    ``threshold`` are dropped before the top ``limit`` are taken.

    Returns (position, cosine, bm25, rrf) tuples, best first.
    """
    kw_pos, kw_scores = index.score(query, allowed, mask)
    kw_rank = kw_pos[keyword_ranking(kw_pos, kw_scores, depth)]
    rankings = [kw_rank] if mode == "keyword" else [dense_positions, kw_rank]
    fused = fuse(rankings, k_rrf)
    if not fused:
        return []
    cand = np.fromiter((p for p, _ in fused), dtype=np.int64, count=len(fused))
    cosine = vecs[cand] @ q
    bm25 = np.zeros(len(cand))  # 0 for dense candidates without a query token
    if len(kw_pos):  # kw_pos is sorted: look candidates up by binary search
        idx = np.minimum(np.searchsorted(kw_pos, cand), len(kw_pos) - 1)
        found = kw_pos[idx] == cand
        bm25[found] = kw_scores[idx[found]]
    out = []
    for (pos, rrf), cos, kw in zip(fused, cosine.tolist(), bm25.tolist()):
        if threshold is not None and cos < threshold:
            continue
        out.append((pos, cos, kw, rrf))
        if len(out) == limit:
            break
    return out


def add_rrf_explain(hits: list, mode: str, k_rrf: int) -> list:
    """``explain`` of keyword/hybrid (RRF) hits ``(row, cosine, extra)``: the raw channel scores and the
    fused value (channel ranks are in the RRF terms). Shared by every engine; returns ``hits``."""
    for _, cos, extra in hits:
        extra["explain"] = {"mode": mode, "fused": extra["rank_score"], "k_rrf": k_rrf, "channels": {
            "dense": {"raw": cos}, "keyword": {"raw": extra["keyword_score"]}}}
    return hits
