"""Pure per-query change metrics and bootstrap confidence intervals.

Definitions (B = the before top-k keys in rank order, A = the after top-k keys):

* ``overlap@k = |B ∩ A| / max(|B|, |A|)`` — the share of the larger result list that both
  sides returned. When a side returns fewer than ``k`` results (threshold, small store) this
  does not count the missing slots as changes. 0/0 (both empty) is 1: nothing changed.
* ``jaccard = |B ∩ A| / |B ∪ A|``, 0/0 = 1.
* rank change of a memory in both lists: ``after_rank - before_rank`` (1-based; positive =
  it moved down). ``mean_abs_rank_change`` averages ``|change|`` over the common memories;
  with no common memory it is NaN (undefined, skipped by the aggregates).
* score delta of a memory in both lists: ``after_score - before_score``. ``mean_abs_score_delta``
  is NaN when there is no common memory.
* ``gained`` = in A not in B, ``lost`` = in B not in A (in rank order).
* ``top1_changed``: the first results differ (an empty side counts as a result of "none").
* ``changed``: the ranked key lists differ or some common score moved by more than ``score_tol``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from memlab.stats import bootstrap_mean_ci

SCORE_TOL = 1e-6


def match_key(hit: dict, match_on: str) -> str:
    """The key a hit is matched on across the two sides."""
    if match_on == "id":
        return hit["id"]
    if match_on == "hash":
        return hit["hash"]
    return " ".join(hit["memory"].lower().split())


def query_changes(before: Sequence[str], after: Sequence[str], before_scores: Sequence[Optional[float]],
                  after_scores: Sequence[Optional[float]], *, score_tol: float = SCORE_TOL) -> dict:
    """Change metrics of one query (see the module docstring); keys are memory keys in rank order."""
    b_rank = {key: i + 1 for i, key in enumerate(before)}
    a_rank = {key: i + 1 for i, key in enumerate(after)}
    b_score = dict(zip(before, before_scores))
    a_score = dict(zip(after, after_scores))
    common = [key for key in before if key in a_rank]
    union = len(set(before) | set(after))
    larger = max(len(before), len(after))
    rank_changes = {key: a_rank[key] - b_rank[key] for key in common}
    score_deltas = {}
    for key in common:
        sb, sa = b_score.get(key), a_score.get(key)
        score_deltas[key] = (sa - sb) if sb is not None and sa is not None else math.nan
    deltas = np.array(list(score_deltas.values()), dtype=float)
    finite = deltas[np.isfinite(deltas)]
    moved = bool(finite.size and np.abs(finite).max() > score_tol)
    return {
        "overlap_at_k": len(common) / larger if larger else 1.0,
        "jaccard": len(common) / union if union else 1.0,
        "n_common": len(common),
        "rank_changes": rank_changes,
        "mean_abs_rank_change": float(np.mean(np.abs(list(rank_changes.values())))) if common else math.nan,
        "score_deltas": score_deltas,
        "mean_score_delta": float(finite.mean()) if finite.size else math.nan,
        "mean_abs_score_delta": float(np.abs(finite).mean()) if finite.size else math.nan,
        "max_abs_score_delta": float(np.abs(finite).max()) if finite.size else math.nan,
        "gained_keys": [key for key in after if key not in b_rank],
        "lost_keys": [key for key in before if key not in a_rank],
        "top1_changed": (before[0] if before else None) != (after[0] if after else None),
        "changed": list(before) != list(after) or moved,
    }


def bootstrap_ci(values: Sequence[float], *, n_boot: int = 2000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float, int]:
    """Mean and percentile-bootstrap confidence interval of ``values`` (NaNs are skipped).

    Returns ``(mean, low, high, n)``; with no finite value every number is NaN and n is 0.
    A fixed ``seed`` keeps reports reproducible.
    """
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1 or np.all(x == x[0]):
        return mean, mean, mean, n
    _, low, high = bootstrap_mean_ci(x, n_boot=n_boot, alpha=1.0 - confidence, rng=np.random.default_rng(seed))
    return mean, low, high, n
