"""Retrieval metrics in numpy/pandas: per query, aggregated, with bootstrap confidence intervals.

Inputs
------
- a *run*: DataFrame ``query_id, memory_id, score`` (optionally ``rank``): what retrieval returned,
  without a threshold; :func:`rank_run` orders it.
- *qrels*: DataFrame ``query_id, memory_id, relevance`` (relevance > 0 means relevant; grades are gains).
- *queries*: DataFrame ``id, answerable`` (and optionally ``category``), so that queries with an
  empty result are still counted. Without it, the queries are those of the run and the qrels.

The result list of a query is its top ``k`` memories (by rank) whose score is ``>= threshold``.

Definitions (R = result list, Rel = relevant memories, rel_i = 1 if the i-th result is relevant):

- precision = |R ∩ Rel| / |R|;  recall = |R ∩ Rel| / |Rel|
- F-beta = (1 + b²)·P·R / (b²·P + R);  F1 = F-beta with b = 1
- hit = 1 if R ∩ Rel is non-empty;  MRR = 1 / (rank of the first relevant result)
- nDCG@k = DCG / IDCG with DCG = Σ_i gain_i / log2(i + 1) over R (i = 1-based rank) and IDCG the
  same over the best possible list of length min(k, |Rel|) (gain = relevance grade, as trec_eval).

Rules (explicit, so numbers are comparable across tools):

- **Empty results.** An answerable query with an empty result list scores 0 on every metric
  (precision included: returning nothing for a question that has an answer is a miss; trec_eval
  would silently skip it). It also counts in ``empty_rate_answerable``.
- **Unanswerable queries** (no relevant memory) have undefined precision/recall/F/hit/MRR/nDCG
  (NaN, left out of the macro means). They are measured by ``empty_rate_unanswerable`` (the
  abstention rate: higher is better) and their results count as false positives in
  ``micro_precision``.
- **0/0.** Inside a query only 0/0 can arise from an empty list (rule above) or P = R = 0 in F
  (F = 0). An aggregate over no queries, and ``micro_precision`` when nothing at all was
  returned, is NaN (undefined), never 0 or 1.
- **Ties.** Runs are ordered by score descending, ties broken by an existing ``rank`` column
  (memlab's store keeps insertion order) or else by ``memory_id`` ascending, so the same input
  always gives the same list. A threshold keeps or drops all tied memories together.
"""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np
import pandas as pd

from memlab.errors import ValidationError
from memlab.stats import bootstrap_mean_ci

MACRO_METRICS = ("precision", "recall", "f1", "f_beta", "hit", "mrr", "ndcg")


def rank_run(run: pd.DataFrame) -> pd.DataFrame:
    """The run sorted per query (score desc, deterministic ties) with a 1-based ``rank`` column."""
    missing = {"query_id", "memory_id", "score"} - set(run.columns)
    if missing:
        raise ValidationError(f"run lacks column(s) {sorted(missing)}; expected query_id, memory_id, score.")
    df = run.copy()
    df["score"] = df["score"].astype(float)
    if not np.isfinite(df["score"].to_numpy()).all():
        raise ValidationError("run scores must be finite numbers (no NaN or inf).")
    tie = "rank" if "rank" in df.columns else "memory_id"
    df = df.sort_values(["query_id", "score", tie], ascending=[True, False, True], kind="mergesort")
    df["rank"] = df.groupby("query_id", sort=False).cumcount() + 1
    return df.reset_index(drop=True)


def _query_table(run: pd.DataFrame, qrels: pd.DataFrame, queries: Optional[pd.DataFrame]) -> pd.DataFrame:
    positive = qrels[qrels["relevance"] > 0]
    n_rel = positive.groupby("query_id").size()
    if queries is None:
        ids = pd.Index(run["query_id"].unique()).union(pd.Index(qrels["query_id"].unique())).sort_values()
        table = pd.DataFrame({"query_id": ids})
        table["answerable"] = table["query_id"].map(n_rel).fillna(0).gt(0)
    else:
        table = pd.DataFrame({"query_id": queries["id"].to_numpy(),
                              "answerable": queries["answerable"].astype(bool).to_numpy()})
        if "category" in queries.columns:
            table["category"] = queries["category"].to_numpy()
        unknown = pd.Index(run["query_id"].unique()).difference(pd.Index(table["query_id"]))
        if len(unknown):
            raise ValidationError(f"run has {len(unknown)} query id(s) not in queries, e.g. {unknown[0]!r}.")
    table["n_relevant"] = table["query_id"].map(n_rel).fillna(0).astype(int)
    bad = table[table["answerable"] != (table["n_relevant"] > 0)]
    if len(bad):
        raise ValidationError(f"query {bad['query_id'].iloc[0]!r}: 'answerable' disagrees with its qrels.")
    return table


