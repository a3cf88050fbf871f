"""Threshold sweeps: equal to evaluate_run at every threshold; hand-worked; recommendations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from memlab.errors import ValidationError
from memlab.evaluate.metrics import aggregate, evaluate_run
from memlab.evaluate.sweep import SWEEP_COLUMNS, recommend_threshold, sweep_thresholds


def messy_case(seed: int = 0, n_queries: int = 60):
    """Rounded scores (many ties), unanswerable queries, queries with no results."""
    rng = np.random.default_rng(seed)
    run_rows, qrel_rows, queries = [], [], []
    for q in range(n_queries):
        qid = f"q{q:02d}"
        answerable = q % 4 != 0
        queries.append({"id": qid, "answerable": answerable, "category": "ab"[q % 2]})
        n = 0 if q % 7 == 3 else int(rng.integers(1, 25))
        for d in range(n):
            run_rows.append((qid, f"m{d}", round(float(rng.random()), 1)))
        if answerable:
            for d in rng.choice(30, size=int(rng.integers(1, 4)), replace=False):
                qrel_rows.append((qid, f"m{d}", int(rng.integers(1, 3))))
    return (pd.DataFrame(run_rows, columns=["query_id", "memory_id", "score"]),
            pd.DataFrame(qrel_rows, columns=["query_id", "memory_id", "relevance"]), pd.DataFrame(queries))


@pytest.mark.parametrize("k", [None, 3, 10])
def test_sweep_equals_evaluate_run_at_each_threshold(k):
    run, qrels, queries = messy_case()
    thresholds = [-1.0, 0.0, 0.05, 0.1, 0.3, 0.5, 0.55, 0.9, 1.0, 1.5]
    sweep = sweep_thresholds(run, qrels, queries, thresholds=thresholds, k=k, beta=0.5)
    assert list(sweep.columns) == SWEEP_COLUMNS
    assert sweep["threshold"].tolist() == sorted(thresholds)
    for row in sweep.itertuples(index=False):
        ref = aggregate(evaluate_run(run, qrels, queries, k=k, threshold=row.threshold, beta=0.5))
        for col in SWEEP_COLUMNS[1:]:
            got, want = getattr(row, col), ref[col]
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want), (row.threshold, col)


@pytest.mark.parametrize("k", [None, 2])
def test_sweep_equals_evaluate_run_with_grades_below_one(k):
    """Graded relevance is a gain, any positive number: with grades of 0.25 and 0.5 the ideal DCG is below 1,
    and nDCG must still divide by it."""
    run, qrels, queries = messy_case(2)
    qrels = qrels.assign(relevance=qrels["relevance"] * 0.25)
    sweep = sweep_thresholds(run, qrels, queries, thresholds=[0.0, 0.3, 0.6, 0.9], k=k)
    assert (sweep["ndcg"] > 0).any()
    for row in sweep.itertuples(index=False):
        ref = aggregate(evaluate_run(run, qrels, queries, k=k, threshold=row.threshold))
        for col in ("ndcg", "precision", "recall", "mrr", "micro_precision"):
            got, want = getattr(row, col), ref[col]
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want), (row.threshold, col)


def test_hand_worked_sweep():
    # q1: relevant a; results a .9, b .6   q2: relevant c; results d .8, c .3   q3: unanswerable; e .5
    run = pd.DataFrame({"query_id": ["q1", "q1", "q2", "q2", "q3"], "memory_id": ["a", "b", "d", "c", "e"],
                        "score": [0.9, 0.6, 0.8, 0.3, 0.5]})
    qrels = pd.DataFrame({"query_id": ["q1", "q2"], "memory_id": ["a", "c"], "relevance": [1, 1]})
    queries = pd.DataFrame({"id": ["q1", "q2", "q3"], "answerable": [True, True, False]})
    sw = sweep_thresholds(run, qrels, queries, thresholds=[0.2, 0.55, 0.85, 0.95]).set_index("threshold")
    # t=.2: everything. q1 P 1/2 R 1, q2 P 1/2 R 1 -> P .5, R 1, micro P 2/5
    assert sw.loc[0.2, ["precision", "recall", "micro_precision", "empty_rate_unanswerable"]].tolist() == \
        pytest.approx([0.5, 1.0, 0.4, 0.0])
    # t=.55: q1 {a, b}, q2 {d}, q3 {} -> P (1/2 + 0)/2, R 1/2, unanswerable abstains
    assert sw.loc[0.55, ["precision", "recall", "empty_rate_unanswerable", "mean_results"]].tolist() == \
        pytest.approx([0.25, 0.5, 1.0, 1.0])
    # t=.85: q1 {a}, q2 {} -> P (1 + 0)/2 (empty answerable = 0), half the answerable queries empty
    assert sw.loc[0.85, ["precision", "recall", "empty_rate_answerable", "mrr"]].tolist() == \
        pytest.approx([0.5, 0.5, 0.5, 0.5])
    # t=.95: nothing at all -> micro precision undefined
    assert math.isnan(sw.loc[0.95, "micro_precision"]) and sw.loc[0.95, "recall"] == 0.0


def test_default_thresholds_cover_the_scores():
    run, qrels, queries = messy_case(1)
    sw = sweep_thresholds(run, qrels, queries)
    assert len(sw) == 201 and sw["threshold"].is_monotonic_increasing
    assert sw["mean_results"].iloc[0] == pytest.approx(len(run) / len(queries))  # lowest keeps everything
    assert sw["threshold"].iloc[0] == 0.0 and sw["threshold"].iloc[-1] == 1.0  # scores in [0, 1]: one fixed grid
    assert sw["mean_results"].iloc[-1] == pytest.approx((run["score"] >= 1.0).sum() / len(queries))
    assert sw["recall"].is_monotonic_decreasing


def test_recommend_by_f1_and_by_constraint():
    sweep = pd.DataFrame({"threshold": [0.1, 0.2, 0.3, 0.4, 0.5],
                          "precision": [0.2, 0.4, 0.6, 0.8, 0.9], "recall": [1.0, 0.9, 0.7, 0.5, 0.1],
                          "f1": [0.3, 0.6, 0.64, 0.64, 0.2], "f_beta": [0.3, 0.6, 0.64, 0.64, 0.2],
                          "hit": 1.0, "mean_results": 1.0, "empty_rate_answerable": [0, 0, 0.1, 0.2, 0.6],
                          "empty_rate_unanswerable": [0, 0.2, 0.5, 0.8, 1.0]})
    rec = recommend_threshold(sweep)
    assert rec.threshold == 0.4 and rec.feasible  # tie at .64 -> the higher threshold
    assert "unanswerable queries correctly empty 80.0%" in rec.summary()
    rec = recommend_threshold(sweep, min_precision=0.6)
    assert rec.threshold == 0.3 and rec.metrics["recall"] == 0.7
    rec = recommend_threshold(sweep, min_recall=0.8)
    assert rec.threshold == 0.2
    rec = recommend_threshold(sweep, min_precision=0.95)
    assert not rec.feasible and rec.threshold == 0.5 and "no threshold reaches" in rec.summary()
    undefined = recommend_threshold(sweep.assign(f_beta=float("nan")))
    assert not undefined.feasible and "undefined" in undefined.note
    with pytest.raises(ValidationError, match="cannot recommend by"):
        recommend_threshold(sweep, by="nope")
    with pytest.raises(ValidationError, match="not both"):
        recommend_threshold(sweep, min_precision=0.5, min_recall=0.5)
    with pytest.raises(ValidationError, match="empty"):
        recommend_threshold(sweep.iloc[:0])


def test_bad_thresholds_raise():
    run, qrels, queries = messy_case()
    with pytest.raises(ValidationError, match="thresholds"):
        sweep_thresholds(run, qrels, queries, thresholds=[])
    with pytest.raises(ValidationError, match="thresholds"):
        sweep_thresholds(run, qrels, queries, thresholds=[0.1, float("nan")])
    with pytest.raises(ValidationError, match="beta"):
        sweep_thresholds(run, qrels, queries, beta=0)
