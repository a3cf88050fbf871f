"""Threshold sweeps: every candidate threshold applied offline to one retrieval pass.

The run is sorted once; each result row is binned by how many candidate thresholds it passes
(``searchsorted``), and per-query counts for every threshold come from one reverse cumulative sum
over those bins. A sweep of 1,000 queries × 100 results × 200 thresholds takes milliseconds.

The numbers equal :func:`memlab.evaluate.metrics.evaluate_run` at each threshold (same rules for
empty lists, unanswerable queries and 0/0; tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from memlab.errors import ValidationError
from memlab.evaluate.metrics import _fbeta, _idcg, _query_table, cut, rank_run

SWEEP_COLUMNS = ["threshold", "precision", "recall", "f1", "f_beta", "hit", "mrr", "ndcg", "micro_precision",
                 "micro_recall", "empty_rate_answerable", "empty_rate_unanswerable", "mean_results"]


def default_thresholds(scores: np.ndarray, n: int = 201) -> np.ndarray:
    """``n`` evenly spaced thresholds: over [0, 1] for scores in [0, 1] (the calibrated score: one fixed
    grid for every run), else from just below the lowest to just above the highest score."""
    if len(scores) == 0 or (scores.min() >= 0.0 and scores.max() <= 1.0):
        return np.linspace(0.0, 1.0, n)
    lo = np.floor(scores.min() * 100) / 100
    hi = np.ceil(scores.max() * 100) / 100 + 0.01
    return np.round(np.linspace(lo, hi, n), 6)


def threshold_counts(run: pd.DataFrame, qrels: pd.DataFrame, queries: Optional[pd.DataFrame] = None, *,
                     thresholds: Optional[Sequence[float]] = None, k: Optional[int] = None):
    """Per-query × per-threshold matrices: ``(table, thresholds, n_ret, n_hit, dcg, rr)``.

    ``table`` is the query table (``query_id, answerable, n_relevant, ...``) whose row order the
    matrices (shape ``n_queries × n_thresholds``) follow.
    """
    ranked = rank_run(run)
    table = _query_table(ranked, qrels, queries)
    res = cut(ranked, k, None)
    th = default_thresholds(res["score"].to_numpy()) if thresholds is None else np.asarray(thresholds, float)
    if th.ndim != 1 or len(th) == 0 or not np.isfinite(th).all():
        raise ValidationError("thresholds must be a non-empty 1-d sequence of finite numbers.")
    th = np.unique(th)  # ascending, no duplicates
    nq, nt = len(table), len(th)
    qpos = pd.Index(table["query_id"]).get_indexer(res["query_id"])
    # a row with score s passes thresholds th[0..b-1] where b = #thresholds <= s
    b = np.searchsorted(th, res["score"].to_numpy(), side="right")
    rel = qrels.set_index(["query_id", "memory_id"])["relevance"]
    gain = np.nan_to_num(rel.reindex(pd.MultiIndex.from_frame(res[["query_id", "memory_id"]])).to_numpy(float))
    gain = np.clip(gain, 0.0, None)
    ranks = res["rank"].to_numpy(float)
    is_rel = gain > 0
    # reciprocal rank counts only for the first relevant row of each query
    first = is_rel & (pd.Series(is_rel.astype(int)).groupby(qpos).cumsum().to_numpy() == 1)

    def passing(values: np.ndarray) -> np.ndarray:
        m = np.zeros((nq, nt + 1))
        np.add.at(m, (qpos, b), values)
        # counts at threshold j = sum of bins b > j
        return np.cumsum(m[:, ::-1], axis=1)[:, ::-1][:, 1:]

    n_ret = passing(np.ones(len(res)))
    n_hit = passing(is_rel.astype(float))
    dcg = passing(gain / np.log2(ranks + 1.0))
    rr = passing(np.where(first, 1.0 / ranks, 0.0))
    return table, th, n_ret, n_hit, dcg, rr


def sweep_thresholds(run: pd.DataFrame, qrels: pd.DataFrame, queries: Optional[pd.DataFrame] = None, *,
                     thresholds: Optional[Sequence[float]] = None, k: Optional[int] = None,
                     beta: float = 1.0) -> pd.DataFrame:
    """Aggregated metrics at every threshold (results: top ``k`` with score >= threshold).

    Returns one row per threshold (ascending) with the columns of :data:`SWEEP_COLUMNS`: macro
    means over answerable queries, micro precision/recall, empty-result rates on answerable and
    unanswerable queries, and the mean number of results per query.
    """
    if beta <= 0:
        raise ValidationError(f"beta must be > 0, got {beta!r}.")
    table, th, n_ret, n_hit, dcg, rr = threshold_counts(run, qrels, queries, thresholds=thresholds, k=k)
    ans = table["answerable"].to_numpy(bool)
    n_rel = table["n_relevant"].to_numpy(float)[:, None]
    a_ret, a_hit = n_ret[ans], n_hit[ans]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(a_ret > 0, a_hit / np.where(a_ret > 0, a_ret, 1), 0.0)
        r = a_hit / n_rel[ans]
        idcg = _idcg(qrels, table["query_id"], k)[ans][:, None]
        ndcg = np.where(idcg > 0, dcg[ans] / np.where(idcg > 0, idcg, 1), 0.0)
    total_ret = n_ret.sum(axis=0)
    out = pd.DataFrame({
        "threshold": th,
        "precision": _colmean(p), "recall": _colmean(r), "f1": _colmean(_fbeta(p, r, 1.0)),
        "f_beta": _colmean(_fbeta(p, r, beta)), "hit": _colmean((a_hit > 0).astype(float)),
        "mrr": _colmean(rr[ans]), "ndcg": _colmean(ndcg),
        "micro_precision": np.where(total_ret > 0, n_hit.sum(axis=0) / np.where(total_ret > 0, total_ret, 1),
                                    np.nan),
        "micro_recall": n_hit[ans].sum(axis=0) / n_rel[ans].sum() if ans.any() else np.nan,
        "empty_rate_answerable": _colmean((a_ret == 0).astype(float)),
        "empty_rate_unanswerable": _colmean((n_ret[~ans] == 0).astype(float)),
        "mean_results": _colmean(n_ret),
    })
    out.attrs.update({"k": k, "beta": beta, "n_queries": len(table), "n_answerable": int(ans.sum())})
    return out


def _colmean(m: np.ndarray) -> np.ndarray:
    if m.shape[0] == 0:
        return np.full(m.shape[1], np.nan)
    return m.mean(axis=0)


@dataclass
class Recommendation:
    """A recommended threshold, the rule that chose it and the metrics (incl. abstention) there."""

    threshold: float
    criterion: str
    metrics: pd.Series
    feasible: bool = True
    note: str = ""

    def summary(self) -> str:
        m = self.metrics
        text = (f"threshold {self.threshold:.3f} ({self.criterion}): precision {m['precision']:.3f}, "
                f"recall {m['recall']:.3f}, F1 {m['f1']:.3f}, hit {m['hit']:.3f}, "
                f"{m['mean_results']:.1f} results/query; answerable queries left empty "
                f"{_pct(m['empty_rate_answerable'])}, unanswerable queries correctly empty "
                f"{_pct(m['empty_rate_unanswerable'])}")
        return text + (f". Note: {self.note}" if self.note else "")

    def __str__(self) -> str:
        return self.summary()


def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}%"


def recommend_threshold(sweep: pd.DataFrame, *, by: str = "f_beta", min_precision: Optional[float] = None,
                        min_recall: Optional[float] = None, precision_metric: str = "precision") -> Recommendation:
    """Pick a threshold from a sweep.

    - default: the threshold maximising ``by`` (``f_beta``, with the sweep's beta, or ``f1``, ...);
    - ``min_precision=p``: the highest recall among thresholds with ``precision_metric >= p``;
    - ``min_recall=r``: the highest precision among thresholds with ``recall >= r``.

    Ties go to the highest threshold (same score, fewer results, more abstention). When no
    threshold meets the constraint, the one closest to it is returned with ``feasible=False``.
    """
    if sweep.empty:
        raise ValidationError("the sweep is empty; run sweep_thresholds first.")
    if min_precision is not None and min_recall is not None:
        raise ValidationError("pass min_precision or min_recall, not both.")
    df = sweep.sort_values("threshold").reset_index(drop=True)

    def best(col: str, rows: pd.DataFrame) -> pd.Series:
        vals = rows[col].fillna(-np.inf).to_numpy()
        idx = np.flatnonzero(vals == vals.max())[-1]  # highest threshold among ties
        return rows.iloc[idx]

    if min_precision is not None or min_recall is not None:
        col, bound, target = ((precision_metric, min_precision, "recall") if min_precision is not None
                              else ("recall", min_recall, precision_metric))
        if col not in df.columns:
            raise ValidationError(f"sweep has no column {col!r}.")
        ok = df[df[col].fillna(-np.inf) >= bound]
        criterion = f"max {target} at {col} >= {bound:g}"
        if ok.empty:
            row = best(col, df)
            return Recommendation(float(row["threshold"]), criterion, row, False,
                                  f"no threshold reaches {col} >= {bound:g}; best is {row[col]:.3f}")
        row = best(target, ok)
        return Recommendation(float(row["threshold"]), criterion, row)
    if by not in df.columns:
        raise ValidationError(f"cannot recommend by {by!r}; choose one of {', '.join(df.columns[1:])}.")
    row = best(by, df)
    label = f"max F{df.attrs.get('beta', 1):g}" if by == "f_beta" else f"max {by}"
    if df[by].isna().all():  # e.g. only unanswerable queries: nothing to maximise
        return Recommendation(float(row["threshold"]), label, row, False,
                              f"{by} is undefined at every threshold (no answerable queries?)")
    return Recommendation(float(row["threshold"]), label, row)
