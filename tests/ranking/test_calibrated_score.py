"""The one relevance score (issue 28): calibrated, in [0, 1], ranked by and thresholded on, in every mode,
on both engines; mem0 2.x's ``score_details``; threshold validated in [0, 1]."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from memlab import Memory
from memlab.errors import ConfigError, ValidationError
from memlab.ranking.calibration import (
    MODE_FEATURES, Calibration, LogisticModel, ece, features, fit_logistic, reliability, shipped)

TEXTS = [
    ("I have a dog named Rex, a beagle", "alice"),
    ("I am allergic to peanuts", "alice"),
    ("Rex loves long walks by the river", "alice"),
    ("My sister Ana lives in Porto", "alice"),
    ("We adopted a cat last spring", "alice"),
    ("The quarterly report is due on Friday", "alice"),
    ("I like pizza with extra cheese", "alice"),
    ("Bob's dog is a poodle", "bob"),
]
QUERIES = ["Does Alice have any pets?", "dog walks", "what is Ana doing", "pizza", "peanut allergy", "zzz qqq"]
MODES = ("fusion", "dense", "keyword", "hybrid")
MEM0_KEYS = {"semantic_score", "bm25_score", "entity_boost", "raw_score", "max_possible_score", "final_score",
             "threshold"}


@pytest.fixture
def filled(engine_mem):
    for text, user in TEXTS:
        engine_mem.add(text, user_id=user, infer=False)
    # a conversation too, so the context channels differ from the plain ones
    engine_mem.add([{"role": "user", "content": "We walked Rex at the river today", "name": "alice"},
                    {"role": "assistant", "content": "How long was the walk?"},
                    {"role": "user", "content": "About two hours, he loved it", "name": "alice"}],
                   user_id="alice", infer=False)
    return engine_mem


def _searches(m, **kw):
    for mode in MODES:
        for q in QUERIES:
            yield mode, q, m.search(q, user_id="alice", mode=mode, limit=50, **kw)["results"]


def test_scores_in_unit_interval_and_non_increasing_in_every_mode(filled):
    seen = 0
    for mode, q, res in _searches(filled):
        scores = [r["score"] for r in res]
        assert all(0.0 <= s <= 1.0 and math.isfinite(s) for s in scores), (mode, q, scores)
        assert scores == sorted(scores, reverse=True), (mode, q, scores)
        assert all(r["user_id"] == "alice" for r in res)
        seen += len(res)
    assert seen > 0


def test_threshold_keeps_exactly_the_results_at_or_above_it(filled):
    """``threshold=t`` returns exactly the unthresholded results with score >= t, at every observed score."""
    for mode, q, res in _searches(filled):
        for t in sorted({r["score"] for r in res}):
            got = filled.search(q, user_id="alice", mode=mode, limit=50, threshold=t)["results"]
            assert [(r["id"], r["score"]) for r in got] == [(r["id"], r["score"]) for r in res if r["score"] >= t]
            # the limit applies after the cut
            two = filled.search(q, user_id="alice", mode=mode, limit=2, threshold=t)["results"]
            assert [r["id"] for r in two] == [r["id"] for r in res if r["score"] >= t][:2]


def test_explain_gives_mem0_score_details(filled):
    for mode in MODES:
        res = filled.search("dog walks", user_id="alice", mode=mode, explain=True, threshold=0.0)["results"]
        assert res
        for r in res:
            d = r["score_details"]
            assert set(d) >= MEM0_KEYS
            assert d["final_score"] == r["score"] and d["threshold"] == 0.0 and d["entity_boost"] == 0.0
            assert 0.0 <= d["bm25_score"] <= 1.0
            assert d["final_score"] == pytest.approx(1 / (1 + math.exp(-d["raw_score"])), rel=1e-9)
            assert r["explain"]["calibration"]["model"] == mode
            assert "dense" in r["explain"]["channels"]
            if mode != "dense":
                assert d["bm25_score"] == pytest.approx(
                    min(r["keyword_score"] / d["max_possible_score"], 1.0) if d["max_possible_score"] else 0.0)
        plain = filled.search("dog walks", user_id="alice", mode=mode)["results"]
        assert "score_details" not in plain[0] and "explain" not in plain[0]
        assert [r["score"] for r in plain] == [r["score"] for r in res][: len(plain)]


def test_fusion_score_details_semantic_is_the_cosine(filled):
    res = filled.search("dog walks", user_id="alice", explain=True)["results"]
    dense = {r["id"]: r["score_details"]["semantic_score"]
             for r in filled.search("dog walks", user_id="alice", mode="dense", explain=True)["results"]}
    for r in res:
        assert r["score_details"]["semantic_score"] == pytest.approx(dense[r["id"]], abs=1e-6)
        assert r["score_details"]["semantic_score"] == pytest.approx(r["explain"]["channels"]["dense"]["raw"])


@pytest.mark.parametrize("bad", [-0.01, 1.01, -1.0, 2, float("nan"), "0.5", True])
def test_threshold_outside_unit_interval_is_a_validation_error(filled, bad):
    with pytest.raises(ValidationError, match="threshold"):
        filled.search("dog", user_id="alice", threshold=bad)


def test_threshold_bounds(filled):
    everything = filled.search("dog", user_id="alice", limit=100)["results"]
    assert filled.search("dog", user_id="alice", limit=100, threshold=0.0)["results"] == everything
    assert all(r["score"] >= 1.0 for r in filled.search("dog", user_id="alice", threshold=1.0)["results"])


def test_reranked_search_is_calibrated_and_thresholded_the_same_way(hash_config):
    m = Memory({**hash_config, "reranker": {"provider": "features", "config": {"top_n": 5}}})
    for text, user in TEXTS:
        m.add(text, user_id=user, infer=False)
    res = m.search("Rex the dog", user_id="alice", limit=20, explain=True)["results"]
    scores = [r["score"] for r in res]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    head = [r for r in res if "rerank_score" in r]
    assert len(head) == 5 and all(r["explain"]["calibration"]["model"] == "reranked" for r in head)
    assert all(r["score_details"]["final_score"] == r["score"] for r in res)
    for t in sorted(set(scores)):
        got = m.search("Rex the dog", user_id="alice", limit=20, threshold=t)["results"]
        assert [r["id"] for r in got] == [r["id"] for r in res if r["score"] >= t]
    m.close()


# ----------------------------------------------------------------------------------- the model itself
def test_shipped_parameters_load_for_every_embedder_and_mode():
    for name in ("minilm", "hash", "generic", "some-other-embedder"):
        cal = shipped(name)
        for mode in ("dense", "keyword", "hybrid", "fusion", "reranked", "graph"):
            model = cal.model(mode)
            assert set(model.features) <= set(MODE_FEATURES[mode]) and model.features
            # evidence never lowers the score
            assert all(w >= 0 for f, w in zip(model.features, model.weights) if f in MODE_FEATURES[mode]
                       and not (f == "log_n" or f.endswith("_best")))
    assert shipped("some-other-embedder").embedder == "generic"


def test_logistic_fit_recovers_a_known_model_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < 1 / (1 + np.exp(-(1.5 * X[:, 0] - 0.5 * X[:, 1] + 0.3)))).astype(float)
    w, b = fit_logistic(X, y, l2=1e-6)
    assert w == pytest.approx([1.5, -0.5], abs=0.15) and b == pytest.approx(0.3, abs=0.15)
    w, _ = fit_logistic(X, y, l2=1e-6, nonneg=np.array([True, True]))
    assert w[1] == 0.0 and w[0] > 1.0
    model = LogisticModel.fit(X, y, ["cos", "bm25"])
    cal = Calibration("test", {"dense": model})
    back = Calibration.load(cal.save(tmp_path / "c.json"))
    np.testing.assert_array_equal(back.model("dense").predict_proba(X), model.predict_proba(X))
    (tmp_path / "bad.json").write_text(json.dumps({"format": "nope"}))
    with pytest.raises(ConfigError):
        Calibration.load(tmp_path / "bad.json")
    with pytest.raises(ConfigError):
        Calibration.load(tmp_path / "missing.json")


def test_ece_and_reliability_by_hand():
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    y = np.array([0, 0, 1, 0, 1])
    # bins: 0 -> mean .05 rate 0 (2 items); 5 -> .55 vs 1 (1); 9 -> .95 vs .5 (2)
    assert ece(p, y) == pytest.approx((2 * 0.05 + 1 * 0.45 + 2 * 0.45) / 5)
    r = reliability(p, y)
    assert r["count"].tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert r["observed"][9] == 0.5 and math.isnan(r["observed"][1])


def test_bm25_feature_is_normalised_by_the_query_ceiling():
    X = features({"keyword": np.array([0.0, 2.0, 4.0])}, ["bm25", "bm25_rel", "bm25_best"],
                 ceilings={"keyword": 8.0})
    np.testing.assert_allclose(X, [[0, 0, 0.5], [0.25, 0.5, 0.5], [0.5, 1.0, 0.5]])


def test_graph_search_is_calibrated_and_thresholded_the_same_way(engine_config, tmp_path):
    pytest.importorskip("networkx")
    graph = {"provider": "kuzu", "config": {"db": str(tmp_path / "graph")}}
    with Memory({**engine_config, "graph_store": graph}) as m:
        for text in ["Alice's sister is Anna.", "Anna works at Acme.", "The weather was lovely at the lake.",
                     "Bob lives in Oslo.", "Alice's sister likes the lake."]:
            m.add(text, user_id="u1", infer=False)
        q = "Where does Alice's sister work?"
        res = m.search(q, user_id="u1", limit=10, graph=True, explain=True)["results"]
        scores = [r["score"] for r in res]
        assert res and scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        assert any(r["graph_score"] > 0 for r in res)
        for r in res:
            assert r["score_details"]["entity_boost"] == r["graph_score"]
            assert r["score_details"]["final_score"] == r["score"]
        for t in sorted(set(scores)):
            got = m.search(q, user_id="u1", limit=10, graph=True, threshold=t)["results"]
            assert [(r["id"], r["score"]) for r in got] == [(r["id"], r["score"]) for r in res if r["score"] >= t]


def test_reference_date_reads_relative_dates_for_the_time_channel(engine_mem):
    for text, when in (("Went hiking with Ana", "2023-05-02T10:00:00"), ("Went hiking with Bo", "2023-03-10T10:00:00"),
                       ("Went hiking with Cy", "2022-11-20T10:00:00")):
        engine_mem.add(text, user_id="u", infer=False, timestamp=when)

    def time_of(query, **kw):
        res = engine_mem.search(query, user_id="u", explain=True, **kw)["results"]
        return {r["memory"]: r["explain"]["channels"]["time"]["raw"] for r in res}, res

    hits, res = time_of("Who did I go hiking with last week?", reference_date="2023-05-08")
    assert hits == {"Went hiking with Ana": 1.0, "Went hiking with Bo": 0.0, "Went hiking with Cy": 0.0}
    assert res[0]["memory"] == "Went hiking with Ana"
    hits, _ = time_of("Who did I go hiking with two months ago?", reference_date="2023-05-08")
    assert hits["Went hiking with Bo"] == 1.0 and hits["Went hiking with Ana"] == 0.0
    import datetime as dt

    hits, _ = time_of("Who did I go hiking with last week?", reference_date=dt.date(2023, 3, 15))
    assert hits["Went hiking with Bo"] == 1.0  # the week of 6-12 March
    hits, _ = time_of("Who did I go hiking with last week?")  # no reference: relative dates are not read
    assert set(hits.values()) == {0.0}
    with pytest.raises(ValidationError, match="reference_date"):
        engine_mem.search("hiking last week", user_id="u", reference_date="next tuesday")


def test_switched_off_channels_add_nothing_to_the_score(hash_config):
    """A channel without a fusion weight is off: its calibration features sit at the model's mean, so they
    contribute exactly 0 to the log-odds (explain shows it), while the channels left on do contribute."""
    prefixes = {"dense": ("cos",), "keyword": ("bm25",), "dense_context": ("ctx_cos",), "keyword_context": ("ctx_bm25",)}

    def contributions(weights):
        cfg = {**hash_config, "vector_store": {"provider": "faiss", "config": {"fusion_weights": weights}}}
        with Memory(cfg) as m:
            for text, user in TEXTS:
                m.add(text, user_id=user, infer=False)
            res = m.search("Rex the dog walks", user_id="alice", limit=20, explain=True)["results"]
        assert res
        return [r["explain"]["calibration"]["features"] for r in res]

    def of(feats, channel):
        return [c["contribution"] for f, c in feats.items()
                if any(f == p or f.startswith(p + "_") for p in prefixes[channel])]

    model = shipped("hash").model("fusion")
    assert any(f.startswith("bm25") for f in model.features) and any(f.startswith("cos") for f in model.features)
    for feats in contributions({"dense": 1.0}):  # keyword, both context channels, speaker, time off
        for off in ("keyword", "dense_context", "keyword_context"):
            assert of(feats, off) and all(c == 0.0 for c in of(feats, off)), (off, feats)
        assert any(c != 0.0 for c in of(feats, "dense"))
    for feats in contributions({"keyword": 1.0}):  # dense and the contexts off
        assert all(c == 0.0 for c in of(feats, "dense") + of(feats, "dense_context")), feats
        assert any(c != 0.0 for c in of(feats, "keyword"))


def test_score_details_bm25_is_relative_to_any_positive_ceiling():
    """``bm25_score`` = BM25 / the query's ceiling, capped at 1, for any ceiling > 0 (a one-term query over
    a common word has a ceiling below 1); no ceiling (no keyword evidence) gives 0."""
    from memlab.ranking.scoring import add_details

    model = shipped("hash").model("dense")
    x = np.zeros(len(model.features))
    for ceiling, bm25, want in ((0.5, 0.25, 0.5), (0.5, 0.75, 1.0), (4.0, 1.0, 0.25), (0.0, 0.3, 0.0)):
        extra = {"ceiling": ceiling, "bm25": bm25, "cosine": 0.4}
        add_details(extra, model, x, 0.6, 0.4, 0.1, "dense")
        d = extra["score_details"]
        assert d["bm25_score"] == pytest.approx(want) and d["max_possible_score"] == ceiling
        assert d["semantic_score"] == 0.4 and d["final_score"] == 0.6 and d["raw_score"] == 0.4
        assert d["threshold"] == 0.1 and d["entity_boost"] == 0.0
