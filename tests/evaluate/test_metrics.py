"""Metrics: cross-checked against ir-measures on ranked lists, and hand-worked for thresholds, empties, ties."""

from __future__ import annotations

import math

import ir_measures
import numpy as np
import pandas as pd
import pytest
from ir_measures import R, RR, Success, nDCG

from memlab.errors import ValidationError
from memlab.evaluate.metrics import aggregate, aggregate_by, bootstrap_ci, evaluate_run, rank_run


def random_case(seed: int, n_queries: int = 40, n_docs: int = 30):
    rng = np.random.default_rng(seed)
    run_rows, qrel_rows = [], []
    for q in range(n_queries):
        scores = rng.permutation(n_docs) / n_docs + rng.random()  # distinct scores within a query
        for d in range(n_docs):
            run_rows.append((f"q{q}", f"d{d}", float(scores[d])))
        for d in rng.choice(n_docs + 5, size=rng.integers(1, 6), replace=False):  # some relevant docs unretrieved
            qrel_rows.append((f"q{q}", f"d{d}", int(rng.integers(1, 4))))
    run = pd.DataFrame(run_rows, columns=["query_id", "memory_id", "score"])
    qrels = pd.DataFrame(qrel_rows, columns=["query_id", "memory_id", "relevance"])
    return run, qrels


def ir_values(measure, run: pd.DataFrame, qrels: pd.DataFrame) -> dict:
    q = [ir_measures.Qrel(a, b, int(c)) for a, b, c in qrels.itertuples(index=False)]
    triples = run[["query_id", "memory_id", "score"]].itertuples(index=False)
    r = [ir_measures.ScoredDoc(a, b, float(c)) for a, b, c in triples]
    return {m.query_id: m.value for m in ir_measures.iter_calc([measure], q, r)}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 5, 10])
def test_ranked_metrics_agree_with_ir_measures(seed, k):
    run, qrels = random_case(seed)
    ours = evaluate_run(run, qrels, k=k).set_index("query_id")
    for col, measure in (("ndcg", nDCG @ k), ("recall", R @ k), ("mrr", RR @ k), ("hit", Success @ k)):
        ref = ir_values(measure, run, qrels)
        assert set(ref) == set(ours.index)
        for qid, value in ref.items():
            assert ours.loc[qid, col] == pytest.approx(value, abs=1e-9), (col, qid)
    # every list has >= k results here, so our set precision equals P@k
    ref_p = ir_values(ir_measures.P @ k, run, qrels)
    for qid, value in ref_p.items():
        assert ours.loc[qid, "precision"] == pytest.approx(value, abs=1e-9)


def test_empty_answerable_queries_score_zero_and_count_in_means():
    run, qrels = random_case(3, n_queries=10)
    run = run[run["query_id"] != "q0"]  # q0 returns nothing
    queries = pd.DataFrame({"id": [f"q{i}" for i in range(10)], "answerable": True})
    ours = evaluate_run(run, qrels, queries, k=10)
    ref = ir_values(nDCG @ 10, run, qrels)
    assert ref.get("q0", 0.0) == 0.0  # ir-measures: 0 (plain trec_eval would skip the query)
    row = ours.set_index("query_id").loc["q0"]
    assert row["empty"] and row["ndcg"] == 0.0 and row["precision"] == 0.0 and row["recall"] == 0.0
    assert aggregate(ours)["ndcg"] == pytest.approx(sum(ref.values()) / 10)  # mean over all 10, not 9


def hand_case():
    # q1: relevant a (2), b (1); results a .9, x .8, b .4   q2: relevant c; results y .7, c .6
    # q3: unanswerable; results z .5                       q4: relevant d; no results
    run = pd.DataFrame({"query_id": ["q1", "q1", "q1", "q2", "q2", "q3"],
                        "memory_id": ["a", "x", "b", "y", "c", "z"],
                        "score": [0.9, 0.8, 0.4, 0.7, 0.6, 0.5]})
    qrels = pd.DataFrame({"query_id": ["q1", "q1", "q2", "q4"], "memory_id": ["a", "b", "c", "d"],
                          "relevance": [2, 1, 1, 1]})
    queries = pd.DataFrame({"id": ["q1", "q2", "q3", "q4"], "answerable": [True, True, False, True],
                            "category": ["x", "x", "y", "y"]})
    return run, qrels, queries


def test_hand_worked_threshold():
    run, qrels, queries = hand_case()
    pq = evaluate_run(run, qrels, queries, threshold=0.65).set_index("query_id")
    # q1 keeps a, x: P 1/2, R 1/2, F1 1/2, RR 1, nDCG = 2 / (2 + 1/log2 3)
    assert pq.loc["q1", ["precision", "recall", "f1", "mrr", "hit"]].tolist() == [0.5, 0.5, 0.5, 1.0, 1.0]
    assert pq.loc["q1", "ndcg"] == pytest.approx(2 / (2 + 1 / math.log2(3)))
    # q2 keeps y only: P 0, R 0, F1 0 (0/0 in F is 0), RR 0
    assert pq.loc["q2", ["precision", "recall", "f1", "mrr", "hit", "ndcg"]].tolist() == [0.0] * 6
    # q3 (unanswerable) drops z -> empty, metrics undefined; q4 empty and answerable -> zeros
    assert pq.loc["q3", "empty"] and math.isnan(pq.loc["q3", "precision"])
    assert pq.loc["q4", "empty"] and pq.loc["q4", "recall"] == 0.0
    agg = aggregate(pq.reset_index())
    assert agg["precision"] == pytest.approx(0.5 / 3)
    assert agg["micro_precision"] == pytest.approx(1 / 3)   # a of {a, x, y}
    assert agg["micro_recall"] == pytest.approx(1 / 4)
    assert agg["empty_rate_answerable"] == pytest.approx(1 / 3)
    assert agg["empty_rate_unanswerable"] == 1.0
    # without threshold q3's z is a false positive and q3 is not empty
    agg0 = aggregate(evaluate_run(run, qrels, queries))
    assert agg0["empty_rate_unanswerable"] == 0.0 and agg0["micro_precision"] == pytest.approx(3 / 6)


