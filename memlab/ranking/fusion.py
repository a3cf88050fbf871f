"""Score fusion of search channels: normalised CombSUM (default) and reciprocal-rank fusion.

A channel gives one raw score per allowed row (cosine, or BM25 with 0 for rows without a query
term). Raw scores of different channels live on different scales, so each channel is normalised
over the allowed rows before the weighted sum (CombSUM, Fox & Shaw 1994):

- ``zscore``: (s - mean) / std over the allowed rows; a constant channel (std 0) contributes 0.
- ``minmax``: (s - min) / (max - min); a constant channel contributes 0.

    fused(row) = Σ_channels weight_c * normalise_c(raw_c(row))

``rrf`` (reciprocal-rank fusion, Cormack et al. 2009) is :func:`fuse`; keyword and hybrid search use it.
Fusion search orders rows by the calibrated score (memlab.ranking.scoring); the fused sum is one of its
features and the tie-break order.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from memlab.config import DEFAULT_FUSION_WEIGHTS
from memlab.errors import ValidationError

NORMALIZATIONS = ("zscore", "minmax")
_TOL = 1e-6
CHANNELS = ("dense", "dense_context", "keyword", "keyword_context", "speaker", "time")
DEFAULT_WEIGHTS = DEFAULT_FUSION_WEIGHTS  # memlab.config: one source for the engine and the settings


def normalize(scores: np.ndarray, how: str = "zscore") -> np.ndarray:
    """``scores`` normalised over themselves (see the module docstring); constant -> zeros."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return scores
    # "constant" allows float noise: the same text embedded in two batches differs by ~1e-8, and
    # normalising that noise would turn it into a full-sized vote
    if how == "zscore":
        mean, sd = scores.mean(), scores.std()
        return (scores - mean) / sd if sd > _TOL * max(1.0, abs(mean)) else np.zeros_like(scores)
    if how == "minmax":
        lo, hi = scores.min(), scores.max()
        return (scores - lo) / (hi - lo) if hi - lo > _TOL * max(1.0, abs(hi)) else np.zeros_like(scores)
    raise ValidationError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {how!r}.")


def combsum(channels: Mapping[str, np.ndarray], weights: Mapping[str, float],
            how: str = "zscore") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Weighted sum of normalised channels. Returns (fused, normalised score per channel)."""
    if not channels:
        return np.zeros(0), {}
    names = list(channels)
    if how != "zscore" or len(next(iter(channels.values()))) == 0:
        normed = {name: normalize(channels[name], how) for name in names}
        w = np.array([float(weights.get(name, 0.0)) for name in names])
        return w @ np.vstack([normed[name] for name in names]), normed
    # the same z-scores as normalize(), all channels in one pass (the search hot path); a channel
    # that IS another one's array (a context channel reusing the plain one when no row has a
    # context) is normalised once and carries both weights
    groups: dict[int, tuple[np.ndarray, list[str]]] = {}
    for name in names:
        groups.setdefault(id(channels[name]), (channels[name], []))[1].append(name)
    raw = np.vstack([np.asarray(arr, dtype=np.float64) for arr, _ in groups.values()])
    mean = raw.mean(axis=1, keepdims=True)
    sd = raw.std(axis=1, keepdims=True)
    ok = sd > _TOL * np.maximum(1.0, np.abs(mean))
    z = np.where(ok, (raw - mean) / np.where(ok, sd, 1.0), 0.0)
    w = np.array([sum(float(weights.get(name, 0.0)) for name in group) for _, group in groups.values()])
    normed = {name: z[i] for i, (_, group) in enumerate(groups.values()) for name in group}
    return w @ z, {name: normed[name] for name in names}


def check_weights(weights: object) -> dict[str, float]:
    """Channel weights: a mapping of known channel names to finite non-negative numbers."""
    if not isinstance(weights, Mapping):
        raise ValidationError(f"fusion weights must be a dict of channel -> weight, got {type(weights).__name__}.")
    out = {}
    for name, w in weights.items():
        if name not in CHANNELS:
            raise ValidationError(f"Unknown fusion channel {name!r}; channels: {', '.join(CHANNELS)}.")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w) or w < 0:
            raise ValidationError(f"fusion weight of {name!r} must be a finite number >= 0, got {w!r}.")
        out[name] = float(w)
    if not any(out.values()):
        raise ValidationError("At least one fusion weight must be positive.")
    return out


def ranks_of(scores: np.ndarray, at: np.ndarray) -> np.ndarray:
    """1-based rank of ``scores[at]`` among ``scores`` (ties share the best rank)."""
    ordered = np.sort(scores)[::-1]
    # number of scores strictly greater, + 1
    return np.searchsorted(-ordered, -scores[at], side="left") + 1


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
