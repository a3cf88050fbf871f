"""Per-query change metrics and bootstrap CIs, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from memlab.compare.stats import bootstrap_ci, match_key, query_changes


def test_metrics_by_hand():
    # before a b c d, after c a e: common {a, c}; union {a, b, c, d, e}
    c = query_changes(["a", "b", "c", "d"], ["c", "a", "e"], [0.9, 0.8, 0.7, 0.6], [0.95, 0.85, 0.5])
    assert c["overlap_at_k"] == pytest.approx(2 / 4)
    assert c["jaccard"] == pytest.approx(2 / 5)
    assert c["rank_changes"] == {"a": 1, "c": -2}  # a: 1 -> 2, c: 3 -> 1
    assert c["mean_abs_rank_change"] == pytest.approx(1.5)
    assert c["score_deltas"]["a"] == pytest.approx(-0.05) and c["score_deltas"]["c"] == pytest.approx(0.25)
    assert c["mean_score_delta"] == pytest.approx(0.10)
    assert c["mean_abs_score_delta"] == pytest.approx(0.15)
    assert c["max_abs_score_delta"] == pytest.approx(0.25)
    assert c["gained_keys"] == ["e"] and c["lost_keys"] == ["b", "d"]
    assert c["top1_changed"] and c["changed"]


def test_zero_over_zero_conventions():
    both_empty = query_changes([], [], [], [])
    assert both_empty["overlap_at_k"] == 1.0 and both_empty["jaccard"] == 1.0
    assert not both_empty["changed"] and not both_empty["top1_changed"]
    assert math.isnan(both_empty["mean_abs_rank_change"]) and math.isnan(both_empty["mean_abs_score_delta"])
    one_empty = query_changes(["a"], [], [0.5], [])
    assert one_empty["overlap_at_k"] == 0.0 and one_empty["jaccard"] == 0.0 and one_empty["top1_changed"]


def test_score_tolerance_and_reorder():
    same = query_changes(["a", "b"], ["a", "b"], [0.5, 0.4], [0.5 + 1e-9, 0.4])
    assert not same["changed"]
    moved = query_changes(["a", "b"], ["a", "b"], [0.5, 0.4], [0.6, 0.4])
    assert moved["changed"] and moved["overlap_at_k"] == 1.0
    swapped = query_changes(["a", "b"], ["b", "a"], [0.5, 0.4], [0.5, 0.4])
    assert swapped["changed"] and swapped["jaccard"] == 1.0 and swapped["top1_changed"]


def test_bootstrap_ci():
    assert bootstrap_ci([]) [3] == 0 and math.isnan(bootstrap_ci([])[0])
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5, 3)
    assert bootstrap_ci([1.0, math.nan]) == (1.0, 1.0, 1.0, 1)
    mean, low, high, n = bootstrap_ci([0, 0, 1, 1, 1, 0, 1, 0], n_boot=500, seed=1)
    assert mean == 0.5 and n == 8 and 0 <= low < 0.5 < high <= 1
    assert bootstrap_ci([0, 1, 1, 0], seed=3) == bootstrap_ci([0, 1, 1, 0], seed=3)  # reproducible


def test_missing_score_on_one_side_is_nan_not_a_crash():
    c = query_changes(["a", "b"], ["a", "b"], [None, 0.5], [0.7, None])
    assert math.isnan(c["score_deltas"]["a"]) and math.isnan(c["score_deltas"]["b"])
    assert math.isnan(c["mean_abs_score_delta"]) and not c["changed"]


def test_score_tolerance_boundary_is_exclusive():
    # a move of exactly score_tol is not a change; the next float above it is
    at = query_changes(["a"], ["a"], [0.5], [0.75], score_tol=0.25)
    assert at["max_abs_score_delta"] == 0.25 and not at["changed"]
    above = query_changes(["a"], ["a"], [0.5], [0.75], score_tol=0.2499999)
    assert above["changed"]


def test_bootstrap_ci_of_two_different_values_has_a_spread():
    mean, low, high, n = bootstrap_ci([0.0, 1.0], n_boot=400, seed=0)
    assert (mean, n) == (0.5, 2) and low == 0.0 and high == 1.0  # resample means are 0, 0.5 or 1


def test_rendered_notes_say_whether_the_rank_or_only_the_score_moved():
    from memlab.compare.render import column_html, side_rows

    hits = [{"id": "a", "memory": "Alice plays the cello", "score": 0.81},
            {"id": "b", "memory": "Bob plays chess", "score": 0.40}]
    rows = side_rows(hits, ["a", "b"], other_rank={"a": 1, "b": 3}, other_score={"a": 0.75, "b": 0.40})
    # a new score at the same rank is no move (every score changes with the embedder): noted, not highlighted
    assert [r["status"] for r in rows] == ["rescored", "moved"]
    html = column_html("after", rows, "gained", "#fff")
    assert "score was 0.750" in html  # same rank, other score: not "was #1"
    assert "was #1" not in html and "was #3" in html
    assert html.count("#fff3c4") == 1  # only the row that moved is yellow
    assert "<th style" in html and ">memory</th>" in html and ">score</th>" in html  # column headers


def test_match_key_by_id_hash_and_normalised_text():
    """After a migration that assigned new ids, hits are matched by hash or by text; text matching ignores
    case and spacing, hash matching does not."""
    a = {"id": "a1", "hash": "h-a", "memory": "  I like   green TEA "}
    b = {"id": "b7", "hash": "h-b", "memory": "i like green tea"}
    assert (match_key(a, "id"), match_key(a, "hash")) == ("a1", "h-a")
    assert match_key(a, "memory") == match_key(b, "memory") == "i like green tea"
    assert match_key(a, "hash") != match_key(b, "hash") and match_key(a, "id") != match_key(b, "id")
