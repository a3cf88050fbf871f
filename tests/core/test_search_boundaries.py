"""Exact boundaries of every threshold and limit path.

A threshold keeps a result whose score is *equal* to it (``score >= threshold``) on every path:
dense search (numpy over a small scope, FAISS with an id selector over a large one, FAISS over
the whole store), keyword and hybrid search (the threshold applies to the cosine, not to the
fused rank), evaluation's offline cut and sweep, and recorded comparison runs. Each test
searches with a threshold equal to a score it has just observed, then with the next float above
it, so ``>=`` turned into ``>`` (or the reverse) fails here.

Limits: ``limit`` / ``top_k`` equal to, one below and one above the number of candidates,
and the accepted range 1..MAX_LIMIT.

These tests are written against the current search semantics (``score`` is the cosine in
every mode); if the fused score ever becomes what ``threshold`` applies to, adapt the
keyword/hybrid cases here.

Not covered yet: the rerank path (being built in parallel). When ``search(..., rerank=...)``
lands, add it to the ``mode`` parametrisation of the first test: a threshold equal to an observed
score must keep that result, whatever score the threshold is defined on after reranking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memlab import Memory
from memlab.errors import ValidationError
from memlab.store import filters as F
from memlab.validation import MAX_LIMIT

TEXTS = [
    "Alice lives in Berlin near the river",
    "Alice works as a violin teacher",
    "Alice likes green tea in the morning",
    "Alice adopted a dog named Rex",
    "the dog Rex likes long walks by the river",
    "Alice's sister lives in Lyon",
    "Alice is allergic to peanuts",
    "Alice plays tennis on Sundays",
]
QUERY = "Alice and her dog walk by the river in Berlin"


def _memory(**vs) -> Memory:
    cfg = {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}
    if vs:
        cfg["vector_store"] = {"provider": "faiss", "config": vs}
    m = Memory(cfg)
    for text in TEXTS:
        m.add(text, user_id="alice", infer=False)
    for i in range(5):
        m.add(f"bob note {i} about the river", user_id="bob", infer=False)
    return m


def _above(x: float) -> float:
    return float(np.nextafter(np.float64(x), np.inf))


def _below(x: float) -> float:
    return float(np.nextafter(np.float64(x), -np.inf))


SCOPES = {
    "scoped-numpy": ({}, {"user_id": "alice"}),
    "scoped-faiss": ({"exact_subset_max": 0}, {"user_id": "alice"}),  # forces FAISS with an id selector
}


@pytest.mark.parametrize("path", list(SCOPES))
@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid", "fusion"])
def test_threshold_equal_to_an_observed_score_keeps_that_result(path, mode):
    vs, scope = SCOPES[path]
    m = _memory(**vs)
    full = m.search(QUERY, **scope, mode=mode, limit=100)["results"]
    assert len(full) >= 4
    for boundary in sorted({r["score"] for r in full})[:3]:  # the lowest scores: their rows are in any top-100
        want = [r["id"] for r in full if r["score"] >= boundary]
        at = m.search(QUERY, **scope, mode=mode, limit=100, threshold=boundary)["results"]
        assert [r["id"] for r in at] == want, f"threshold == score {boundary!r} must keep that result"
        assert min(r["score"] for r in at) == boundary
        above = m.search(QUERY, **scope, mode=mode, limit=100, threshold=_above(boundary))["results"]
        assert [r["id"] for r in above] == [r["id"] for r in full if r["score"] > boundary]
        below = m.search(QUERY, **scope, mode=mode, limit=100, threshold=_below(boundary))["results"]
        assert [r["id"] for r in below] == want
    m.close()


def test_threshold_boundary_unscoped_faiss_path():
    """The store-level search without a filter goes straight to FAISS over every row."""
    m = _memory()
    q = m.embed([QUERY], purpose="search")[0]
    full = m.store.search(q, None, 100)
    scores = [s for _, s, _ in full]
    assert len(full) == len(TEXTS) + 5 and scores == sorted(scores, reverse=True)
    boundary = scores[-1]
    assert [r["id"] for r, _, _ in m.store.search(q, None, 100, boundary)] == [r["id"] for r, _, _ in full]
    assert len(m.store.search(q, None, 100, _above(boundary))) == len(full) - scores.count(boundary)
    for mode in ("keyword", "hybrid", "fusion"):
        hits = m.store.search(q, F.parse({"user_id": "alice"}), 100, mode=mode, text=QUERY)
        low = min(cos for _, cos, _ in hits)
        kept = m.store.search(q, F.parse({"user_id": "alice"}), 100, low, mode=mode, text=QUERY)
        assert len(kept) == len(hits) and min(cos for _, cos, _ in kept) == low
    m.close()


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid", "fusion"])
def test_tied_scores_at_the_threshold_are_kept_or_dropped_together(mode):
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}})
    ids = [m.add(t, user_id="u", infer=False)["results"][0]["id"] for t in
           ("river walk with the dog", "river walk with the dog", "tea in the morning", "dog")]
    res = m.search("dog river", user_id="u", mode=mode, limit=10)["results"]
    twins = [r for r in res if r["id"] in ids[:2]]
    assert len(twins) == 2 and twins[0]["score"] == twins[1]["score"]
    tie = twins[0]["score"]
    kept = {r["id"] for r in m.search("dog river", user_id="u", mode=mode, limit=10, threshold=tie)["results"]}
    assert set(ids[:2]) <= kept
    dropped = {r["id"] for r in m.search("dog river", user_id="u", mode=mode, limit=10,
                                         threshold=_above(tie))["results"]}
    assert not set(ids[:2]) & dropped
    m.close()


# --------------------------------------------------------------------------- limits
@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid", "fusion"])
@pytest.mark.parametrize("key", ["limit", "top_k"])
def test_limit_exactly_at_one_below_and_above_the_candidates(mode, key):
    m = _memory()
    full = m.search(QUERY, user_id="alice", mode=mode, limit=100)["results"]
    n = len(full)
    assert n >= 4
    for k in (1, n - 1, n, n + 1):
        got = m.search(QUERY, user_id="alice", mode=mode, **{key: k})["results"]
        assert [r["id"] for r in got] == [r["id"] for r in full[:k]], (k, n)
    m.close()


def test_limit_and_threshold_together_cut_after_the_threshold():
    """limit counts results that passed the threshold (no empty slots, no extra rows)."""
    m = _memory()
    for mode in ("dense", "keyword", "hybrid", "fusion"):
        full = m.search(QUERY, user_id="alice", mode=mode, limit=100)["results"]
        boundary = sorted(r["score"] for r in full)[1]  # all but the lowest pass
        passing = [r["id"] for r in full if r["score"] >= boundary]
        for k in (len(passing) - 1, len(passing), len(passing) + 1):
            got = m.search(QUERY, user_id="alice", mode=mode, limit=k, threshold=boundary)["results"]
            assert [r["id"] for r in got] == passing[:k], (mode, k)
    m.close()


def test_hybrid_limit_above_the_fusion_depth():
    """Hybrid ranks cut at max(limit, 100): a limit of 130 over 140 memories returns 130."""
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 32}}})
    m.add_records([{"memory": f"note {i} about topic {i % 7}", "user_id": "u"} for i in range(140)])
    for mode in ("dense", "keyword", "hybrid"):
        got = m.search("note about topic", user_id="u", mode=mode, limit=130)["results"]
        assert len(got) == 130, mode
        assert len({r["id"] for r in got}) == 130
    assert len(m.search("note about topic", user_id="u", mode="hybrid", limit=140)["results"]) == 140
    m.close()


def test_limit_range_is_one_to_max_limit():
    m = _memory()
    assert len(m.search(QUERY, user_id="alice", limit=MAX_LIMIT)["results"]) == len(TEXTS)
    assert len(m.get_all(user_id="alice", limit=MAX_LIMIT)["results"]) == len(TEXTS)
    for bad in (0, MAX_LIMIT + 1):
        for call in (lambda: m.search(QUERY, user_id="alice", limit=bad),
                     lambda: m.search(QUERY, user_id="alice", top_k=bad),
                     lambda: m.get_all(user_id="alice", limit=bad)):
            with pytest.raises(ValidationError, match="between 1 and"):
                call()
    m.close()


def test_get_all_limit_boundaries():
    m = _memory()
    everything = [r["id"] for r in m.get_all(user_id="alice")["results"]]
    n = len(everything)
    for k in (1, n - 1, n, n + 1):
        assert [r["id"] for r in m.get_all(user_id="alice", limit=k)["results"]] == everything[:k]
        assert [r["id"] for r in m.get_all(user_id="alice", top_k=k)["results"]] == everything[:k]
    m.close()


def test_threshold_range_boundaries_are_accepted():
    m = _memory()
    assert len(m.search(QUERY, user_id="alice", threshold=0.0)["results"]) == len(TEXTS)
    top = m.search(QUERY, user_id="alice", limit=1)["results"][0]
    one = m.search(QUERY, user_id="alice", threshold=1)["results"]
    assert all(r["score"] >= 1.0 for r in one) and (top["score"] < 1.0) == (one == [])
    for bad in (_below(0.0), _above(1.0), -1.0):
        with pytest.raises(ValidationError, match="threshold"):
            m.search(QUERY, user_id="alice", threshold=bad)
    m.close()


# --------------------------------------------------------------------------- offline thresholds
def _run() -> tuple[pd.DataFrame, pd.DataFrame]:
    run = pd.DataFrame({"query_id": ["q1"] * 4 + ["q2"] * 3,
                        "memory_id": ["a", "b", "c", "d", "e", "f", "g"],
                        "score": [0.9, 0.625, 0.625, 0.25, 0.5, 0.375, 0.125]})
    qrels = pd.DataFrame({"query_id": ["q1", "q1", "q2"], "memory_id": ["c", "d", "g"], "relevance": [1, 1, 1]})
    return run, qrels


def test_evaluate_cut_keeps_scores_equal_to_the_threshold():
    from memlab.evaluate.metrics import cut, evaluate_run, rank_run

    run, qrels = _run()
    ranked = rank_run(run)
    assert sorted(cut(ranked, None, 0.625)["memory_id"]) == ["a", "b", "c"]
    assert sorted(cut(ranked, None, _above(0.625))["memory_id"]) == ["a"]
    assert sorted(cut(ranked, 2, 0.125)["memory_id"]) == ["a", "b", "e", "f"]  # rank <= k, k inclusive
    per = evaluate_run(run, qrels, threshold=0.25).set_index("query_id")
    assert per.loc["q1", "n_retrieved"] == 4 and per.loc["q1", "recall"] == 1.0  # d (0.25) is kept
    per = evaluate_run(run, qrels, threshold=_above(0.25)).set_index("query_id")
    assert per.loc["q1", "n_retrieved"] == 3 and per.loc["q1", "recall"] == 0.5


def test_sweep_counts_scores_equal_to_each_threshold():
    from memlab.evaluate.metrics import aggregate, evaluate_run
    from memlab.evaluate.sweep import sweep_thresholds

    run, qrels = _run()
    observed = sorted(set(run["score"]))
    grid = observed + [_above(s) for s in observed]
    sweep = sweep_thresholds(run, qrels, thresholds=grid).set_index("threshold")
    for t in grid:  # the one-pass sweep equals a direct evaluation at every boundary
        direct = aggregate(evaluate_run(run, qrels, threshold=t))
        for col in ("precision", "recall", "mean_results", "mrr", "ndcg"):
            assert sweep.loc[t, col] == pytest.approx(direct[col], nan_ok=True), (t, col)
    assert sweep.loc[0.125, "mean_results"] == 3.5 and sweep.loc[_above(0.125), "mean_results"] == 3.0
    assert sweep.loc[0.625, "mean_results"] == 1.5 and sweep.loc[_above(0.625), "mean_results"] == 0.5


def test_recorded_run_threshold_and_k_boundaries():
    from memlab.compare import compare, record_run

    m = _memory()
    queries = [{"query_id": "q", "query": QUERY, "user_id": "alice"}]
    run = record_run(m, queries, k=5)
    scores = [h["score"] for h in run.results["q"]]
    boundary = min(scores)  # the threshold cuts on the cosine, whatever the ranking (fusion by default)
    cmp = compare(run, m, queries, k=5, threshold=boundary)
    assert cmp.identical and cmp.to_pandas()["n_lost"].tolist() == [0]
    row = cmp.to_pandas().iloc[0]
    assert row["overlap_at_k"] == 1.0
    tight = record_run(m, queries, k=5, threshold=boundary)
    assert [h["id"] for h in tight.results["q"]] == [h["id"] for h in run.results["q"]]
    assert compare(tight, m, queries, k=5, threshold=boundary).identical  # equal thresholds: allowed
    with pytest.raises(ValidationError, match="threshold"):
        compare(tight, m, queries, k=5, threshold=_below(boundary))
    assert compare(run, m, queries, k=5).identical  # k equal to the recorded k: allowed
    with pytest.raises(ValidationError, match="k=5"):
        compare(run, m, queries, k=6)
    m.close()
