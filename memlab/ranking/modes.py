"""The search modes, written once for every engine: dense, keyword, hybrid (RRF) and fusion (CombSUM).

An engine answers a search by handing :func:`run_search` a :class:`Candidates` source over the rows
its filter allows; the source computes raw channel values where the data lives (FAISS + numpy, or
SQL), and this module does the rest: which channels a mode needs, how they are ranked and fused,
the ``threshold`` cut, ``explain``, and the cut to ``limit``. Every mode returns
``(key, cosine, extra)`` triples, best first, where ``key`` is the engine's row key (insertion
order: FAISS positions, PostgreSQL vids; equal scores keep insertion order) and ``extra`` holds
``keyword_score`` / ``rank_score`` (non-dense modes), ``channels`` (fusion: every channel's raw
value, for rerankers) and, with ``explain``, every channel's numbers.

- ``dense``: cosine order.
- ``keyword``: BM25 order (RRF over one ranking keeps it, with ``rank_score`` = 1/(k_rrf + rank)).
- ``hybrid``: reciprocal-rank fusion (``k_rrf``) of the dense and BM25 rankings, each cut at
  ``max(limit, HYBRID_DEPTH)``.
- ``fusion`` (the default): normalised CombSUM of the weighted channels (memlab.ranking.fusion).

``score`` is the cosine and ``threshold`` cuts on it before the ``limit`` best are taken.
"""

from __future__ import annotations

from typing import Mapping, Optional, Protocol

import numpy as np

from memlab.config import DEFAULT_FUSION_WEIGHTS
from memlab.errors import ValidationError
from memlab.ranking.channels import fusion_channels
from memlab.ranking.fusion import fuse, keyword_ranking, rank_fused

SEARCH_MODES = ("dense", "hybrid", "keyword", "fusion")
HYBRID_DEPTH = 100  # each ranking fused by a hybrid search is at least this deep


class Candidates(Protocol):
    """What an engine supplies to a search: raw channel values over the rows its filter allows."""

    def dense_top(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, cosines) of the ``limit`` best allowed rows, best first, ties by key."""

    def bm25(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(keys of the allowed rows holding a query term, ascending; their BM25 over the allowed rows)."""

    def cosines(self, keys: np.ndarray) -> np.ndarray:
        """The query's cosine to each of ``keys`` (allowed rows)."""

    def channels(self, text: str, names: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(every allowed key, ascending; raw value of each named channel over them)."""


def check_mode(mode: object) -> str:
    if mode not in SEARCH_MODES:
        raise ValidationError(f"mode must be one of {', '.join(repr(m) for m in SEARCH_MODES)}, got {mode!r}.")
    return str(mode)


def check_k_rrf(k_rrf: object) -> int:
    if isinstance(k_rrf, bool) or not isinstance(k_rrf, (int, np.integer)) or k_rrf < 0:
        raise ValidationError(f"k_rrf must be a non-negative integer (60 is the usual value), got {k_rrf!r}.")
    return int(k_rrf)


def check_search(mode: object, text: object, k_rrf: object) -> tuple[str, int]:
    """The mode and ``k_rrf`` of a search, checked; a non-dense mode needs the query text."""
    mode, k_rrf = check_mode(mode), check_k_rrf(k_rrf)
    if mode != "dense" and not isinstance(text, str):
        raise ValidationError(f"A {mode} search needs the query text (text=...).")
    return mode, k_rrf


def run_search(source: Candidates, *, mode: str, text: Optional[str], limit: int, threshold: Optional[float],
               k_rrf: int = 60, weights: Optional[Mapping[str, float]] = None, normalization: str = "zscore",
               explain: bool = False) -> list[tuple[int, float, dict]]:
    """The ``limit`` best allowed rows in ``mode``: ``(key, cosine, extra)``, best first (module docstring)."""
    if mode == "dense":
        keys, cosines = source.dense_top(limit)
        return [(int(k), c, _dense_explain(c) if explain else {})
                for k, c in zip(keys.tolist(), np.asarray(cosines, dtype=np.float64).tolist())
                if threshold is None or c >= threshold]
    if mode == "fusion":
        weights = weights or DEFAULT_FUSION_WEIGHTS
        keys, raw = source.channels(text, fusion_channels(weights))
        if not len(keys):
            return []
        return rank_fused(raw, keys, weights=weights, normalization=normalization, limit=limit,
                          threshold=threshold, explain=explain)
    return _rrf_search(source, mode=mode, text=text, limit=limit, threshold=threshold, k_rrf=k_rrf, explain=explain)


def _dense_explain(cosine: float) -> dict:
    return {"explain": {"mode": "dense", "channels": {"dense": {"raw": cosine}}}}


def _rrf_search(source: Candidates, *, mode: str, text: str, limit: int, threshold: Optional[float], k_rrf: int,
                explain: bool) -> list[tuple[int, float, dict]]:
    """Keyword or hybrid: RRF of the BM25 ranking (and, hybrid, the dense one), cosine threshold."""
    depth = max(limit, HYBRID_DEPTH)
    kw_keys, kw_scores = source.bm25(text)
    kw_rank = kw_keys[keyword_ranking(kw_keys, kw_scores, depth)] if len(kw_keys) else kw_keys
    rankings = [kw_rank] if mode == "keyword" else [source.dense_top(depth)[0], kw_rank]
    fused = fuse(rankings, k_rrf)
    if not fused or limit <= 0:
        return []
    cand = np.fromiter((k for k, _ in fused), dtype=np.int64, count=len(fused))
    cosine = np.asarray(source.cosines(cand), dtype=np.float64)
    bm25 = np.zeros(len(cand))  # 0 for dense candidates without a query token
    if len(kw_keys):  # kw_keys is sorted: look candidates up by binary search
        idx = np.minimum(np.searchsorted(kw_keys, cand), len(kw_keys) - 1)
        found = kw_keys[idx] == cand
        bm25[found] = kw_scores[idx[found]]
    out = []
    for (key, rrf), cos, kw in zip(fused, cosine.tolist(), bm25.tolist()):
        if np.isnan(cos) or (threshold is not None and cos < threshold):  # NaN: the row went away meanwhile
            continue
        extra = {"keyword_score": kw, "rank_score": rrf}
        if explain:
            extra["explain"] = {"mode": mode, "fused": rrf, "k_rrf": k_rrf, "channels": {
                "dense": {"raw": cos}, "keyword": {"raw": kw}}}
        out.append((int(key), cos, extra))
        if len(out) == limit:
            break
    return out
