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
    MODE_FEATURES, Calibration, LogisticModel, contributions, ece, features, fit_logistic, is_question_level,
    rank_calibrated, reliability, shipped)

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
            # evidence never lowers the score (question-level features set the level, not the order)
            assert all(w >= 0 for f, w in zip(model.features, model.weights) if not is_question_level(f))
            if mode == "dense":  # the dense model is increasing in the cosine: some cosine feature has weight
                assert any(w > 0 for f, w in zip(model.features, model.weights) if f in ("cos", "cos_gap", "cos_lead"))
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


def test_relative_dates_inside_memories_are_read_against_their_own_date(engine_mem):
    # written on Monday 8 May 2023 about the week before; another written that week with no date in it
    engine_mem.add("I went camping last week with my kids", user_id="u", infer=False, timestamp="2023-05-08T10:00:00")
    engine_mem.add("I went camping at the lake", user_id="u", infer=False, timestamp="2023-06-20T10:00:00")
    engine_mem.add("Yesterday I painted a sunset", user_id="u", infer=False, timestamp="2023-07-02T09:00:00")

    def time_of(query):
        res = engine_mem.search(query, user_id="u", explain=True)["results"]
        return {r["memory"]: r["explain"]["channels"]["time_text"]["raw"] for r in res}

    hits = time_of("What did I do on 3 May 2023?")  # inside the week of 1-7 May the first memory names
    assert hits["I went camping last week with my kids"] == 1.0
    assert hits["I went camping at the lake"] == 0.0
    hits = time_of("What did I paint on July 1, 2023?")  # "yesterday", read against 2 July
    assert hits["Yesterday I painted a sunset"] == 1.0
    assert hits["I went camping last week with my kids"] == 0.0
    hits = time_of("What did I do on 20 April 2023?")  # neither the week named nor the days after writing
    assert set(hits.values()) == {0.0}


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


def test_every_feature_kind_by_hand():
    """Each calibration feature computed by hand on three rows: channels, gaps, z-scores, bests, relative
    values, BM25 over its ceiling, the fused value and its rank, reranker and graph evidence, log_n."""
    raw = {"dense": np.array([0.2, 0.8, 0.5]), "dense_context": np.array([0.3, 0.1, 0.9]),
           "keyword": np.array([0.0, 2.0, 4.0]), "speaker": np.array([1.0, 0.0, 0.0]), "time": np.array([0.0, 1.0, 0.0]),
           "time_text": np.array([0.0, 0.0, 1.0])}
    extra = {"fused": np.array([1.0, 3.0, 3.0]), "rerank": np.array([0.1, 0.4, 0.7]), "graph": np.array([0.0, 0.5, 0.0]),
             "base": np.array([-1.0, 0.0, 1.0])}
    z = lambda a: (a - a.mean()) / a.std()  # noqa: E731
    want = {
        "cos": raw["dense"], "ctx_cos": raw["dense_context"], "cos_gap": raw["dense"] - 0.8,
        "cos_z": z(raw["dense"]), "cos_best": [0.8] * 3, "cos_rel": raw["dense"] / 0.8,
        "ctx_cos_gap": raw["dense_context"] - 0.9,
        "bm25": [0.0, 0.25, 0.5], "bm25_best": [0.5] * 3, "bm25_rel": [0.0, 0.5, 1.0], "bm25_gap": [-4.0, -2.0, 0.0],
        "ctx_bm25": [0.0, 0.5, 1.0],  # no keyword_context channel: the plain one stands in, over its own ceiling
        "speaker": [1, 0, 0], "time": [0, 1, 0],
        "fused": [1, 3, 3], "fused_gap": [-2, 0, 0], "fused_rank": [-math.log(3), 0, 0],  # ties share rank 1
        "cos_lead": [-0.6, 0.3, -0.3],  # the top's lead over the next; the others' gap to the top
        # scope-size interactions: n = 10 reads as 30 (XN_LOG_N), where "small" counts fully
        "fused_rank_xn": np.array([-math.log(3), 0, 0]) * math.log(30), "cos_best_xn": [0.8 * math.log(30)] * 3,
        "cos_lead_small": [-0.6, 0.3, -0.3], "time_text": [0, 0, 1],
        "rerank_z": z(extra["rerank"]), "rerank_gap": (extra["rerank"] - 0.7) / extra["rerank"].std(),
        "graph": [0, 0.5, 0], "base": [-1, 0, 1], "rrf": [0, 0, 0],  # rrf not given: zeros
        "log_n": [math.log(10)] * 3,
    }
    X = features(raw, list(want), n=10, ceilings={"keyword": 8.0, "keyword_context": 4.0}, extra=extra)
    for j, name in enumerate(want):
        np.testing.assert_allclose(X[:, j], want[name], atol=1e-12, err_msg=name)
    # the scope's best given (only some rows passed): gaps, bests and relative values use it
    X = features(raw, ["cos_gap", "cos_best", "cos_rel", "bm25_best"], best={"dense": 1.0, "keyword": 16.0},
                 ceilings={"keyword": 8.0})
    np.testing.assert_allclose(X, np.column_stack([raw["dense"] - 1.0, [1.0] * 3, raw["dense"], [1.0] * 3]))
    # without n, the rows given are the scope; a scope of one has log_n = 0, no lead and rank 0
    assert features(raw, ["log_n"])[0, 0] == pytest.approx(math.log(3))
    one = features({"dense": np.array([0.4])}, ["log_n", "fused_rank_xn", "cos_lead", "cos_best_xn"], n=1,
                   extra={"fused": np.array([2.0])})
    np.testing.assert_allclose(one, [[0.0, 0.0, 0.0, 0.4 * math.log(30)]])
    # a large scope: log n held at log 400, where the small-scope feature counts nothing
    big = features(raw, ["cos_best_xn", "cos_lead_small"], n=100_000, extra=extra)
    np.testing.assert_allclose(big, np.column_stack([[0.8 * math.log(400)] * 3, [0.0] * 3]), atol=1e-12)
    mid = features(raw, ["cos_lead_small"], n=math.isqrt(30 * 400) ** 1)  # half way in log n: about half
    assert 0.45 * 0.3 < mid[1, 0] < 0.55 * 0.3


