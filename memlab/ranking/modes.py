"""The search modes, written once for every engine: dense, keyword, hybrid and fusion.

An engine answers a search by handing :func:`run_search` a :class:`Candidates` source over the rows
its filter allows; the source computes raw channel values where the data lives (FAISS + numpy, or
SQL), and this module does the rest: which channels a mode needs, which rows are candidates, the
calibrated score (memlab.ranking.scoring), ``explain``, the ``threshold`` cut and the cut to ``limit``.
Every mode returns ``(key, score, extra)`` triples, best first, where ``key`` is the engine's row key
(insertion order: FAISS positions, PostgreSQL vids; equal values keep insertion order), ``score`` the
calibrated relevance in [0, 1] the results are ordered by, and ``extra`` holds ``keyword_score`` (BM25,
non-dense modes), internal values for rerankers and stacking (memlab.ranking.scoring.INTERNAL) and,
with ``explain``, ``score_details`` and every channel's numbers.

- ``dense``: the rows nearest by cosine; the dense model is increasing in the cosine.
- ``keyword``: the rows holding a query term; the keyword model is increasing in BM25.
- ``hybrid``: the dense and BM25 top ``max(limit, HYBRID_DEPTH)`` (their reciprocal-rank fusion, ``k_rrf``,
  is shown in ``explain``), ordered by the hybrid model over cosine and BM25.
- ``fusion`` (the default): every allowed row's channels (memlab.ranking.channels), ordered by the
  fusion model; the normalised CombSUM of the weighted channels (memlab.ranking.fusion) is shown in
  ``explain`` and feeds rerankers.

``threshold`` cuts on the score, so it means the same in every mode: ``threshold=t`` returns exactly the
results of the same search without it whose score is >= t.
"""

from __future__ import annotations

from typing import Mapping, Optional, Protocol

import numpy as np

from memlab.config import DEFAULT_FUSION_WEIGHTS
from memlab.errors import ValidationError
from memlab.ranking.calibration import Calibration, features, rank_calibrated
from memlab.ranking.channels import fusion_channels
from memlab.ranking.fusion import CHANNELS, combsum, fuse, keyword_ranking, ranks_of
from memlab.ranking.scoring import add_details, calibrate, default_calibration, neutralise

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

    def scope_size(self) -> int:
        """How many rows the filter allows (the calibration's ``log_n``)."""


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
               explain: bool = False, calibration: Optional[Calibration] = None,
               reference_date=None) -> list[tuple[int, float, dict]]:
    """The ``limit`` best allowed rows in ``mode``: ``(key, score, extra)``, best first (module docstring).
    ``reference_date`` (a datetime) reads relative dates of the query for the time channel."""
    if reference_date is not None:
        source.reference_date = reference_date
    cal = calibration or default_calibration()
    model = cal.model(mode)
    if mode == "dense":
        return _dense(source, model, limit=limit, threshold=threshold, explain=explain)
    if mode == "fusion":
        return _fusion(source, model, text=text, limit=limit, threshold=threshold, weights=weights,
                       normalization=normalization, explain=explain)
    return _rrf_search(source, model, mode=mode, text=text, limit=limit, threshold=threshold, k_rrf=k_rrf,
                       explain=explain)


def _dense(source: Candidates, model, *, limit: int, threshold: Optional[float],
           explain: bool) -> list[tuple[int, float, dict]]:
    """Cosine order (the dense model is increasing in the cosine, so the top ``limit`` by cosine are the
    top ``limit`` by score)."""
    keys, cosines = source.dense_top(max(limit, 2))  # two at least: the top's lead over the next is a feature
    cosines = np.asarray(cosines, dtype=np.float64)
    if not len(keys):
        return []
    n = source.scope_size() if "log_n" in model.features else len(keys)
    X = features({"dense": cosines}, model.features, best={"dense": float(cosines.max())}, n=n)
    extras = [{"cosine": c, **({"explain": {"mode": "dense", "channels": {"dense": {"raw": c}}}}
                                                 if explain else {})} for c in cosines.tolist()]
    return calibrate(model, X, np.asarray(keys), limit=limit, threshold=threshold, explain=explain, extras=extras,
                     mode="dense")