def cut(run: pd.DataFrame, k: Optional[int] = None, threshold: Optional[float] = None) -> pd.DataFrame:
    """Result lists of a ranked run: rank <= k and score >= threshold."""
    keep = np.ones(len(run), dtype=bool)
    if k is not None:
        if int(k) < 1:
            raise ValidationError(f"k must be a positive integer, got {k!r}.")
        keep &= run["rank"].to_numpy() <= int(k)
    if threshold is not None:
        keep &= run["score"].to_numpy() >= float(threshold)
    return run[keep]


def evaluate_run(run: pd.DataFrame, qrels: pd.DataFrame, queries: Optional[pd.DataFrame] = None, *,
                 k: Optional[int] = None, threshold: Optional[float] = None, beta: float = 1.0) -> pd.DataFrame:
    """Per-query metrics of the result lists (top ``k``, score ``>= threshold``); see the module rules.

    Returns one row per query: ``query_id, answerable, [category], n_relevant, n_retrieved,
    n_relevant_retrieved, empty`` and the metrics ``precision, recall, f1, f_beta, hit, mrr, ndcg``.
    """
    if beta <= 0:
        raise ValidationError(f"beta must be > 0, got {beta!r}.")
    ranked = rank_run(run)
    table = _query_table(ranked, qrels, queries)
    res = cut(ranked, k, threshold)
    rel = qrels.set_index(["query_id", "memory_id"])["relevance"]
    gains = pd.Series(rel.reindex(pd.MultiIndex.from_frame(res[["query_id", "memory_id"]])).to_numpy(),
                      index=res.index).fillna(0.0).clip(lower=0.0)
    res = res.assign(gain=gains, is_rel=gains > 0, disc=1.0 / np.log2(res["rank"].to_numpy() + 1.0))
    res = res.assign(dcg_i=res["gain"] * res["disc"],
                     rr_i=np.where(res["is_rel"], 1.0 / res["rank"].to_numpy(), 0.0))
    per = res.groupby("query_id").agg(n_retrieved=("memory_id", "size"), n_relevant_retrieved=("is_rel", "sum"),
                                      dcg=("dcg_i", "sum"), mrr=("rr_i", "max"))
    out = table.merge(per, left_on="query_id", right_index=True, how="left")
    for c in ("n_retrieved", "n_relevant_retrieved"):
        out[c] = out[c].fillna(0).astype(int)
    out["empty"] = out["n_retrieved"] == 0
    ans = out["answerable"].to_numpy()
    n_ret = out["n_retrieved"].to_numpy(float)
    hits = out["n_relevant_retrieved"].to_numpy(float)
    n_rel = out["n_relevant"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n_ret > 0, hits / n_ret, 0.0)
        r = np.where(n_rel > 0, hits / n_rel, 0.0)
        out["precision"] = np.where(ans, p, np.nan)
        out["recall"] = np.where(ans, r, np.nan)
        out["f1"] = np.where(ans, _fbeta(p, r, 1.0), np.nan)
        out["f_beta"] = np.where(ans, _fbeta(p, r, beta), np.nan)
        out["hit"] = np.where(ans, (hits > 0).astype(float), np.nan)
        out["mrr"] = np.where(ans, out["mrr"].fillna(0.0).to_numpy(), np.nan)
        idcg = _idcg(qrels, out["query_id"], k)
        out["ndcg"] = np.where(ans, np.where(idcg > 0, out["dcg"].fillna(0.0).to_numpy() / idcg, 0.0), np.nan)
    return out.drop(columns=["dcg"])


