"""Calibrated relevance: one ``score`` in [0, 1] (an estimate of P(relevant)) for every search mode.

A search scores the memories of a scope with channels whose values live on different scales (cosine,
BM25, 0/1 matches, fused z-scores). This module maps them to one number a threshold can cut:

    score = sigmoid(a * (w · standardise(features) + bias) + b)

a logistic regression over features of the channels (:func:`features`), followed by a one-dimensional
Platt recalibration (``a``, ``b``) fitted on the model's own top-``k`` results, where thresholds are read.
``a`` > 0, so the Platt step never changes the order: results are ranked by the same value they are
scored and thresholded with.

Features (per memory; every one is computed from channel arrays the search already holds, O(rows)):

- cosine channels (``dense``, ``dense_context``): the cosine itself (absolute: it means the same in
  every scope), its gap to the best cosine of the scope, and its z-score over the scope;
- BM25 channels (``keyword``, ``keyword_context``): BM25 divided by the query's *ceiling* (the BM25 a
  memory holding every query term of the scope at saturated frequency would get: Σ idf·(k1+1)), so it
  lies in [0, 1] whatever the query length; BM25 relative to the scope's best; and its z-score;
- ``speaker`` and ``time``: the 0/1 channels;
- ``fused`` (fusion): the normalised CombSUM of the weighted channels (so ``fusion_weights`` still shape the
  ranking) and its gap to the scope's best; ``rrf`` (hybrid): the reciprocal-rank fusion value;
- ``*_best``: the scope's best cosine / normalised BM25 (one value per search: how good its best match is);
- ``log_n``: log of the number of memories the search ranked (scope-relative features are noisier in
  small scopes: a 40-row scope with one lexical match gives it z ≈ 6); ``<feature>_xn``: a feature times
  log n (clipped to :data:`XN_LOG_N`), so its weight can change with the scope's size;
- ``cos_lead``: the cosine minus the best cosine of the *other* memories (the top memory's lead, a
  negative gap for the rest);
- ``rerank`` (reranked search): the reranker's score as a z-score and as a gap to the best over the
  reranked candidates (scale-free, so any reranker fits), stacked on ``base``: the ranking value
  (logit) the search had before reranking;
- ``graph`` (``graph=True``): the weight of the memory's links to the query's entities, stacked on
  ``base`` the same way.

Each *mode* uses the features it has (:data:`MODE_FEATURES`). A :class:`Calibration` holds one
:class:`LogisticModel` per mode and is stored as JSON (``memlab/ranking/data/calibration-<embedder>.json``
ships per embedder, plus a generic fallback). :func:`ece` and :func:`reliability` (memlab.ranking.reliability) measure calibration.
Pure numpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from memlab.errors import ConfigError, ValidationError
from memlab.ranking.reliability import ece, plot_reliability, reliability  # noqa: F401  (public here too)

DATA_DIR = Path(__file__).resolve().parent / "data"
FORMAT = "memlab-calibration/1"
_COS = {"dense": "cos", "dense_context": "ctx_cos"}
_BM25 = {"keyword": "bm25", "keyword_context": "ctx_bm25"}
# every mode also sees how good the scope's best match is and the scope's size (question-level features: they
# set how confident the scores are, never the order)
DENSE = ("cos", "cos_gap", "cos_lead", "cos_best", "log_n", "cos_best_xn")
KEYWORD = ("bm25", "bm25_rel", "bm25_best", "log_n")
# fusion: a monotone calibration of the fused value (the fused z-score sum's order is kept: absolute evidence
# features re-ordered it and lost recall@10 on held-out conversations) plus how good the search's best match is
FUSION = ("fused", "fused_gap", "fused_rank", "cos_best", "ctx_cos_best", "bm25_best", "ctx_bm25_best", "log_n",
          # how much the rank and the best match say depends on the scope's size; in small scopes the cosine's
          # lead over the next memory is evidence too (fading to nothing at XN_LOG_N's upper end)
          "fused_rank_xn", "cos_best_xn", "cos_lead_small", "time_text")
# the range of log(scope size) the size-dependent features use (``*_xn``: times log n; ``*_small``: times
# (hi - log n) / (hi - lo), 1 up to 30 rows, 0 from 400 on); outside it they are held at its ends, so a
# 5-memory scope is read as a 30-memory one (the smallest fitted scopes hold 36), not extrapolated
XN_LOG_N = (math.log(30), math.log(400))
MODE_FEATURES = {
    "dense": DENSE,
    "keyword": KEYWORD,
    "hybrid": ("rrf", "cos", "cos_gap", "bm25", "bm25_rel", "bm25_best", "log_n", "cos_best", "cos_lead"),
    "fusion": FUSION,
    # stacked on the ranking they refine: the base mode's ranking value (its logit) plus their own evidence
    "reranked": ("base", "rerank_z", "rerank_gap"),
    "graph": ("base", "graph"),
}
_TOL = 1e-6


def _z(x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return x
    mean, sd = x.mean(), x.std()
    return (x - mean) / sd if sd > _TOL * max(1.0, abs(mean)) else np.zeros_like(x)


def features(raw: Mapping[str, np.ndarray], names: Sequence[str], *, n: Optional[int] = None,
             ceilings: Optional[Mapping[str, float]] = None, best: Optional[Mapping[str, float]] = None,
             extra: Optional[Mapping[str, np.ndarray]] = None) -> np.ndarray:
    """Feature matrix (rows x ``names``) of memories with raw channel scores ``raw``.

    ``raw`` holds channel arrays (``dense``, ``dense_context``, ``keyword``, ``keyword_context``,
    ``speaker``, ``time``) over the rows; z-scores are taken over these rows, so pass every row of the
    scope for them. ``n``: rows the search ranked (default: the rows given). ``ceilings``: the query's
    BM25 ceiling per BM25 channel (:func:`memlab.ranking.calibration` docstring). ``best``: the scope's
    best value per channel when ``raw`` holds only some rows (default: their max). ``extra``: arrays for
    ``rerank`` (the reranker's scores) and ``graph``.
    """
    rows = len(next(iter(raw.values()))) if raw else len(next(iter((extra or {}).values())))
    ceilings, best, extra = ceilings or {}, best or {}, extra or {}
    cols = []
    cache: dict[str, np.ndarray] = {}

    def channel(name: str) -> np.ndarray:
        if name not in cache:
            arr = raw.get(name)
            if arr is None and name.endswith("_context"):
                arr = raw.get(name[: -len("_context")])  # no context: the plain channel stands in
            cache[name] = np.zeros(rows) if arr is None else np.asarray(arr, dtype=np.float64)
        return cache[name]

    for f in names:
        if f.endswith(("_xn", "_small")):  # the feature times a function of the scope's size (module docstring)
            col = features(raw, [f.rpartition("_")[0]], n=n, ceilings=ceilings, best=best, extra=extra)[:, 0]
            log_n = min(max(math.log(max(1, n if n is not None else rows)), XN_LOG_N[0]), XN_LOG_N[1])
            lo, hi = XN_LOG_N
            cols.append(col * (log_n if f.endswith("_xn") else (hi - log_n) / (hi - lo)))
            continue
        base, _, kind = f.rpartition("_") if f.endswith(("_gap", "_z", "_rel", "_best")) else (f, "", "")
        if f == "log_n":
            cols.append(np.full(rows, math.log(max(1, n if n is not None else rows))))
        elif f in ("speaker", "time", "time_text"):
            cols.append(channel(f))
        elif f == "fused_rank":  # -log of the rank by fused value (ties share the best rank)
            arr = np.asarray(extra["fused"], dtype=np.float64)
            desc = -np.sort(arr)[::-1]
            cols.append(-np.log1p(np.searchsorted(desc, -arr, side="left")))
        elif f == "cos_lead":  # the cosine's margin over the best *other* memory's (the top: its lead)
            arr = channel("dense")
            if rows < 2:
                cols.append(np.zeros(rows))
            else:
                two = np.partition(arr, rows - 2)[-2:]
                cols.append(arr - np.where(arr >= two[1], two[0], two[1]))
        elif f in ("fused", "fused_gap"):
            arr = np.asarray(extra["fused"], dtype=np.float64)
            cols.append(arr - arr.max() if f == "fused_gap" and len(arr) else arr)
        elif f in ("rerank_z", "rerank_gap", "graph", "base", "rrf"):
            arr = np.asarray(extra.get(f.split("_")[0], np.zeros(rows)), dtype=np.float64)
            if f == "rerank_z":
                arr = _z(arr)
            elif f == "rerank_gap":
                sd = arr.std() if len(arr) else 0.0
                arr = (arr - arr.max()) / sd if len(arr) and sd > _TOL else np.zeros(rows)
            cols.append(arr)
        else:
            chan = {v: k for k, v in {**_COS, **_BM25}.items()}.get(base)
            if chan is None:
                raise ValidationError(f"Unknown calibration feature {f!r}.")
            arr = channel(chan)
            top = best.get(chan, float(arr.max()) if len(arr) else 0.0)
            if kind == "z":
                cols.append(_z(arr))
            elif kind == "gap":
                cols.append(arr - top)
            elif kind == "best":  # a constant of the question: how good its best match is
                ceil = float(ceilings.get(chan, 0.0))
                val = (min(top / ceil, 1.0) if ceil > 0 else 0.0) if chan in _BM25 else top
                cols.append(np.full(rows, val))
            elif kind == "rel":
                cols.append(arr / top if top > 0 else np.zeros(rows))
            elif chan in _BM25:
                ceil = float(ceilings.get(chan, 0.0))
                cols.append(np.minimum(arr / ceil, 1.0) if ceil > 0 else np.zeros(rows))
            else:
                cols.append(arr)
    return np.column_stack(cols) if cols else np.zeros((rows, 0))


def is_question_level(feature: str) -> bool:
    """A feature with one value per search (the scope's size, its best match), not per memory."""
    return feature == "log_n" or feature.endswith(("_best", "_best_xn"))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def fit_logistic(X: np.ndarray, y: np.ndarray, *, l2: float = 1.0, weight: Optional[np.ndarray] = None,
                 nonneg: Optional[np.ndarray] = None, iters: int = 100) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (the bias is not penalised). Returns (w, bias).

    ``nonneg`` (booleans per column) constrains those weights to be >= 0 (an active-set Newton method:
    a weight that would turn negative is held at 0 while the gradient pushes it down), so the score can
    only rise with more evidence in those features.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sw = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    A = np.column_stack([X, np.ones(len(X))])
    d = A.shape[1]
    cons = np.zeros(d, dtype=bool)
    if nonneg is not None:
        cons[:-1] = np.asarray(nonneg, dtype=bool)
    beta = np.zeros(d)
    pen = np.full(d, float(l2))
    pen[-1] = 0.0
    held = np.zeros(d, dtype=bool)
    for _ in range(iters):
        p = _sigmoid(A @ beta)
        grad = A.T @ (sw * (p - y)) + pen * beta
        # release a held weight whose gradient now points up (into the feasible side)
        held &= ~(grad < 0)
        free = ~held
        hess = (A[:, free] * (sw * np.maximum(p * (1 - p), 1e-12))[:, None]).T @ A[:, free] + np.diag(pen[free] + 1e-9)
        step = np.zeros(d)
        step[free] = np.linalg.solve(hess, grad[free])
        new = beta - step
        hit = cons & (new < 0)
        if hit.any():  # clip at the bound and hold there
            new[hit] = 0.0
            held |= hit
        done = np.max(np.abs(new - beta)) < 1e-8
        beta = new
        if done:
            break
    return beta[:-1], float(beta[-1])


@dataclass
class LogisticModel:
    """P(relevant) = sigmoid(platt_a * (w · (x - mean) / scale + bias) + platt_b) over named features."""

    features: tuple
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    platt_a: float = 1.0
    platt_b: float = 0.0
    platt_c: float = 0.0  # x log_n: the Platt step may depend on the scope's size (never on the memory)
    bounds: dict = field(default_factory=dict)  # question-level feature -> (lo, hi) seen in fitting

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, names: Sequence[str], *, l2: float = 1.0,
            weight: Optional[np.ndarray] = None) -> "LogisticModel":
        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale < 1e-9] = 1.0
        # every memory-level feature is evidence of relevance: its weight may not be negative
        nonneg = np.array([not is_question_level(f) for f in names])
        w, b = fit_logistic((X - mean) / scale, y, l2=l2, weight=weight, nonneg=nonneg)
        bounds = {f: (float(X[:, i].min()), float(X[:, i].max())) for i, f in enumerate(names)
                  if is_question_level(f) and len(X)}
        return cls(tuple(names), mean, scale, w, b, bounds=bounds)

    def _clipped(self, X: np.ndarray) -> np.ndarray:
        """Question-level features (constant within a search, so they never change its order) clipped to the
        range seen in fitting: a search unlike any the model saw is not extrapolated into over-confidence."""
        X = np.asarray(X, dtype=np.float64)
        if self.bounds:
            X = X.copy()
            for i, f in enumerate(self.features):
                if f in self.bounds:
                    lo, hi = self.bounds[f]
                    np.clip(X[:, i], lo, hi, out=X[:, i])
        return X

    def linear(self, X: np.ndarray) -> np.ndarray:
        """The regression's value, before the Platt step."""
        # an elementwise product summed per row (not a BLAS matvec, whose rounding can differ between rows):
        # identical feature rows get bit-identical scores, so exact ties stay ties
        return (((self._clipped(X) - self.mean) / self.scale) * self.weights).sum(axis=1) + self.bias

    def logit(self, X: np.ndarray) -> np.ndarray:
        """The log-odds of the score: ``platt_a * linear + platt_b (+ platt_c * log_n)``; the ranking value
        (the Platt terms are constant within a search, ``platt_a`` > 0)."""
        X = np.asarray(X, dtype=np.float64)
        out = self.platt_a * self.linear(X) + self.platt_b
        if self.platt_c and "log_n" in self.features:
            out = out + self.platt_c * self._clipped(X)[:, self.features.index("log_n")]
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.proba_of(self.logit(X))

    def proba_of(self, logit: np.ndarray) -> np.ndarray:
        """The score of ranking values from :meth:`logit` (elementwise)."""
        return _sigmoid(np.asarray(logit, dtype=np.float64))

    def recalibrate(self, linear: np.ndarray, y: np.ndarray, weight: Optional[np.ndarray] = None,
                    log_n: Optional[np.ndarray] = None) -> None:
        """Fit the Platt step on (:meth:`linear`, label) pairs, e.g. the model's top-k results (with the
        searches' ``log_n`` when the model has it)."""
        cols = [np.asarray(linear, dtype=np.float64)] + ([np.asarray(log_n, dtype=np.float64)] if log_n is not None
                                                         else [])
        w, b = fit_logistic(np.column_stack(cols), y, l2=1e-6, weight=weight)
        self.platt_a, self.platt_b = max(float(w[0]), 1e-3), b
        self.platt_c = float(w[1]) if log_n is not None else 0.0

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist(), "bias": self.bias, "platt": [self.platt_a, self.platt_b, self.platt_c],
                "bounds": {f: list(b) for f, b in self.bounds.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> "LogisticModel":
        try:
            names = tuple(d["features"])
            arrays = [np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
            a, b, c = (list(float(v) for v in d.get("platt", (1.0, 0.0))) + [0.0])[:3]
            bias = float(d["bias"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"Calibration model is malformed ({exc}).") from None
        if any(len(arr) != len(names) for arr in arrays) or not all(np.isfinite(arr).all() for arr in arrays):
            raise ConfigError("Calibration model is malformed: mean/scale/weights must match its features.")
        if a <= 0:
            raise ConfigError("Calibration model is malformed: its Platt slope must be positive.")
        bounds = {str(f): (float(v[0]), float(v[1])) for f, v in (d.get("bounds") or {}).items()}
        return cls(names, *arrays, bias, a, b, c, bounds=bounds)


@dataclass
class Calibration:
    """One :class:`LogisticModel` per search mode, for one embedder."""

    embedder: str
    models: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def model(self, mode: str) -> LogisticModel:
        got = self.models.get(mode) or (self.models.get("fusion") if mode in ("reranked", "graph") else None)
        if got is None:
            raise ConfigError(f"Calibration for {self.embedder!r} has no model for mode {mode!r}.")
        return got

    def to_dict(self) -> dict:
        return {"format": FORMAT, "embedder": self.embedder, "info": self.info,
                "models": {m: model.to_dict() for m, model in self.models.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Calibration":
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise ConfigError(f"Not a memlab calibration file (expected format {FORMAT!r}).")
        return cls(str(d.get("embedder", "")), {m: LogisticModel.from_dict(v) for m, v in d["models"].items()},
                   dict(d.get("info") or {}))

    def save(self, path: Union[str, Path]) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Calibration":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"Calibration file {str(path)!r} does not exist.") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Calibration file {path} is not valid JSON ({exc.msg}).") from None
        return cls.from_dict(data)


def shipped(embedder: str) -> Calibration:
    """The calibration shipped for ``embedder`` (``minilm``, ``hash``), else the generic fallback."""
    path = DATA_DIR / f"calibration-{embedder}.json"
    return Calibration.load(path if path.is_file() else DATA_DIR / "calibration-generic.json")


def rank_calibrated(model: LogisticModel, X: np.ndarray, keys: np.ndarray, *, limit: int,
                    threshold: Optional[float] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order rows by the model and cut: (indices best first, their scores, their logits).

    Ties in the model's value are broken by ``keys`` (insertion order), so results are deterministic;
    rows whose score is below ``threshold`` are dropped before the top ``limit`` are taken. Scores are
    non-increasing down the result because the score is a monotone function of the order's value.
    """
    logit = model.logit(X)
    order = np.lexsort((np.asarray(keys), -logit))
    if threshold is None:
        order = order[:limit]
        return order, model.proba_of(logit[order]), logit[order]
    # every score is computed from the same logit array, element by element: a threshold keeps exactly
    # the unthresholded results whose score is >= it
    proba = model.proba_of(logit[order])
    keep = proba >= threshold
    return order[keep][:limit], proba[keep][:limit], logit[order[keep][:limit]]


def contributions(model: LogisticModel, x: np.ndarray) -> dict:
    """Each feature's value and its share of the logit (``weight * standardised value``, Platt slope
    included), for ``explain``."""
    z = (model._clipped(np.asarray(x, dtype=np.float64)[None, :])[0] - model.mean) / model.scale
    return {f: {"value": float(v), "contribution": float(model.platt_a * w * zi)}
            for f, v, w, zi in zip(model.features, x, model.weights, z)}
