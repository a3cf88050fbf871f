"""Okapi BM25: the one implementation both engines score with.

Scoring is Okapi BM25 exactly as ``rank_bm25.BM25Okapi`` computes it over the same terms, with
k1 / b from the config (:data:`memlab.config.DEFAULT_BM25_K1` / ``DEFAULT_BM25_B``: 0.9 / 0.4,
Anserini's defaults) and epsilon = 0.25: a negative idf is replaced by
``epsilon * mean idf over the corpus vocabulary``. The *corpus* is the query's allowed subset:
N, the mean document length, document frequencies and the idf floor are computed over the
allowed rows only, so a scoped search behaves like BM25 built over that scope alone. A row
without any word token has length 0.

How an engine finds the postings is its own business (the FAISS engine's in-memory
:class:`~memlab.ranking.keyword_index.KeywordIndex`, the PostgreSQL engine's token arrays counted in
SQL or in this process); the arithmetic is :func:`bm25_rows`, here, once.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import chain
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from memlab.config import DEFAULT_BM25_B, DEFAULT_BM25_K1

K1, B, EPSILON = DEFAULT_BM25_K1, DEFAULT_BM25_B, 0.25
_TOKEN = re.compile(r"\w+")

# term -> (indices of the documents holding it, each once; its term frequency there; those documents' lengths)
Postings = Mapping[object, tuple[np.ndarray, np.ndarray, np.ndarray]]


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+``), no stop words, no stemming (the pre-analyzer tokenizer)."""
    return _TOKEN.findall(text.lower())


def mean_idf(df: np.ndarray, n_docs: int) -> float:
    """Mean idf of a corpus vocabulary (rank_bm25's ``average_idf``): ``df`` holds each distinct term's
    document frequency in a corpus of ``n_docs`` documents (0.0 for an empty vocabulary)."""
    n = float(n_docs)
    return float(np.mean(np.log(n - df + 0.5) - np.log(df + 0.5))) if len(df) else 0.0


def bm25_rows(query_keys: Sequence, postings: Postings, n_docs: int, avgdl: float, k1: float, b: float,
              corpus_mean_idf: Callable[[], float], size: int,
              stats: Optional[dict] = None) -> tuple[np.ndarray, np.ndarray]:
    """Okapi BM25 (rank_bm25's arithmetic) of a query over a corpus of ``n_docs`` documents.

    ``query_keys`` are the query's terms in query order (repeats count again; a key absent from
    ``postings`` contributes nothing); ``postings`` maps a term to the documents holding it (indices
    below ``size``, each once), its term frequency there and those documents' lengths; ``avgdl`` is
    the corpus' mean length. A negative idf becomes ``EPSILON * corpus_mean_idf()`` (called at most
    once, only then). With ``stats`` (a dict) it also sets ``stats["ceiling"]``: the query's largest
    possible BM25 over this corpus, Σ idf·(k1 + 1) over the query's terms that occur in it (a document
    holding each of them at saturated frequency), which normalises BM25 to [0, 1].

    Returns (indices of the documents holding a query term, ascending; their scores).
    """
    if stats is not None:
        stats["ceiling"] = 0.0
    per_term = {}
    idfs = {}
    eps = None
    for key in dict.fromkeys(query_keys):
        got = postings.get(key)
        if got is None or not len(got[0]):
            continue
        r, tf, dl = got
        df = len(r)
        idf = math.log(n_docs - df + 0.5) - math.log(df + 0.5)
        if idf < 0:
            if eps is None:
                eps = EPSILON * corpus_mean_idf()
            idf = eps
        idfs[key] = idf
        # the BM25 term-frequency part of every occurrence at once
        norm = k1 * (1 - b + b * dl / avgdl)
        per_term[key] = (r, idf * (tf * (k1 + 1) / (tf + norm)))
    if stats is not None:
        stats["ceiling"] = float(sum(idfs.get(key, 0.0) for key in query_keys) * (k1 + 1))
    if not per_term:
        return np.empty(0, dtype=np.int64), np.empty(0)
    scores = np.zeros(size)
    matched = np.zeros(size, dtype=bool)
    for key in query_keys:  # query order, repeats count again: like rank_bm25
        got = per_term.get(key)
        if got is not None:
            # a term's postings hold each document once, so plain fancy-index += is exact
            scores[got[0]] += got[1]
            matched[got[0]] = True
    idx = np.flatnonzero(matched)
    return idx, scores[idx]


def bm25_of_docs(query_terms: list[str], docs: Sequence[Sequence[str]], k1: float = K1,
                 b: float = B, stats: Optional[dict] = None) -> np.ndarray:
    """BM25 of every document of ``docs`` (analysed term lists; the corpus), 0 where no query term occurs."""
    out = np.zeros(len(docs))
    postings = {}
    for term in dict.fromkeys(query_terms):
        idx = [i for i, doc in enumerate(docs) if term in doc]
        if idx:
            postings[term] = (np.asarray(idx, dtype=np.int64),
                              np.asarray([docs[i].count(term) for i in idx], dtype=np.float64),
                              np.asarray([len(docs[i]) for i in idx], dtype=np.float64))
    if not postings:  # no document holds a query term (or none has a token): nothing matches
        if stats is not None:
            stats["ceiling"] = 0.0
        return out
    avgdl = float(np.fromiter(map(len, docs), dtype=np.float64, count=len(docs)).mean())
    idx, scores = bm25_rows(query_terms, postings, len(docs), avgdl, k1, b,
                            lambda: _docs_mean_idf(docs), len(docs), stats)
    out[idx] = scores
    return out


def _docs_mean_idf(docs: Sequence[Sequence[str]]) -> float:
    """Mean idf over the documents' vocabulary (each term's document frequency: the rows holding it)."""
    df = Counter(chain.from_iterable(set(doc) for doc in docs))
    return mean_idf(np.fromiter(df.values(), dtype=np.float64, count=len(df)), len(docs))


def bm25_of_counts(query_terms: list[str], n_docs: int, total_len: float, hits: Sequence[tuple],
                   vocab_dfs: Sequence[float] | None, k1: float = K1, b: float = B,
                   stats: Optional[dict] = None) -> tuple[np.ndarray, np.ndarray]:
    """BM25 from counts an engine made elsewhere (e.g. in SQL): ``hits`` are ``(doc key, doc length, term,
    term count)`` for every (document, query term) pair that occurs; ``vocab_dfs`` the document frequencies
    of the corpus vocabulary (only needed when some idf is negative). Returns (doc keys ascending, scores)."""
    if not n_docs or not total_len or not hits:
        if stats is not None:
            stats["ceiling"] = 0.0
        return np.empty(0, dtype=np.int64), np.empty(0)
    keys = sorted({int(k) for k, _, _, _ in hits})
    at = {k: i for i, k in enumerate(keys)}
    grouped: dict[str, list] = {}
    for k, dl, term, c in hits:
        grouped.setdefault(term, []).append((at[int(k)], float(c), float(dl)))
    postings = {term: tuple(np.asarray(col, dtype=np.int64 if j == 0 else np.float64) for j, col in
                            enumerate(zip(*sorted(rows)))) for term, rows in grouped.items()}
    dfs = np.asarray(vocab_dfs or [], dtype=np.float64)
    idx, scores = bm25_rows(query_terms, postings, int(n_docs), float(total_len) / float(n_docs), k1, b,
                            lambda: mean_idf(dfs, int(n_docs)), len(keys), stats)
    return np.asarray(keys, dtype=np.int64)[idx], scores
