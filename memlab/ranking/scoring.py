"""The one relevance score of a search result: the calibration applied to a mode's candidates.

Every mode (memlab.ranking.modes) ends here: its candidates' channel values become calibration
features (memlab.ranking.calibration), the mode's model turns them into a ranking value (logit) and
a ``score`` in [0, 1], the candidates are ordered by it (ties: insertion order), ``threshold`` cuts
on the score and ``limit`` on the count. Rerankers and graph links refine a ranking by a stacked
model (:func:`restack`) over the value the search had, so the result keeps one score throughout.

``explain=True`` gives each result mem0 2.x's ``score_details`` — ``semantic_score`` (the cosine),
``bm25_score`` (BM25 / ``max_possible_score``, the query's BM25 ceiling), ``entity_boost`` (the graph
link weight, 0 without ``graph=True``), ``raw_score`` (the log-odds: ``final_score`` =
sigmoid(``raw_score``)), ``final_score`` (== ``score``) and ``threshold`` — plus memlab's ``explain``:
each channel's numbers and each calibration feature's value and share of the log-odds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping, Optional, Sequence

import numpy as np

from memlab.ranking.calibration import Calibration, LogisticModel, contributions, features, rank_calibrated, shipped

# extra keys a mode hands up for rerankers and stacking; the search step drops them from items
INTERNAL = ("channels", "logit", "cosine", "ceiling", "bm25")


@lru_cache(maxsize=None)
def _shipped(embedder: str) -> Calibration:
    return shipped(embedder)


def default_calibration(embedder: Optional[str] = None) -> Calibration:
    """The shipped calibration of ``embedder`` (memoised), else the generic fallback."""
    return _shipped(embedder or "generic")


def neutralise(model: LogisticModel, X: np.ndarray, off: Sequence[str]) -> np.ndarray:
    """``X`` with the features of switched-off channels at the model's mean (they add nothing)."""
    if not off:
        return X
    prefixes = {"dense": ("cos",), "dense_context": ("ctx_cos",), "keyword": ("bm25",),
                "keyword_context": ("ctx_bm25",), "speaker": ("speaker",), "time": ("time",)}
    cols = [i for i, f in enumerate(model.features)
            if any(f == p or f.startswith(p + "_") for c in off for p in prefixes[c])]
    if cols:
        X = X.copy()
        X[:, cols] = model.mean[cols]
    return X


def calibrate(model: LogisticModel, X: np.ndarray, keys: np.ndarray, *, limit: int, threshold: Optional[float],
              explain: bool, extras: Sequence[dict], mode: str) -> list[tuple[int, float, dict]]:
    """Order the candidates (rows of ``X``, keys ``keys``, one ``extras`` dict each) by ``model``, cut by
    ``threshold`` and ``limit``; returns ``(key, score, extra)`` with ``extra["logit"]`` set and, with
    ``explain``, ``score_details`` and the calibration's part of ``explain``."""
    if len(keys) == 0 or limit <= 0:
        return []
    idx, proba, logit = rank_calibrated(model, X, keys, limit=limit, threshold=threshold)
    out = []
    for i, p, lg in zip(idx.tolist(), proba.tolist(), logit.tolist()):
        extra = dict(extras[i])
        extra["logit"] = lg  # the score's log-odds: what stacked models refine
        if explain:
            add_details(extra, model, X[i], p, lg, threshold, mode)
        out.append((int(keys[i]), p, extra))
    return out


def add_details(extra: dict, model: LogisticModel, x: Optional[np.ndarray], score: float, logit: float,
                threshold: Optional[float], mode: str, entity_boost: Optional[float] = None) -> None:
    """Set ``extra["score_details"]`` (mem0's keys) and the calibration part of ``extra["explain"]``."""
    ceiling = float(extra.get("ceiling") or 0.0)
    bm25 = float(extra.get("bm25") or 0.0)
    extra["score_details"] = {
        "semantic_score": float(extra.get("cosine", 0.0)),
        "bm25_score": min(bm25 / ceiling, 1.0) if ceiling > 0 else 0.0,
        "entity_boost": float(extra.get("graph_score", 0.0) if entity_boost is None else entity_boost),
        "raw_score": float(logit),
        "max_possible_score": ceiling,
        "final_score": float(score),
        "threshold": threshold,
    }
    ex = dict(extra.get("explain") or {"mode": mode, "channels": {}})
    ex["calibration"] = {"model": mode, "logit": float(logit),
                         "features": contributions(model, x) if x is not None else {}}
    extra["explain"] = ex


def restack(model: LogisticModel, hits: list, extra_features: Mapping[str, np.ndarray], *, mode: str,
            limit: int, threshold: Optional[float], explain: bool) -> list:
    """Re-score ``(row, score, extra)`` hits by a stacked model over ``base`` (each hit's ``logit``: the
    log-odds of its score) and
    ``extra_features`` (arrays over the hits: ``rerank`` scores, ``graph`` weights), re-order, cut."""
    if not hits:
        return []
    base = np.asarray([float(e.get("logit", 0.0)) for _, _, e in hits])
    X = features({}, model.features, extra={"base": base, **extra_features})
    keys = np.arange(len(hits))  # ties keep the order the hits came in
    idx, proba, logit = rank_calibrated(model, X, keys, limit=limit, threshold=threshold)
    out = []
    graph = extra_features.get("graph")
    for i, p, lg in zip(idx.tolist(), proba.tolist(), logit.tolist()):
        row, _, extra = hits[i]
        extra = {**extra, "logit": lg}
        if explain:
            add_details(extra, model, X[i], p, lg, threshold, mode,
                        entity_boost=float(graph[i]) if graph is not None else None)
        out.append((row, p, extra))
    return out
