"""Bootstrap confidence intervals against fixed reference values.

Two references: ``scipy.stats.bootstrap(method="percentile")`` driven by a generator with the
same seed (it draws its resamples with one ``rng.integers(0, n, (n_resamples, n))`` call, as
memlab does, so the intervals agree to the last bit), and literal numbers worked out once with
numpy and written down here, so a change of either library's resampling shows up too.
A CI computed with ``alpha`` instead of ``alpha / 2`` (a 90% interval labelled 95%) fails both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from memlab.compare.stats import bootstrap_ci as compare_ci
from memlab.evaluate.metrics import bootstrap_ci as evaluate_ci

VALUES = np.array([0.0, 1.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75, 1.0, 0.2])


def scipy_ci(values, n_boot: int, confidence: float, rng) -> tuple[float, float]:
    res = stats.bootstrap((np.asarray(values, float),), np.mean, n_resamples=n_boot, method="percentile",
                          confidence_level=confidence, vectorized=True, rng=rng)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _per_query(values: np.ndarray, other: np.ndarray | None = None) -> pd.DataFrame:
    n = len(values)
    df = pd.DataFrame({"query_id": [f"q{i}" for i in range(n)], "answerable": True, "recall": values,
                       "empty": values == 0})
    if other is not None:
        df["ndcg"] = other
    return df


def test_literal_reference_values():
    """Worked out once: the 2.5th/97.5th percentiles of 1,000 seeded resample means (the 5th/95th
    would be 0.34975 / 0.775)."""
    ci = evaluate_ci(_per_query(VALUES), ["recall"], n_boot=1000, alpha=0.05, seed=0).loc["recall"]
    assert (ci["mean"], ci["low"], ci["high"], ci["n"]) == (pytest.approx(0.57), pytest.approx(0.31),
                                                            pytest.approx(0.82), 10)
    mean, low, high, n = compare_ci(VALUES, n_boot=1000, confidence=0.95, seed=0)
    assert (mean, low, high, n) == (pytest.approx(0.57), pytest.approx(0.31), pytest.approx(0.82), 10)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.32])
@pytest.mark.parametrize("seed", [0, 7])
def test_evaluate_ci_equals_scipy_percentile_bootstrap(alpha, seed):
    rng = np.random.default_rng(100 + seed)
    recall, ndcg = rng.random(37), rng.beta(0.5, 0.5, 37)
    ci = evaluate_ci(_per_query(recall, ndcg), ["recall", "ndcg"], n_boot=999, alpha=alpha, seed=seed)
    ref = np.random.default_rng(seed)  # memlab draws the metrics in order from one generator
    for metric, values in (("recall", recall), ("ndcg", ndcg)):
        low, high = scipy_ci(values, 999, 1 - alpha, ref)
        assert ci.loc[metric, "low"] == pytest.approx(low, abs=1e-12)
        assert ci.loc[metric, "high"] == pytest.approx(high, abs=1e-12)
        assert ci.loc[metric, "mean"] == pytest.approx(values.mean())


def test_evaluate_ci_uses_only_answerable_queries():
    pq = _per_query(np.array([1.0, 0.0, 0.5, 0.5, 1.0, 0.25]))
    pq.loc[[1, 4], "answerable"] = False
    pq.loc[[1, 4], "recall"] = np.nan
    ci = evaluate_ci(pq, ["recall"], n_boot=500, seed=3).loc["recall"]
    low, high = scipy_ci([1.0, 0.5, 0.5, 0.25], 500, 0.95, np.random.default_rng(3))
    assert (ci["low"], ci["high"], ci["n"]) == (pytest.approx(low), pytest.approx(high), 4)


@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.5])
@pytest.mark.parametrize("seed", [0, 11])
def test_compare_ci_equals_scipy_percentile_bootstrap(confidence, seed):
    values = np.random.default_rng(200 + seed).normal(size=25)
    mean, low, high, n = compare_ci(list(values) + [float("nan"), None], n_boot=2000, confidence=confidence,
                                    seed=seed)
    ref_low, ref_high = scipy_ci(values, 2000, confidence, np.random.default_rng(seed))
    assert n == 25 and mean == pytest.approx(values.mean())
    assert low == pytest.approx(ref_low, abs=1e-12) and high == pytest.approx(ref_high, abs=1e-12)


def test_comparison_summary_intervals_equal_scipy(tmp_path):
    """The CI a user reads in Comparison.summary() is the reference percentile interval."""
    from memlab import Memory
    from memlab.compare import compare

    cfg = {"embedder": {"provider": "hash", "config": {"embedding_dims": 32}}}
    before, after = Memory(cfg), Memory(cfg)
    for i in range(12):
        before.add(f"fact {i} about tea and trains", user_id="u", infer=False)
        if i % 3:
            after.add(f"fact {i} about tea and trains", user_id="u", infer=False)
    queries = [{"query_id": f"q{i}", "query": f"fact {i} tea", "user_id": "u"} for i in range(12)]
    cmp = compare(before, after, queries, k=4, match_on="memory")
    table = cmp.to_pandas()
    summary = cmp.summary(n_boot=1500, confidence=0.9, seed=5)
    row = summary.loc["jaccard"]
    low, high = scipy_ci(table["jaccard"].to_numpy(float), 1500, 0.9, np.random.default_rng(5))
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert low < high  # a real spread: the comparison has changed and unchanged queries
    before.close()
    after.close()
