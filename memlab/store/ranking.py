"""The default ("fusion") search: six channels over the allowed rows, fused by normalised CombSUM.

Channels, each scored exactly over every allowed row (no over-fetch-then-filter):

- ``dense``: cosine of the query to the memory's vector (this is the item's ``score``);
- ``dense_context``: cosine to the embedding of the memory's context window (memlab.store.context);
- ``keyword``: BM25 of the query over the speaker + memory text;
- ``keyword_context``: BM25 over the context window;
- ``speaker``: 1 when the query names the memory's speaker (every word of its ``actor_id``
  occurs in the query), else 0 — "what did Ana say about ..." prefers Ana's own messages;
- ``time``: 1 when the memory was written (``created_at``) in a date range the query names
  ("... in November 2022?"), else 0 (memlab.store.when).

A memory without a context uses its own text/vector in the context channels. The fused value
(memlab.store.fusion) orders the results and is returned as ``rank_score``; ``score`` stays the
cosine, so ``threshold`` keeps its meaning (cosine) in every mode.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from memlab.store.fusion import combsum, ranks_of
from memlab.store.keyword import KeywordIndex, tokenize
from memlab.store.when import created_days, query_ranges, time_match


def _bm25_over(index: KeywordIndex, text: str, allowed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BM25 of every allowed row (0 where no query term occurs), in ``allowed`` order."""
    out = np.zeros(len(allowed))
    pos, scores = index.score(text, allowed, mask)
    if len(pos):  # both sorted: place matched positions by binary search
        out[np.searchsorted(allowed, pos)] = scores
    return out


def speaker_match(actors: np.ndarray, text: str) -> np.ndarray:
    """1.0 where every word of the row's actor_id occurs in the query (None never matches)."""
    names = set(actors.tolist())
    names.discard(None)
    if not names:
        return np.zeros(len(actors))
    words = set(tokenize(text))
    hit = {a: 1.0 for a in names if (parts := tokenize(str(a))) and all(w in words for w in parts)}
    if not hit:
        return np.zeros(len(actors))
    return np.fromiter((hit.get(a, 0.0) for a in actors.tolist()), dtype=np.float64, count=len(actors))


def channel_scores(table, q: np.ndarray, text: str, allowed: np.ndarray, mask: np.ndarray,
                   channels) -> dict[str, np.ndarray]:
    """Raw scores of the named channels over ``allowed`` (sorted positions)."""
    out: dict[str, np.ndarray] = {}
    # without any context in the allowed rows the context channels equal the plain ones: reuse them
    any_ctx = bool(table.has_ctx[allowed].any())
    if "dense" in channels or ("dense_context" in channels and not any_ctx):
        out["dense"] = (table.vecs[allowed] @ q).astype(np.float64)
    if "dense_context" in channels:
        out["dense_context"] = (table.context_vectors(allowed) @ q).astype(np.float64) if any_ctx \
            else out["dense"]
    if "keyword" in channels or ("keyword_context" in channels and not any_ctx):
        out["keyword"] = _bm25_over(table.keyword_index(), text, allowed, mask)
    if "keyword_context" in channels:
        out["keyword_context"] = _bm25_over(table.context_keyword_index(), text, allowed, mask) if any_ctx \
            else out["keyword"]
    if "speaker" in channels:
        out["speaker"] = speaker_match(table.column("actor_id")[allowed], text)
    if "time" in channels:
        out["time"] = time_scores(table.column("created_at")[allowed], text)
    return out


def time_scores(created_at, text: str) -> np.ndarray:
    """The time channel of rows written at ``created_at`` (ISO strings) for query ``text``."""
    ranges = query_ranges(text)  # dates are read only for a query that names one
    return time_match(created_days(created_at), ranges) if ranges else np.zeros(len(created_at))


def fused_search(table, q: np.ndarray, text: str, allowed: np.ndarray, mask: np.ndarray, *,
                 weights: Mapping[str, float], normalization: str, limit: int,
                 threshold: Optional[float], explain: bool = False) -> list[tuple[int, float, dict]]:
    """Top ``limit`` allowed rows by fused score; returns (position, cosine, extra), best first.

    ``extra`` holds ``rank_score`` (fused), ``keyword_score`` (BM25 of the memory channel) and
    ``channels`` (raw score per channel, used by rerankers); with ``explain`` also ``explain``:
    per channel the raw score, its rank among the allowed rows, the normalised score and the
    weight, plus the fused score they add up to.
    """
    raw = channel_scores(table, q, text, allowed, mask, fusion_channels(weights))
    return rank_fused(raw, allowed, weights=weights, normalization=normalization, limit=limit,
                      threshold=threshold, explain=explain)


def fusion_channels(weights: Mapping[str, float]) -> list[str]:
    """The channels a fusion search computes: those with a weight, and always ``dense`` (the score)."""
    names = [c for c, w in weights.items() if w]
    if "dense" not in names:
        names.append("dense")  # always computed: it is the item's score
    return names


def rank_fused(raw: Mapping[str, np.ndarray], allowed: np.ndarray, *, weights: Mapping[str, float],
               normalization: str, limit: int, threshold: Optional[float],
               explain: bool = False) -> list[tuple[int, float, dict]]:
    """The engine-independent half of :func:`fused_search`: fuse the raw channel scores of the
    ``allowed`` rows (row keys in insertion order: FAISS positions, PostgreSQL vids), order, apply the
    cosine ``threshold``, cut to ``limit`` and build ``extra``. Returns (row key, cosine, extra)."""
    fused, normed = combsum(raw, weights, normalization)
    # best fused first; ties by position (insertion order) so results are deterministic
    order = np.lexsort((allowed, -fused))
    if threshold is not None:
        order = order[raw["dense"][order] >= threshold]
    top = order[:limit]
    out = []
    ranks = {name: ranks_of(raw[name], top) for name in raw} if explain else {}
    for i, idx in enumerate(top.tolist()):
        extra = {"rank_score": float(fused[idx]), "keyword_score": float(raw.get("keyword", np.zeros(1))[idx])
                 if "keyword" in raw else 0.0,
                 "channels": {name: float(raw[name][idx]) for name in raw}}
        if explain:
            extra["explain"] = {
                "mode": "fusion", "normalization": normalization, "fused": float(fused[idx]),
                "channels": {name: {"raw": float(raw[name][idx]), "rank": int(ranks[name][i]),
                                    "normalized": float(normed[name][idx]),
                                    "weight": float(weights.get(name, 0.0))} for name in raw},
            }
        out.append((int(allowed[idx]), float(raw["dense"][idx]), extra))
    return out
