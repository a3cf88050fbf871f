"""Keyword (BM25) search and its reciprocal-rank fusion with dense search.

:class:`KeywordIndex` is an inverted index over the ``memory`` text of a table's rows, by
position: per token the positions holding it with their term frequencies, plus each row's
length and its distinct tokens. The table keeps it up to date on every write once it exists
(:meth:`memlab.store.table.Table.keyword_index` builds it the first time a keyword or hybrid
search runs, so dense-only users pay nothing).

Scoring is Okapi BM25 exactly as ``rank_bm25.BM25Okapi`` computes it (k1=1.5, b=0.75,
epsilon=0.25: a negative idf is replaced by ``epsilon * mean idf over the corpus vocabulary``),
where the *corpus* is the query's allowed subset: N, the mean document length, document
frequencies and the idf floor are computed over the allowed rows only, so a scoped search
behaves like BM25 built over that scope alone. A row without any word token has length 0.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable, Optional

import numpy as np

from memlab.errors import ValidationError

SEARCH_MODES = ("dense", "hybrid", "keyword")
K1, B, EPSILON = 1.5, 0.75, 0.25
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+``): the tokenizer of keyword search and of the BM25 baseline."""
    return _TOKEN.findall(text.lower())


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

    def __init__(self, capacity: int = 1024):
        self.vocab: dict[str, int] = {}
        self.postings: list[dict[int, int]] = []
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # tid -> (positions, tfs), cached
        self.doc_terms: list[Optional[np.ndarray]] = []
        self.doc_len = np.zeros(capacity, dtype=np.float64)

    @classmethod
    def build(cls, texts: Iterable[Optional[str]]) -> "KeywordIndex":
        """An index of ``texts`` at positions 0, 1, 2, ..."""
        texts = list(texts)
        index = cls(capacity=max(1024, len(texts)))
        for pos, text in enumerate(texts):
            index.set(pos, text)
        return index

    def set(self, pos: int, text: Optional[str]) -> None:
        """Index ``text`` at ``pos``, replacing whatever that position held."""
        old = self.doc_terms[pos] if pos < len(self.doc_terms) else None
        if old is not None:
            for tid in old.tolist():
                self.postings[tid].pop(pos, None)
                self._arrays.pop(tid, None)
        counts = Counter(tokenize(text or ""))
        tids = np.empty(len(counts), dtype=np.int64)
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
        self.doc_terms[pos] = tids
        if pos >= len(self.doc_len):
            grown = np.zeros(max(2 * len(self.doc_len), pos + 1), dtype=np.float64)
            grown[: len(self.doc_len)] = self.doc_len
            self.doc_len = grown
        self.doc_len[pos] = sum(counts.values())

    def _posting_arrays(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        arrays = self._arrays.get(tid)
        if arrays is None:
            post = self.postings[tid]
            arrays = (np.fromiter(post.keys(), dtype=np.int64, count=len(post)),
                      np.fromiter(post.values(), dtype=np.float64, count=len(post)))
            self._arrays[tid] = arrays
        return arrays

    def _mean_idf(self, allowed: np.ndarray) -> float:
        """Mean idf over every token of the allowed rows (rank_bm25's ``average_idf``)."""
        parts = [self.doc_terms[p] for p in allowed.tolist() if self.doc_terms[p] is not None]
        if not parts:
            return 0.0
        df = np.bincount(np.concatenate(parts))
        df = df[df > 0].astype(np.float64)
        n = float(len(allowed))
        return float(np.mean(np.log(n - df + 0.5) - np.log(df + 0.5)))

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
        floored = []
        for token in dict.fromkeys(tokenize(query)):
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
        matched = np.unique(np.concatenate([t[0] for t in terms.values()]))
        scores = np.zeros(len(matched))
        # one addition per query token, in query order, like rank_bm25 (repeated tokens count again)
        for token in tokenize(query):
            tid = self.vocab.get(token)
            if tid not in terms:
                continue
            pos, tf, idf = terms[tid]
            norm = K1 * (1 - B + B * self.doc_len[pos] / avgdl)
            scores[np.searchsorted(matched, pos)] += idf * (tf * (K1 + 1) / (tf + norm))
        return matched, scores


def keyword_ranking(positions: np.ndarray, scores: np.ndarray, depth: int) -> np.ndarray:
    """Indices into ``positions`` of the ``depth`` best BM25 scores (ties: lower position first)."""
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
    bm25 = np.zeros(len(cand))
    hit = np.searchsorted(kw_pos, cand)
    found = (hit < len(kw_pos)) & (kw_pos[np.minimum(hit, len(kw_pos) - 1)] == cand) if len(kw_pos) else hit < 0
    bm25[found] = kw_scores[hit[found]]
    out = []
    for (pos, rrf), cos, kw in zip(fused, cosine.tolist(), bm25.tolist()):
        if threshold is not None and cos < threshold:
            continue
        out.append((pos, cos, kw, rrf))
        if len(out) == limit:
            break
    return out