def _fusion(source: Candidates, model, *, text: str, limit: int, threshold: Optional[float],
            weights: Optional[Mapping[str, float]], normalization: str, explain: bool) -> list[tuple[int, float, dict]]:
    """Every allowed row's channels -> calibration features (z-scores over the scope) -> the model's order.
    Channels without a weight are switched off: their features stay at the model's mean."""
    weights = weights or DEFAULT_FUSION_WEIGHTS
    on = fusion_channels(weights)
    keys, raw = source.channels(text, on)
    if not len(keys):
        return []
    ceilings = dict(getattr(source, "ceilings", {}) or {})
    ceilings.setdefault("keyword_context", ceilings.get("keyword", 0.0))
    fused, normed = combsum(raw, weights, normalization)
    X = features(raw, model.features, n=len(keys), ceilings=ceilings, extra={"fused": fused})
    X = neutralise(model, X, [c for c in CHANNELS if not weights.get(c)])
    idx, proba, logit = rank_calibrated(model, X, keys, limit=limit, threshold=threshold)
    kw, dense = raw.get("keyword"), raw["dense"]
    ranks = {name: ranks_of(raw[name], idx) for name in raw} if explain else {}
    out = []
    for j, (i, p, lg) in enumerate(zip(idx.tolist(), proba.tolist(), logit.tolist())):
        bm25 = float(kw[i]) if kw is not None else 0.0
        e = {"keyword_score": bm25, "cosine": float(dense[i]), "rank_score": float(fused[i]),
             "logit": lg,
             "bm25": bm25, "ceiling": ceilings.get("keyword", 0.0), "channels": {c: float(raw[c][i]) for c in raw}}
        if explain:
            e["explain"] = {"mode": "fusion", "normalization": normalization, "fused": float(fused[i]), "channels": {
                name: {"raw": float(raw[name][i]), "rank": int(ranks[name][j]), "normalized": float(normed[name][i]),
                       "weight": float(weights.get(name, 0.0))} for name in raw}}
            add_details(e, model, X[i], p, lg, threshold, "fusion")
        out.append((int(keys[i]), p, e))
    return out


def _tied_rrf(cand: np.ndarray, lists: list, k_rrf: int) -> np.ndarray:
    """Reciprocal-rank fusion of ``cand`` over ``(keys, values best first)`` rankings, equal values sharing
    the best rank (twin memories get one score)."""
    out = np.zeros(len(cand))
    for keys, values in lists:
        if not len(keys):
            continue
        at = {int(k): i for i, k in enumerate(keys.tolist())}
        neg = -values  # ascending
        for j, c in enumerate(cand.tolist()):
            i = at.get(int(c))
            if i is not None:
                out[j] += 1.0 / (k_rrf + 1 + int(np.searchsorted(neg, neg[i], side="left")))
    return out


def _rrf_search(source: Candidates, model, *, mode: str, text: str, limit: int, threshold: Optional[float], k_rrf: int,
                explain: bool) -> list[tuple[int, float, dict]]:
    """Keyword: every row holding a query term; hybrid: the union of the dense and BM25 top
    ``max(limit, HYBRID_DEPTH)`` (their RRF value is shown in ``explain``); both ordered by the model."""
    depth = max(limit, HYBRID_DEPTH)
    kw_keys, kw_scores = source.bm25(text)
    kw_top = keyword_ranking(kw_keys, kw_scores, depth) if len(kw_keys) else np.empty(0, dtype=np.int64)
    kw_rank = kw_keys[kw_top]
    lists = [(kw_rank, np.asarray(kw_scores)[kw_top])]
    ceiling = float((getattr(source, "ceilings", {}) or {}).get("keyword", 0.0))
    best_kw = float(kw_scores.max()) if len(kw_scores) else 0.0
    if mode == "keyword":
        rankings = [kw_rank]
        best_cos = None
    else:
        d_keys, d_cos = source.dense_top(depth)
        rankings = [d_keys, kw_rank]
        lists.insert(0, (np.asarray(d_keys), np.asarray(d_cos, dtype=np.float64)))
        best_cos = float(np.max(d_cos)) if len(d_cos) else None
    fused = fuse(rankings, k_rrf)
    if not fused or limit <= 0:
        return []
    cand = np.fromiter((k for k, _ in fused), dtype=np.int64, count=len(fused))
    cosine = np.asarray(source.cosines(cand), dtype=np.float64)
    keep = ~np.isnan(cosine)  # NaN: the row went away meanwhile
    cand, cosine = cand[keep], cosine[keep]
    rrf = _tied_rrf(cand, lists, k_rrf)
    bm25 = np.zeros(len(cand))  # 0 for dense candidates without a query token
    if len(kw_keys):  # kw_keys is sorted: look candidates up by binary search
        idx = np.minimum(np.searchsorted(kw_keys, cand), len(kw_keys) - 1)
        found = kw_keys[idx] == cand
        bm25[found] = kw_scores[idx[found]]
    best = {"keyword": best_kw, "dense": best_cos if best_cos is not None else (float(cosine.max()) if len(cosine) else 0)}
    n = source.scope_size() if "log_n" in model.features else len(cand)
    X = features({"dense": cosine, "keyword": bm25}, model.features, n=n, ceilings={"keyword": ceiling},
                 best=best, extra={"rrf": rrf})
    extras = []
    for cos, kw, r in zip(cosine.tolist(), bm25.tolist(), rrf.tolist()):
        e = {"cosine": cos, "keyword_score": kw, "rank_score": r, "bm25": kw, "ceiling": ceiling}
        if explain:
            e["explain"] = {"mode": mode, "fused": r, "k_rrf": k_rrf, "channels": {
                "dense": {"raw": cos}, "keyword": {"raw": kw}}}
        extras.append(e)
    return calibrate(model, X, cand, limit=limit, threshold=threshold, explain=explain, extras=extras, mode=mode)
