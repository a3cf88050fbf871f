"""compare(): zero change against itself, real differences across an embedder change, runs, files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab import Memory
from memlab.compare import Comparison, Run, compare, record_run, records_of
from memlab.embedders import create_embedder
from memlab.errors import ValidationError
from tests.compare.compare_data import HASH_CONFIG, QUERIES, records


def test_store_against_itself_reports_zero_change(hash_mem):
    cmp = compare(hash_mem, hash_mem, QUERIES, k=3)
    assert cmp.identical and cmp.changed_queries() == []
    df = cmp.to_pandas()
    assert len(df) == 4
    assert (df["overlap_at_k"] == 1.0).all() and (df["jaccard"] == 1.0).all()
    assert (df["n_gained"] == 0).all() and (df["n_lost"] == 0).all()
    assert not df["top1_changed"].any()
    assert (df["mean_abs_rank_change"] == 0).all() and (df["max_abs_score_delta"] == 0).all()
    s = cmp.summary()
    assert s.loc["overlap@k", "mean"] == 1.0 and s.loc["overlap@k", "ci_low"] == 1.0
    assert s.loc["changed_rate", ["mean", "ci_low", "ci_high"]].tolist() == [0.0, 0.0, 0.0]
    assert s.loc["gained_per_query", "n"] == 4


def test_same_store_opened_twice_from_disk_is_identical(tmp_path):
    with Memory(HASH_CONFIG, path=str(tmp_path / "store")) as m:
        m.add_records(records())
    cmp = compare(str(tmp_path / "store"), str(tmp_path / "store"), QUERIES, k=5)
    assert cmp.identical
    assert cmp.sides["before"]["memories"] == len(records())


def _hand_rankings(embedder, k: int) -> dict[str, list[tuple[str, float]]]:
    """Brute-force cosine top-k per query straight from the embedder (the hand check)."""
    recs = records()
    vecs = embedder.embed([r["memory"] for r in recs])
    vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    qvecs = embedder.embed([q["query"] for q in QUERIES], "search")
    out = {}
    for q, qv in zip(QUERIES, qvecs):
        scores = vecs @ (qv / np.linalg.norm(qv))
        allowed = [i for i, r in enumerate(recs) if r["user_id"] == q["user_id"]]
        order = sorted(allowed, key=lambda i: (-scores[i], i))[:k]
        out[q["query_id"]] = [(recs[i]["id"], float(scores[i])) for i in order]
    return out


def test_embedder_change_matches_hand_check(minilm):
    k = 3
    hash_emb = create_embedder("hash", {"embedding_dims": 128})
    before = Memory(HASH_CONFIG)
    before.add_records(records())
    after = Memory({"embedder": {"provider": "minilm"}}, embedder=minilm)
    after.add_records(records())
    cmp = compare(before, after, QUERIES, k=k, labels=("hash", "minilm"))
    df = cmp.to_pandas().set_index("query_id")
    hand_b, hand_a = _hand_rankings(hash_emb, k), _hand_rankings(minilm, k)
    for q in QUERIES:
        b, a = hand_b[q["query_id"]], hand_a[q["query_id"]]
        row = df.loc[q["query_id"]]
        assert row["before_ids"] == [i for i, _ in b]
        assert row["after_ids"] == [i for i, _ in a]
        # the scores are each side's own calibrated scores, in [0, 1] and non-increasing
        for side, scores in ((before, row["before_scores"]), (after, row["after_scores"])):
            want = [r["score"] for r in side.search(q["query"], user_id=q["user_id"], limit=k)["results"]]
            assert scores == want and all(0 <= x <= 1 for x in scores) and scores == sorted(scores, reverse=True)
        bset, aset = {i for i, _ in b}, {i for i, _ in a}
        assert row["overlap_at_k"] == pytest.approx(len(bset & aset) / max(len(bset), len(aset)))
        assert row["jaccard"] == pytest.approx(len(bset & aset) / len(bset | aset))
        assert set(row["gained_keys"]) == aset - bset and set(row["lost_keys"]) == bset - aset
        for key, delta in row["rank_changes"].items():
            assert delta == [i for i, _ in a].index(key) - [i for i, _ in b].index(key)
    # What the change means, checked by reading the memories: the lexical hash embedder has no word in
    # common between "pet" and "dog", the semantic model puts the dog first.
    pet = df.loc["pet"]
    assert pet["after"][0] == "Alice has a dog named Rex."
    assert "Alice has a dog named Rex." in pet["gained"]
    assert "Alice has a dog named Rex." not in pet["before"]
    assert df.loc["job"]["after"][0] == "Alice works as a nurse at the city hospital."
    assert not cmp.identical and "pet" in cmp.changed_queries()
    s = cmp.summary()
    assert 0 < s.loc["overlap@k", "mean"] < 1
    assert s.loc["overlap@k", "ci_low"] <= s.loc["overlap@k", "mean"] <= s.loc["overlap@k", "ci_high"]
    before.close()
    after.close()


def test_two_configs_over_the_same_records_threshold_change():
    cmp = compare(HASH_CONFIG, HASH_CONFIG, QUERIES, k=5, records=records())
    assert cmp.identical
    loose = compare(HASH_CONFIG, HASH_CONFIG, QUERIES, k=5, records=records(), threshold=None)
    strict_run = compare(HASH_CONFIG, HASH_CONFIG, QUERIES, k=5, records=records(), threshold=0.3)
    for r_loose, r_strict in zip(loose.results, strict_run.results):
        assert [h for h in r_loose.before if h["score"] >= 0.3] == r_strict.before


def test_migration_with_new_ids_matches_on_hash(hash_mem):
    # Copy into a new store without the ids, as an importer that re-ids would.
    migrated = Memory(HASH_CONFIG)
    migrated.add_records([{k: v for k, v in r.items() if k != "id"} for r in records_of(hash_mem)])
    by_id = compare(hash_mem, migrated, QUERIES, k=3)
    assert by_id.summary().loc["jaccard", "mean"] == 0.0
    by_hash = compare(hash_mem, migrated, QUERIES, k=3, match_on="hash")
    assert by_hash.identical
    by_text = compare(hash_mem, migrated, QUERIES, k=3, match_on="memory")
    assert by_text.identical
    migrated.close()


def test_memory_against_config_built_from_its_records(hash_mem):
    cmp = compare(hash_mem, {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}, QUERIES,
                  k=3, records=hash_mem)
    df = cmp.to_pandas()
    assert df["n_after"].tolist() == df["n_before"].tolist()
    assert (df["max_abs_score_delta"].fillna(1) > 0).all()  # 64-d hashing collides differently


def test_recorded_run_round_trip(hash_mem, tmp_path):
    run = record_run(hash_mem, QUERIES, k=5, label="v1")
    path = run.save(tmp_path / "run.json")
    assert compare(Run.load(path), hash_mem, QUERIES, k=5).identical
    assert compare(str(path), hash_mem, QUERIES, k=3).identical  # a path to a saved run works too
    jsonl = run.save(tmp_path / "run.jsonl")
    assert compare(str(jsonl), hash_mem, QUERIES, k=5).identical
    hash_mem.delete("00000000-0000-4000-8000-000000000000")  # "Alice lives in Berlin."
    after = compare(run, hash_mem, QUERIES, k=5)
    home = after["home"]
    assert [h["memory"] for h in home.before][0] == "Alice lives in Berlin."
    assert "Alice lives in Berlin." in after.to_pandas().set_index("query_id").loc["home", "lost"]


def test_comparison_save_load(hash_mem, tmp_path):
    other = Memory(HASH_CONFIG)
    other.add_records(records()[:4])
    cmp = compare(hash_mem, other, QUERIES, k=3, labels=("full", "partial"))
    loaded = Comparison.load(cmp.save(tmp_path / "cmp.json"))
    a, b = cmp.to_pandas(), loaded.to_pandas()
    assert a.drop(columns=["rank_changes", "score_deltas"]).equals(b.drop(columns=["rank_changes", "score_deltas"]))
    assert (loaded.before_label, loaded.after_label) == ("full", "partial")
    other.close()


def test_html_highlights_gains_and_losses(hash_mem):
    other = Memory(HASH_CONFIG)
    other.add_records(records()[1:])
    html = compare(hash_mem, other, QUERIES, k=3)._repr_html_()
    assert "lost" in html and "gained" in html and "95% CI" in html and "Alice lives in Berlin." in html
    other.close()


def test_nan_when_nothing_in_common(hash_mem):
    other = Memory(HASH_CONFIG)
    other.add_records([{"memory": "Carol plays chess.", "user_id": "alice"}])
    row = compare(hash_mem, other, ["Where does Alice live?"], k=2).to_pandas().iloc[0]
    assert row["overlap_at_k"] == 0.0 and math.isnan(row["mean_abs_rank_change"])
    other.close()


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 0}, "k must be"),
    ({"threshold": 2}, "threshold"),
    ({"match_on": "uuid"}, "match_on"),
    ({"labels": ("a",)}, "labels"),
    ({"records": records()}, "neither side is a config"),
])
def test_bad_arguments_raise_typed_errors(hash_mem, kwargs, match):
    with pytest.raises(ValidationError, match=match):
        compare(hash_mem, hash_mem, QUERIES, **kwargs)


def test_bad_sides_and_queries(hash_mem, tmp_path):
    with pytest.raises(ValidationError, match="empty"):
        compare(hash_mem, hash_mem, [])
    with pytest.raises(ValidationError, match="twice"):
        compare(hash_mem, hash_mem, [{"query_id": "a", "query": "x"}, {"query_id": "a", "query": "y"}])
    with pytest.raises(ValidationError, match="neither a store directory nor a file"):
        compare(str(tmp_path / "missing"), hash_mem, QUERIES)
    with pytest.raises(ValidationError, match="empty store"):
        compare(HASH_CONFIG, hash_mem, QUERIES)
    run = record_run(hash_mem, QUERIES[:2], k=3)
    with pytest.raises(ValidationError, match="no results for query"):
        compare(run, hash_mem, QUERIES, k=3)
    with pytest.raises(ValidationError, match="recorded with k=3"):
        compare(run, hash_mem, QUERIES[:2], k=5)
    assert hash_mem.store.count() == len(records())  # nothing was written


def test_queries_from_files(hash_mem, tmp_path):
    import json

    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES))
    (tmp_path / "q.txt").write_text("Where does Alice live?\nWhat is her job?\n")
    (tmp_path / "q.csv").write_text("query_id,query,user_id\nhome,Where does Alice live?,alice\n")
    assert len(compare(hash_mem, hash_mem, str(tmp_path / "q.jsonl"))) == 4
    assert len(compare(hash_mem, hash_mem, str(tmp_path / "q.txt"))) == 2
    one = compare(hash_mem, hash_mem, str(tmp_path / "q.csv"))
    assert one.results[0].query.scope == {"user_id": "alice"}


def test_threshold_change_per_side(hash_mem, tmp_path):
    cmp = compare(hash_mem, hash_mem, QUERIES, k=5, threshold=(None, 0.3))
    assert cmp.thresholds == (None, 0.3)
    for r in cmp.results:
        assert [h for h in r.before if h["score"] >= 0.3] == r.after
        lost = cmp.to_pandas().set_index("query_id").loc[r.query.query_id, "lost"]
        assert lost == [h["memory"] for h in r.before if h["score"] < 0.3]
    assert not cmp.identical and "→" in cmp._repr_html_()
    loaded = Comparison.load(cmp.save(tmp_path / "c.json"))
    assert loaded.thresholds == (None, 0.3) and loaded.to_pandas()["n_lost"].equals(cmp.to_pandas()["n_lost"])
    with pytest.raises(ValidationError, match="pair"):
        compare(hash_mem, hash_mem, QUERIES, threshold=(0.1, 0.2, 0.3))


def test_query_filters_and_scope_reach_the_search(hash_mem):
    cmp = compare(hash_mem, hash_mem, [
        {"query_id": "all", "query": "Where does someone live?"},
        {"query_id": "bob", "query": "Where does someone live?", "filters": {"user_id": "bob"}},
    ], k=10)
    df = cmp.to_pandas().set_index("query_id")
    assert df.loc["all", "n_before"] == len(records())
    assert df.loc["bob", "n_before"] == 2 and all(t.startswith("Bob") for t in df.loc["bob", "before"])


def test_run_recorded_with_threshold_needs_at_least_that_threshold(hash_mem):
    run = record_run(hash_mem, QUERIES, k=3, threshold=0.2)
    assert compare(run, hash_mem, QUERIES, k=3, threshold=0.2).identical
    with pytest.raises(ValidationError, match="threshold=0.2"):
        compare(run, hash_mem, QUERIES, k=3)
