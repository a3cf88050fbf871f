"""Score-normalised fusion on hand-worked scores, and explain=True reproducing the order."""

from __future__ import annotations

import numpy as np
import pytest

from memlab import Memory
from memlab.errors import ConfigError, ValidationError
from memlab.ranking.fusion import check_weights, combsum, normalize, ranks_of


def test_normalize_by_hand():
    # mean 2, population std sqrt(2/3)
    np.testing.assert_allclose(normalize([1.0, 2.0, 3.0]), np.array([-1, 0, 1]) / np.sqrt(2 / 3))
    np.testing.assert_allclose(normalize([1.0, 2.0, 5.0], "minmax"), [0.0, 0.25, 1.0])
    assert normalize([3.0, 3.0]).tolist() == [0.0, 0.0]  # constant channel votes nothing
    assert normalize([0.5, 0.5 + 1e-9]).tolist() == [0.0, 0.0]  # float noise is constant too
    assert normalize([3.0, 3.0], "minmax").tolist() == [0.0, 0.0]
    assert len(normalize([])) == 0
    with pytest.raises(ValidationError):
        normalize([1.0], "softmax")


def test_combsum_by_hand():
    dense = np.array([0.9, 0.5, 0.1])  # z: [1.2247, 0, -1.2247]
    bm25 = np.array([0.0, 4.0, 2.0])   # z: [-1.2247, 1.2247, 0]
    fused, normed = combsum({"dense": dense, "keyword": bm25}, {"dense": 1.0, "keyword": 2.0})
    z = np.sqrt(1.5)
    np.testing.assert_allclose(normed["dense"], [z, 0, -z])
    np.testing.assert_allclose(fused, [z - 2 * z, 2 * z, -z])  # row 1 wins: strong keyword evidence
    fused, _ = combsum({"dense": dense, "keyword": bm25}, {"dense": 1.0, "keyword": 0.0})
    np.testing.assert_allclose(fused, [z, 0, -z])


def test_ranks_and_weight_validation():
    assert ranks_of(np.array([0.2, 0.9, 0.2, 0.5]), np.array([0, 1, 2, 3])).tolist() == [3, 1, 3, 2]
    assert check_weights({"dense": 1, "speaker": 0.5}) == {"dense": 1.0, "speaker": 0.5}
    for bad in ({"dense": -1}, {"magic": 1}, {"dense": 0}, {"dense": float("nan")}, [1, 2]):
        with pytest.raises(ValidationError):
            check_weights(bad)
    with pytest.raises(ConfigError, match="fusion_weights"):
        Memory({"embedder": {"provider": "hash"}, "vector_store": {"provider": "faiss", "config": {
            "fusion_weights": {"dense": 1, "bogus": 2}}}})


CHAT = [{"role": "user", "name": "Ana", "content": "I adopted a beagle puppy named Rex."},
        {"role": "user", "name": "Bo", "content": "Lovely! I am more of a cat person."},
        {"role": "user", "name": "Ana", "content": "Rex chews every shoe I own."},
        {"role": "user", "name": "Bo", "content": "My cat Miso ignores shoes entirely."},
        {"role": "user", "name": "Ana", "content": "We go hiking every Sunday morning."}]


def test_explain_shows_the_numbers_that_produced_the_order(hash_config):
    m = Memory(hash_config)
    m.add(CHAT, user_id="u", infer=False)
    res = m.search("What does Ana's dog chew?", user_id="u", explain=True)["results"]
    assert len(res) == len(CHAT)
    fused = []
    for r in res:
        ex = r["explain"]
        assert ex["mode"] == "fusion" and set(ex["channels"]) == {"dense", "dense_context", "keyword",
                                                                  "keyword_context", "speaker", "time", "time_text"}
        assert ex["channels"]["time_text"]["weight"] == 0.0  # a calibration feature, not fused
        total = sum(c["weight"] * c["normalized"] for c in ex["channels"].values())
        assert total == pytest.approx(ex["fused"]) == pytest.approx(r["rank_score"])
        assert ex["channels"]["dense"]["raw"] == pytest.approx(r["score_details"]["semantic_score"])
        assert ex["channels"]["keyword"]["raw"] == pytest.approx(r["keyword_score"])
        assert ex["calibration"]["features"]["fused"]["value"] == pytest.approx(ex["fused"])
        fused.append(r["score"])
    assert fused == sorted(fused, reverse=True)  # ordered by the calibrated score
    # the normalised values are the z-scores of the raw values over the scope
    for name in ("dense", "keyword"):
        raw = np.array([r["explain"]["channels"][name]["raw"] for r in res])
        z = np.array([r["explain"]["channels"][name]["normalized"] for r in res])
        np.testing.assert_allclose(z, normalize(raw), atol=1e-9)
        ranks = [r["explain"]["channels"][name]["rank"] for r in res]
        assert ranks == ranks_of(raw, np.arange(len(raw))).tolist()
    # speaker channel: the query names Ana, so exactly her three messages get 1
    assert sorted(r["explain"]["channels"]["speaker"]["raw"] for r in res) == [0, 0, 1, 1, 1]
    plain = m.search("What does Ana's dog chew?", user_id="u")["results"]
    assert [r["id"] for r in plain] == [r["id"] for r in res] and "explain" not in plain[0]
    dense = m.search("What does Ana's dog chew?", user_id="u", mode="dense", explain=True)["results"]
    assert dense[0]["explain"]["channels"]["dense"]["raw"] == dense[0]["score_details"]["semantic_score"]
    with pytest.raises(ValidationError):
        m.search("dog", user_id="u", explain="yes")
    m.close()


def test_threshold_cuts_the_score_in_fusion(hash_config):
    m = Memory(hash_config)
    m.add(CHAT, user_id="u", infer=False)
    full = m.search("Rex the beagle", user_id="u")["results"]
    cut = sorted(r["score"] for r in full)[2]
    got = m.search("Rex the beagle", user_id="u", threshold=cut)["results"]
    assert [r["id"] for r in got] == [r["id"] for r in full if r["score"] >= cut]
    m.close()


def test_minmax_normalisation_and_weights_from_config(hash_config):
    cfg = {**hash_config, "vector_store": {"provider": "faiss", "config": {
        "fusion_normalization": "minmax", "fusion_weights": {"keyword": 1.0}}}}
    m = Memory(cfg)
    m.add(CHAT, user_id="u", infer=False)
    res = m.search("cat shoes", user_id="u", explain=True)["results"]
    kw = [r["keyword_score"] for r in res]
    assert kw == sorted(kw, reverse=True)  # keyword alone decides
    assert res[0]["explain"]["channels"]["keyword"]["normalized"] == pytest.approx(1.0)
    m.close()


def test_explain_in_rrf_modes(hash_config):
    m = Memory(hash_config)
    m.add(CHAT, user_id="u", infer=False)
    for mode in ("hybrid", "keyword"):
        res = m.search("Rex shoe", user_id="u", mode=mode, explain=True)["results"]
        assert res and all(r["explain"]["fused"] == r["rank_score"] and r["explain"]["mode"] == mode
                           and r["explain"]["channels"]["keyword"]["raw"] == r["keyword_score"] for r in res)
    m.close()
