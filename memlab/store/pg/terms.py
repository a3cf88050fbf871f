"""BM25 documents as fusion's statement sends them (:func:`memlab.store.pg.search.fusion_sql`).

A row's terms come as ONE text: each term between two :data:`SEP` characters (``SEP t1 SEP SEP t2 SEP``),
so the frequency of a term is a substring count of ``SEP term SEP`` -- a C loop, where a Python list per row
(or ``array_positions`` / ``unnest`` in SQL) cost a function call per term. The text is only right when no
term holds the separator: a row whose text does not have exactly two separators per term (:func:`bad_rows`)
is read again as an array (a ``list`` document); every function here takes both kinds.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain
from typing import Any, Optional, Sequence

import numpy as np

from memlab.ranking.bm25 import bm25_rows, mean_idf

SEP = "\x1f"  # the ASCII unit separator: no analyzer term holds it in practice (checked per row anyway)
SQL_JOIN = "E'\\x1f' || array_to_string({}, E'\\x1f\\x1f') || E'\\x1f'"  # a text[] expression -> one text


def bad_rows(texts: Sequence[Optional[str]], lens: Sequence[Optional[int]]) -> list[int]:
    """Rows whose text was sent but does not hold two separators per term (a term holding one); an empty
    document's text is two separators too."""
    sent = [(x, n) for x, n in zip(texts, lens) if x is not None]
    if "".join(x for x, _ in sent).count(SEP) == 2 * sum(max(n or 0, 1) for _, n in sent):
        return []  # every text checks (a text never holds fewer separators than its terms need)
    return [i for i, (x, n) in enumerate(zip(texts, lens)) if x is not None and x.count(SEP) != 2 * max(n or 0, 1)]


def vocabulary_dfs(docs: Sequence[Any], lens: Sequence[int]) -> list[int]:
    """The document frequency of each distinct term of ``docs`` (``lens``: their term counts; None: skipped),
    in first-seen order."""
    sep2 = SEP + SEP
    sets = (set(d) if isinstance(d, list) else set(d[1:-1].split(sep2)) if n else ()
            for d, n in zip(docs, lens) if d is not None)
    return list(Counter(chain.from_iterable(sets)).values())


def frequencies(docs: Sequence[Any], term: str, lists: bool = True) -> list[int]:
    """How often ``term`` occurs in each document (0 for None); ``lists``: some documents may be lists."""
    if SEP in term:  # no checked text holds it
        return [d.count(term) if isinstance(d, list) else 0 for d in docs]
    pat = SEP + term + SEP
    if lists:
        return [0 if d is None else d.count(term) if isinstance(d, list) else d.count(pat) for d in docs]
    return [d.count(pat) if d else 0 for d in docs]


def bm25_channel(terms: list[str], dls: Sequence[int], docs: Sequence[Any], vocab: Any,
                 k1: float, b: float, stats: dict) -> np.ndarray:
    """BM25 of every row (0 where no query term occurs): ``dls`` the rows' document lengths, ``docs`` their
    terms (None: the row holds no query term), ``vocab`` the allowed rows' vocabulary document frequencies
    or a function returning them (called only when some idf is negative). The arithmetic is
    :func:`memlab.ranking.bm25.bm25_rows` with the corpus figures of :func:`memlab.ranking.bm25.bm25_of_counts`
    (N rows, mean length Σ lengths / N); ``stats["ceiling"]`` is set."""
    n = len(dls)
    out = np.zeros(n)
    stats["ceiling"] = 0.0
    total = float(sum(dls))
    if not n or not total:
        return out
    lengths = np.asarray(dls, dtype=np.float64)
    postings = {}
    lists = any(isinstance(d, list) for d in docs)
    for term in dict.fromkeys(terms):
        tf = np.asarray(frequencies(docs, term, lists), dtype=np.float64)
        rows = np.flatnonzero(tf)
        if len(rows):
            postings[term] = (rows, tf[rows], lengths[rows])
    if not postings:
        return out
    idx, scores = bm25_rows(terms, postings, n, total / float(n), k1, b,
                            lambda: mean_idf(np.asarray((vocab() if callable(vocab) else vocab) or [],
                                                        dtype=np.float64), n), n, stats)
    out[idx] = scores
    return out