def test_degenerate_feature_inputs_are_zero_not_nan():
    """Constant channels and evidence have no spread: z-scores and reranker gaps are 0 (not 0/0); zero bests
    and ceilings give 0; no features is an empty matrix with one row per memory."""
    raw = {"dense": np.array([0.5, 0.5, 0.5]), "keyword": np.array([0.0, 0.0, 0.0])}
    X = features(raw, ["cos_z", "bm25", "bm25_best", "bm25_rel", "rerank_z", "rerank_gap"],
                 extra={"rerank": np.array([2.0, 2.0, 2.0])})  # no ceilings: BM25 features are 0
    assert np.isfinite(X).all() and (X == 0).all()
    # a spread below the relative tolerance of a large mean is no spread either
    big = features({"dense": np.array([1000.0, 1000.0 + 1e-5, 1000.0])}, ["cos_z"])
    np.testing.assert_array_equal(big, np.zeros((3, 1)))
    small = features({"dense": np.array([0.0, 1e-5, 0.0])}, ["cos_z"])  # tolerance 1e-6 below a mean of 1
    assert small[1, 0] > 1.0
    assert features(raw, []).shape == (3, 0)
    assert features({"dense": np.array([0.4])}, ["cos_z"])[0, 0] == 0.0  # one row: no spread
    assert features({"dense": np.array([])}, ["log_n"]).shape == (0, 1)  # an empty scope: log(1), not log(0)
    # a ceiling below 1 (a one-term query over a common word) still normalises
    np.testing.assert_allclose(features({"keyword": np.array([0.0, 0.2, 0.4])}, ["bm25", "bm25_best"],
                                        ceilings={"keyword": 0.5}), [[0.0, 0.8], [0.4, 0.8], [0.8, 0.8]])
    assert features({"dense": np.array([])}, ["cos_z", "cos_best", "fused_gap"], extra={"fused": np.array([])}).shape \
        == (0, 3)
    with pytest.raises(ValidationError, match="calibration feature"):
        features(raw, ["cosine"])