def _fbeta(p: np.ndarray, r: np.ndarray, beta: float) -> np.ndarray:
    b2 = beta * beta
    denom = b2 * p + r
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, (1 + b2) * p * r / denom, 0.0)


def _idcg(qrels: pd.DataFrame, query_ids: pd.Series, k: Optional[int]) -> np.ndarray:
    pos = qrels[qrels["relevance"] > 0].sort_values(["query_id", "relevance"], ascending=[True, False])
    pos = pos.assign(rank=pos.groupby("query_id").cumcount() + 1)
    if k is not None:
        pos = pos[pos["rank"] <= int(k)]
    ideal = (pos["relevance"] / np.log2(pos["rank"] + 1.0)).groupby(pos["query_id"]).sum()
    return query_ids.map(ideal).fillna(0.0).to_numpy()


def aggregate(per_query: pd.DataFrame) -> pd.Series:
    """Aggregate per-query metrics: macro means over answerable queries, micro precision/recall,
    empty-result rates on answerable and on unanswerable queries (NaN when a group is empty)."""
    ans = per_query["answerable"].astype(bool)
    out = {m: _mean(per_query.loc[ans, m]) for m in MACRO_METRICS if m in per_query}
    ret = per_query["n_retrieved"].sum()
    out["micro_precision"] = per_query["n_relevant_retrieved"].sum() / ret if ret else np.nan
    n_rel = per_query["n_relevant"].sum()
    out["micro_recall"] = per_query["n_relevant_retrieved"].sum() / n_rel if n_rel else np.nan
    out["empty_rate_answerable"] = _mean(per_query.loc[ans, "empty"].astype(float))
    out["empty_rate_unanswerable"] = _mean(per_query.loc[~ans, "empty"].astype(float))
    out["mean_results"] = _mean(per_query["n_retrieved"].astype(float))
    out["n_queries"] = len(per_query)
    out["n_answerable"] = int(ans.sum())
    return pd.Series(out)


def aggregate_by(per_query: pd.DataFrame, column: str = "category") -> pd.DataFrame:
    """:func:`aggregate` per group (e.g. per query category), one row per group."""
    if column not in per_query.columns:
        raise ValidationError(f"per-query table has no column {column!r}.")
    return per_query.groupby(column, dropna=False).apply(aggregate, include_groups=False)


def _mean(values: pd.Series) -> float:
    v = values.dropna()
    return float(v.mean()) if len(v) else float("nan")


def bootstrap_ci(per_query: pd.DataFrame, metrics: Iterable[str] = MACRO_METRICS, *, n_boot: int = 1000,
                 alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Percentile bootstrap confidence intervals of macro means (queries resampled with replacement).

    Each metric is resampled over the queries where it is defined (answerable ones for the
    macro metrics; ``empty_rate_answerable`` / ``empty_rate_unanswerable`` over their group), with
    ``numpy.random.default_rng(seed)``, so intervals are reproducible.

    Returns: a DataFrame indexed by metric with ``mean, low, high, n``.
    """
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha must be between 0 and 1, got {alpha!r}.")
    if n_boot < 1:
        raise ValidationError(f"n_boot must be >= 1, got {n_boot!r}.")
    rng = np.random.default_rng(seed)
    ans = per_query["answerable"].astype(bool)
    rows = {}
    for m in metrics:
        if m == "empty_rate_answerable":
            values = per_query.loc[ans, "empty"].astype(float).to_numpy()
        elif m == "empty_rate_unanswerable":
            values = per_query.loc[~ans, "empty"].astype(float).to_numpy()
        elif m in per_query.columns:
            values = per_query.loc[ans, m].dropna().to_numpy(float)
        else:
            raise ValidationError(f"unknown metric {m!r} for bootstrap_ci.")
        if len(values) == 0:
            rows[m] = {"mean": np.nan, "low": np.nan, "high": np.nan, "n": 0}
            continue
        mean, low, high = bootstrap_mean_ci(values, n_boot=n_boot, alpha=alpha, rng=rng)
        rows[m] = {"mean": mean, "low": low, "high": high, "n": len(values)}
    return pd.DataFrame.from_dict(rows, orient="index")
