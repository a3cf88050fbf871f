"""Paired randomization test, Holm-Bonferroni and effect sizes against independent references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memlab.bench.stats import ci_table, effect_size, holm, mean_ci, paired_randomization_test, pairwise_tests


def test_exact_sign_flip_test_matches_scipy_permutation_test():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    a = rng.random(12)
    b = a - rng.normal(0.15, 0.2, 12)
    ours = paired_randomization_test(a, b, n_perm=10_000)  # 2**12 <= 10_000: every sign pattern
    ref = scipy_stats.permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                                       n_resamples=np.inf, alternative="two-sided")
    assert ours == pytest.approx(ref.pvalue, abs=1e-12)


def test_sampled_test_is_close_to_exact_and_never_zero():
    rng = np.random.default_rng(0)
    a = rng.random(200)
    b = a - 0.05 + rng.normal(0, 0.3, 200)
    p = paired_randomization_test(a, b, n_perm=4000, seed=1)
    d = a - b
    # normal approximation of the sign-flip null: sd of mean(d*) = sqrt(sum d^2) / n
    z = abs(d.mean()) / (np.sqrt(np.sum(d ** 2)) / d.size)
    from math import erfc, sqrt

    assert p == pytest.approx(erfc(z / sqrt(2)), abs=0.03)
    identical = paired_randomization_test(np.ones(50), np.zeros(50), n_perm=999)
    assert identical == pytest.approx(1 / 1000)  # (0 + 1) / (999 + 1): never exactly 0


def test_no_difference_gives_p_one():
    x = np.array([0.2, 0.5, 1.0])
    assert paired_randomization_test(x, x) == 1.0


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 0.9 < 1.0 would break monotonicity
    out = holm([0.02, np.nan])
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1])  # NaN is not part of the family


def test_effect_size_counts_and_dz():
    a = np.array([1.0, 1.0, 0.0, 0.5])
    b = np.array([0.0, 1.0, 1.0, 0.0])
    e = effect_size(a, b, n_boot=200)
    d = a - b
    assert (e["wins"], e["ties"], e["losses"]) == (2, 1, 1)
    assert e["diff"] == pytest.approx(d.mean())
    assert e["cohens_dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert e["diff_low"] <= e["diff"] <= e["diff_high"]


def test_pairwise_tests_pair_over_shared_questions_and_adjust_per_family():
    rows = []
    rng = np.random.default_rng(1)
    for qid in range(40):
        base = rng.random()
        for system, shift in (("A", 0.3), ("B", 0.0), ("C", 0.01)):
            rows.append({"system": system, "question_id": qid, "metric": "recall", "k": 10,
                         "value": min(1.0, base + shift)})
    rows.append({"system": "A", "question_id": 99, "metric": "recall", "k": 10, "value": 1.0})  # A only
    out = pairwise_tests(pd.DataFrame(rows), n_perm=2000, n_boot=200)
    assert list(zip(out["system_a"], out["system_b"])) == [("A", "B"), ("A", "C"), ("B", "C")]
    assert (out["n"] == 40).all()  # question 99 has no pair
    ab = out.iloc[0]
    assert ab["significant"] and ab["diff"] > 0 and ab["p_holm"] >= ab["p"]
    assert out["p_holm"].tolist() == pytest.approx(holm(out["p"]).tolist())


def test_ci_table_overall_and_per_category():
    scores = pd.DataFrame({"system": "A", "metric": "recall", "k": 5, "question_id": range(6),
                           "category": ["x", "x", "x", "y", "y", "y"], "value": [1, 1, 1, 0, 0, 0.0]})
    t = ci_table(scores, n_boot=100).set_index("category")
    assert t.loc["all", "mean"] == 0.5 and t.loc["x", "mean"] == 1.0 and t.loc["y", "n"] == 3
    assert mean_ci([np.nan])["n"] == 0
