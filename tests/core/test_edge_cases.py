"""Edge cases found by the mutation check (tools/mutate.py): each test here kills mutants that the
rest of the suite let survive. Filters' nesting limit, NOT forms, ``{"eq": "*"}``, bools in order
comparisons, ``icontains`` on lists, default state filtering, one-memory scopes, token-less texts,
emptied postings, and the argument boundaries of metrics and sweeps."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from memlab import Memory
from memlab.errors import ValidationError
from memlab.store import filters as F

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 32}}}


def _nested(levels: int, leaf: dict) -> dict:
    for _ in range(levels):
        leaf = {"AND": [leaf]}
    return leaf


def test_filter_nesting_limit_is_exact():
    # the scalar of {"i": 1} sits 2 levels below each {"AND": [...]}, 1 below a {"NOT": ...}
    at_limit = {"NOT": _nested(15, {"i": 1})}          # deepest value at level 32 = MAX_DEPTH
    assert F.MAX_DEPTH == 32
    F.parse(at_limit)
    with pytest.raises(ValidationError, match="nested more than 32"):
        F.parse(_nested(16, {"i": 1}))                  # level 33


@pytest.fixture
def tagged():
    m = Memory(HASH)
    rows = [("a", {"i": 1, "flag": True, "tags": ["Red", "blue"]}), ("b", {"i": 2, "flag": False, "tags": ["green"]}),
            ("c", {"i": 3, "tags": [1, "RED"]}), ("d", {"topic": "home"})]
    ids = {t: m.add(f"memory {t}", user_id="u", metadata=meta, infer=False)["results"][0]["id"] for t, meta in rows}
    yield m, ids
    m.close()


def _ids(m, filters):
    return {r["id"] for r in m.get_all(filters={"user_id": "u", **filters})["results"]}


def test_not_forms_and_eq_star(tagged):
    m, ids = tagged
    assert _ids(m, {"NOT": [{"i": 1}]}) == {ids["b"], ids["c"], ids["d"]}
    assert _ids(m, {"NOT": [{"i": 1}, {"i": 2}]}) == {ids["c"], ids["d"]}  # mem0: none of them (NOT (i=1 OR i=2))
    assert _ids(m, {"NOT": [{"i": 1}, {"flag": True}]}) == {ids["b"], ids["c"], ids["d"]}
    for bad in ("abc", [{"i": 1}, "x"], [], [{}]):
        with pytest.raises(ValidationError, match="NOT"):
            m.get_all(filters={"user_id": "u", "NOT": bad})
    assert _ids(m, {"topic": {"eq": "*"}}) == {ids["d"]}
    assert _ids(m, {"topic": {"eq": "home"}}) == {ids["d"]}
    assert _ids(m, {"topic": {"eq": "away"}}) == set()


def test_bools_are_not_ordered_and_icontains_matches_whole_list_items(tagged):
    m, ids = tagged
    assert _ids(m, {"flag": {"gt": 0}}) == set() and _ids(m, {"flag": {"gte": 0}}) == set()
    assert _ids(m, {"i": {"gt": 1}}) == {ids["b"], ids["c"]}
    assert _ids(m, {"tags": {"icontains": "red"}}) == {ids["a"], ids["c"]}
    assert _ids(m, {"tags": {"icontains": "gree"}}) == set()  # list items match whole, not by substring
    assert _ids(m, {"tags": {"icontains": "GREEN"}}) == {ids["b"]}


def test_default_reads_hide_inactive_rows_and_state_filters_reach_them():
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 32}},
                "vector_store": {"provider": "faiss", "config": {"exact_subset_max": 0}}})  # FAISS paths
    keep = m.add("tea in the garden", user_id="u", infer=False)["results"][0]["id"]
    gone = m.add("tea on the train", user_id="u", infer=False)["results"][0]["id"]
    old = m.add("tea at the office", user_id="u", infer=False)["results"][0]["id"]
    m.delete(gone)
    m.set_state(old, "archived")
    assert F.mentions(None, "state") is False and F.mentions(F.parse({"user_id": "u"}), "state") is False
    assert F.mentions(F.parse({"AND": [{"user_id": "u"}, {"state": "archived"}]}), "state") is True
    assert int(m.store.mask(None).sum()) == 1 and m.store.count() == 1
    assert [r["id"] for r in m.search("tea", user_id="u")["results"]] == [keep]
    for mode in ("dense", "keyword", "hybrid"):
        got = m.search("tea", user_id="u", filters={"state": "archived"}, mode=mode)["results"]
        assert [r["id"] for r in got] == [old], mode
    m.close()


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_a_scope_with_one_memory(mode):
    m = Memory(HASH)
    only = m.add("green tea", user_id="solo", infer=False)["results"][0]["id"]
    m.add("green tea too", user_id="other", infer=False)
    assert [r["id"] for r in m.search("green tea", user_id="solo", mode=mode)["results"]] == [only]
    m.close()


def test_keyword_search_with_no_word_tokens_and_with_emptied_postings():
    m = Memory(HASH)
    m.add("!!!", user_id="u", infer=False)
    m.add("...", user_id="u", infer=False)
    assert m.search("tea", user_id="u", mode="keyword")["results"] == []
    assert len(m.search("tea", user_id="u", mode="hybrid")["results"]) == 2  # dense still ranks them
    mid = m.add("zanzibar holiday", user_id="v", infer=False)["results"][0]["id"]
    m.search("holiday", user_id="v", mode="keyword")  # builds the keyword index
    m.update(mid, "ordinary holiday")  # "zanzibar" keeps a vocabulary entry with no posting left
    assert m.search("zanzibar", user_id="v", mode="keyword")["results"] == []
    assert [r["id"] for r in m.search("zanzibar holiday", user_id="v", mode="keyword")["results"]] == [mid]
    m.close()


# --------------------------------------------------------------------------- metrics and sweeps
def _case():
    run = pd.DataFrame({"query_id": ["q1", "q1", "q1", "q2", "q2"], "memory_id": ["a", "b", "c", "d", "e"],
                        "score": [0.9, 0.6, 0.3, 0.8, 0.2]})
    qrels = pd.DataFrame({"query_id": ["q1", "q1", "q2", "q2"], "memory_id": ["b", "z", "d", "e"],
                          "relevance": [2, -1, 1, 0]})
    return run, qrels


def test_metric_argument_boundaries():
    from memlab.evaluate.metrics import bootstrap_ci, evaluate_run

    run, qrels = _case()
    with pytest.raises(ValidationError, match="beta"):
        evaluate_run(run, qrels, beta=0)
    per = evaluate_run(run, qrels, beta=1e-9)
    for alpha in (0, 1):
        with pytest.raises(ValidationError, match="alpha"):
            bootstrap_ci(per, ["recall"], alpha=alpha)
    with pytest.raises(ValidationError, match="n_boot"):
        bootstrap_ci(per, ["recall"], n_boot=0)
    one = bootstrap_ci(per, ["recall"], n_boot=1)
    assert one.loc["recall", "n"] == 2
    single = bootstrap_ci(per[per["query_id"] == "q1"], ["recall", "empty_rate_unanswerable"], n_boot=10)
    assert single.loc["recall", "n"] == 1 and single.loc["recall", "low"] == single.loc["recall", "mean"] == 1.0
    assert single.loc["empty_rate_unanswerable", "n"] == 0
    assert math.isnan(single.loc["empty_rate_unanswerable", "mean"])


def test_negative_and_zero_grades_do_not_count_in_the_ideal_ranking():
    from memlab.evaluate.metrics import evaluate_run

    run, qrels = _case()
    per = evaluate_run(run, qrels, k=3).set_index("query_id")
    # q1: relevant b (grade 2) at rank 2; z (-1) is not relevant: IDCG = 2/log2(2) = 2
    assert per.loc["q1", "ndcg"] == pytest.approx((2 / np.log2(3)) / 2)
    assert per.loc["q1", "n_relevant"] == 1 and per.loc["q2", "n_relevant"] == 1
    assert per.loc["q2", "ndcg"] == 1.0


def test_sweep_micro_precision_is_undefined_when_nothing_is_returned():
    from memlab.evaluate.metrics import aggregate, evaluate_run
    from memlab.evaluate.sweep import sweep_thresholds

    run, qrels = _case()
    grid = [0.2, 0.85, 0.9, 0.95]  # all results / exactly one / exactly one / none
    sweep = sweep_thresholds(run, qrels, thresholds=grid).set_index("threshold")
    for t in grid:
        direct = aggregate(evaluate_run(run, qrels, threshold=t))
        for col in ("micro_precision", "micro_recall", "empty_rate_answerable", "precision", "ndcg", "mrr"):
            assert sweep.loc[t, col] == pytest.approx(direct[col], nan_ok=True), (t, col)
    assert math.isnan(sweep.loc[0.95, "micro_precision"]) and sweep.loc[0.9, "micro_precision"] == 0.0


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_a_scope_without_memories_finds_nothing_of_other_scopes(mode):
    m = Memory(HASH)
    m.add("green tea", user_id="someone", infer=False)
    assert m.search("green tea", user_id="nobody", mode=mode)["results"] == []
    assert m.search("green tea", user_id="someone", filters={"i": 5}, mode=mode)["results"] == []
    m.close()