def test_fbeta_weights_recall():
    run, qrels, queries = hand_case()
    pq = evaluate_run(run, qrels, queries, beta=2.0).set_index("query_id")
    p, r = 2 / 3, 1.0  # q1 without threshold: a, x, b
    assert pq.loc["q1", "f_beta"] == pytest.approx(5 * p * r / (4 * p + r))
    assert pq.loc["q1", "f1"] == pytest.approx(2 * p * r / (p + r))


def test_ties_are_deterministic():
    run = pd.DataFrame({"query_id": "q", "memory_id": ["m3", "m1", "m2"], "score": [0.5, 0.5, 0.5]})
    assert rank_run(run)["memory_id"].tolist() == ["m1", "m2", "m3"]  # no rank column: by memory id
    with_rank = run.assign(rank=[1, 2, 3])
    assert rank_run(with_rank)["memory_id"].tolist() == ["m3", "m1", "m2"]  # the store's order is kept
    qrels = pd.DataFrame({"query_id": ["q"], "memory_id": ["m2"], "relevance": [1]})
    pq = evaluate_run(run, qrels, k=2)
    assert pq["mrr"].iloc[0] == 0.5  # m1, m2 | m3: m2 at rank 2
    # a threshold keeps or drops tied memories together
    assert evaluate_run(run, qrels, threshold=0.5)["n_retrieved"].iloc[0] == 3
    assert evaluate_run(run, qrels, threshold=0.51)["n_retrieved"].iloc[0] == 0


def test_zero_over_zero_aggregates_are_nan():
    run = pd.DataFrame(columns=["query_id", "memory_id", "score"])
    qrels = pd.DataFrame({"query_id": ["q"], "memory_id": ["m"], "relevance": [1]})
    queries = pd.DataFrame({"id": ["q", "u"], "answerable": [True, False]})
    agg = aggregate(evaluate_run(run, qrels, queries))
    assert math.isnan(agg["micro_precision"])  # nothing returned at all: undefined
    assert agg["recall"] == 0.0 and agg["empty_rate_answerable"] == 1.0 and agg["empty_rate_unanswerable"] == 1.0
    only_unanswerable = aggregate(evaluate_run(run, qrels.iloc[:0], queries.iloc[1:]))
    assert math.isnan(only_unanswerable["recall"]) and math.isnan(only_unanswerable["micro_recall"])


def test_aggregate_by_category():
    run, qrels, queries = hand_case()
    by = aggregate_by(evaluate_run(run, qrels, queries), "category")
    assert by.loc["x", "recall"] == pytest.approx(1.0)
    assert by.loc["y", "recall"] == 0.0 and by.loc["y", "empty_rate_unanswerable"] == 0.0


def test_bootstrap_is_reproducible_and_brackets_the_mean():
    run, qrels = random_case(5, n_queries=60)
    pq = evaluate_run(run, qrels, k=5)
    a = bootstrap_ci(pq, ["recall", "ndcg"], n_boot=500, seed=7)
    b = bootstrap_ci(pq, ["recall", "ndcg"], n_boot=500, seed=7)
    pd.testing.assert_frame_equal(a, b)
    for m in ("recall", "ndcg"):
        assert a.loc[m, "low"] <= a.loc[m, "mean"] <= a.loc[m, "high"]
        assert a.loc[m, "mean"] == pytest.approx(pq[m].mean())
        assert a.loc[m, "high"] - a.loc[m, "low"] > 0
    const = pq.assign(recall=0.25)
    c = bootstrap_ci(const, ["recall"], n_boot=50)
    assert c.loc["recall", "low"] == c.loc["recall", "high"] == pytest.approx(0.25)


def test_bad_input_raises_typed_errors():
    run, qrels, queries = hand_case()
    with pytest.raises(ValidationError, match="lacks column"):
        evaluate_run(run.drop(columns="score"), qrels)
    with pytest.raises(ValidationError, match="finite"):
        evaluate_run(run.assign(score=np.nan), qrels)
    with pytest.raises(ValidationError, match="positive integer"):
        evaluate_run(run, qrels, queries, k=0)
    with pytest.raises(ValidationError, match="disagrees"):
        evaluate_run(run, qrels, queries.assign(answerable=True))
    with pytest.raises(ValidationError, match="not in queries"):
        evaluate_run(run, qrels, queries[queries["id"] != "q1"])
    with pytest.raises(ValidationError, match="alpha"):
        bootstrap_ci(evaluate_run(run, qrels, queries), ["recall"], alpha=2)
    with pytest.raises(ValidationError, match="unknown metric"):
        bootstrap_ci(evaluate_run(run, qrels, queries), ["nope"])
    assert run["score"].notna().all()  # the caller's frame is untouched