def test_model_value_by_hand():
    """logit = platt_a * (Σ w·(x − mean)/scale + bias) + platt_b (+ platt_c · log_n clipped to the fitted
    range); score = sigmoid(logit); explain's contributions are platt_a · w · (x − mean)/scale and add up."""
    model = LogisticModel(("cos", "bm25", "log_n"), mean=np.array([0.5, 0.2, 2.0]), scale=np.array([0.25, 0.5, 1.0]),
                          weights=np.array([2.0, 1.0, -0.5]), bias=-0.3, platt_a=1.5, platt_b=0.2, platt_c=0.1,
                          bounds={"log_n": (1.0, 3.0)})
    X = np.array([[0.9, 0.0, 2.5], [0.5, 0.7, 5.0]])
    clipped_n = np.array([2.5, 3.0])  # log_n beyond the fitted range is clipped
    linear = (2.0 * (X[:, 0] - 0.5) / 0.25 + 1.0 * (X[:, 1] - 0.2) / 0.5 - 0.5 * (clipped_n - 2.0) / 1.0) - 0.3
    np.testing.assert_allclose(model.linear(X), linear)
    logit = 1.5 * linear + 0.2 + 0.1 * clipped_n
    np.testing.assert_allclose(model.logit(X), logit)
    np.testing.assert_allclose(model.predict_proba(X), 1 / (1 + np.exp(-logit)))
    assert X[1, 2] == 5.0  # the caller's matrix is not clipped in place
    c = contributions(model, X[1])
    assert c["log_n"] == {"value": 5.0, "contribution": pytest.approx(1.5 * -0.5 * 1.0)}
    assert c["cos"]["contribution"] == pytest.approx(0.0) and c["bm25"]["contribution"] == pytest.approx(1.5 * 1.0)
    assert sum(v["contribution"] for v in c.values()) + 1.5 * -0.3 + 0.2 + 0.1 * 3.0 == pytest.approx(logit[1])
    # a Platt term on log_n only applies to a model that has log_n
    no_n = LogisticModel(("cos",), np.array([0.5]), np.array([0.25]), np.array([2.0]), 0.0, 1.0, 0.0, platt_c=0.7)
    np.testing.assert_allclose(no_n.logit(np.array([[0.75]])), [2.0])


def test_rank_calibrated_orders_cuts_and_breaks_ties_by_key():
    model = LogisticModel(("cos",), np.array([0.0]), np.array([1.0]), np.array([4.0]), 0.0)
    X = np.array([[0.1], [0.5], [0.5], [-0.2], [0.3]])
    keys = np.array([7, 9, 2, 5, 4])  # rows 1 and 2 tie: key 2 (row 2) first
    idx, proba, logit = rank_calibrated(model, X, keys, limit=10)
    assert idx.tolist() == [2, 1, 4, 0, 3]
    np.testing.assert_allclose(logit, 4.0 * X[idx, 0])
    np.testing.assert_allclose(proba, 1 / (1 + np.exp(-logit)))
    assert rank_calibrated(model, X, keys, limit=2)[0].tolist() == [2, 1]
    at = float(proba[2])  # a threshold equal to a score keeps that row, and the limit applies after the cut
    got, p, lg = rank_calibrated(model, X, keys, limit=10, threshold=at)
    assert got.tolist() == [2, 1, 4] and p.tolist() == proba[:3].tolist() and lg.tolist() == logit[:3].tolist()
    got, p, lg = rank_calibrated(model, X, keys, limit=2, threshold=at)
    assert got.tolist() == [2, 1] and len(p) == len(lg) == 2
    assert rank_calibrated(model, X, keys, limit=10, threshold=1.0)[0].tolist() == []


def test_the_cosine_lead_is_read_from_the_two_best_whatever_the_order():
    """``cos_lead``: the top's margin over the second best, every other memory's gap to the top -- on rows in an
    order where a partial sort must really find the two best."""
    dense = np.array([0.3, 0.9, 0.1, 0.7, 0.8, 0.2, 0.65])
    got = features({"dense": dense}, ["cos_lead"])[:, 0]
    np.testing.assert_allclose(got, [0.3 - 0.9, 0.9 - 0.8, 0.1 - 0.9, 0.7 - 0.9, 0.8 - 0.9, 0.2 - 0.9, 0.65 - 0.9])
    tied = features({"dense": np.array([0.5, 0.9, 0.9, 0.1])}, ["cos_lead"])[:, 0]
    np.testing.assert_allclose(tied, [-0.4, 0.0, 0.0, -0.8])  # two tops: neither leads


def test_every_mode_reads_the_scope_size_not_its_candidates(engine_mem):
    """``log_n`` is the number of memories the search's filter allows, in every mode -- not the number of
    candidates a keyword or dense search looked at."""
    for i in range(12):
        engine_mem.add(f"note {i} about gardening" if i < 3 else f"entry {i} on cooking pasta", user_id="u",
                       infer=False)
    engine_mem.add("someone else's gardening", user_id="v", infer=False)
    for mode in ("keyword", "hybrid", "dense", "fusion"):
        res = engine_mem.search("gardening", user_id="u", mode=mode, explain=True, limit=2)["results"]
        assert res, mode
        feats = res[0]["explain"]["calibration"]["features"]
        assert feats["log_n"]["value"] == pytest.approx(math.log(12)), mode
