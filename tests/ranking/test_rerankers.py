"""Every reranker provider on the real search path: the offline features reranker, a tiny
cross-encoder the test builds and saves itself (no download), and an LLM over real HTTP."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memlab import Memory
from memlab.errors import ConfigError, ProviderError, ValidationError
from memlab.rerankers import create_reranker, rerank_hits
from memlab.rerankers.features import FeatureReranker

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
CHAT = [{"role": "user", "name": "Ana", "content": "I adopted a beagle puppy named Rex."},
        {"role": "user", "name": "Bo", "content": "I prefer cats, my cat is called Miso."},
        {"role": "user", "name": "Ana", "content": "Rex chews every shoe I own."},
        {"role": "user", "name": "Bo", "content": "Miso sleeps all day on the sofa."},
        {"role": "user", "name": "Ana", "content": "We go hiking every Sunday morning."}]


def _memory(reranker=None, **extra) -> Memory:
    m = Memory({**HASH, **({"reranker": reranker} if reranker else {}), **extra})
    m.add(CHAT, user_id="u", infer=False)
    return m


def test_rerank_flag_without_a_reranker_changes_nothing():
    m = _memory()
    plain = m.search("Who chews shoes?", user_id="u")["results"]
    assert m.search("Who chews shoes?", user_id="u", rerank=True)["results"] == plain
    assert "rerank_score" not in plain[0]
    with pytest.raises(ValidationError, match="rerank"):
        m.search("shoes", user_id="u", rerank="yes")
    m.close()


def test_features_reranker_scores_are_its_documented_sum():
    m = _memory({"provider": "features", "config": {"top_n": 4}})
    query = "What does Ana's dog Rex chew?"
    res = m.search(query, user_id="u", explain=True)["results"]
    head, tail = res[:4], res[4:]
    scores = [r["score"] for r in res]  # ordered by the calibrated score (search log-odds + reranker)
    assert scores == sorted(scores, reverse=True) and all("rerank_score" not in r for r in tail)
    assert all(r["explain"]["calibration"]["model"] == "reranked" for r in head)
    # recompute from the features of the fused top 4, in fused order
    fused = m.search(query, user_id="u", rerank=False, limit=4)["results"]
    assert {r["id"] for r in fused} == {r["id"] for r in head}
    t = m.store.table
    cands = [{"memory": r["memory"], "actor_id": r.get("actor_id"), "role": r.get("role"),
              "context": t.row(t.pos_by_id[r["id"]])["context"], "rank_score": r["rank_score"]} for r in fused]
    fr = FeatureReranker()
    feats = fr.features(query, cands)
    assert feats["speaker"].tolist() == [1.0 if c["actor_id"] == "Ana" else 0.0 for c in cands]
    z = lambda x: (x - x.mean()) / x.std() if x.std() > 1e-6 * max(1, abs(x.mean())) else np.zeros_like(x)
    want = sum(w * z(feats[f]) for f, w in fr.weights.items())
    assert {r["id"]: r["rerank_score"] for r in head} == pytest.approx(dict(zip([r["id"] for r in fused], want)))
    for r in head:
        ex = r["explain"]["rerank"]
        assert ex["reranker"] == "features" and ex["score"] == r["rerank_score"]
        assert [f["id"] for f in fused][ex["rank_before"] - 1] == r["id"]
    assert [r["id"] for r in m.search(query, user_id="u", rerank=False, limit=4)["results"]] == [r["id"] for r in fused]
    m.close()
    with pytest.raises(ConfigError, match="features"):
        create_reranker("features", {"weights": {"magic": 1}})
    with pytest.raises(ConfigError, match="top_n"):
        create_reranker("features", {"top_n": 0})


def test_mem0_provider_names_are_mapped():
    with pytest.warns(UserWarning, match="hosted"):
        r, n = create_reranker("cohere", {"model": "rerank-english-v3.0", "api_key": "x", "top_k": 7})
    assert r.name == "features" and n == 7
    with pytest.raises(ConfigError, match="does not exist"):  # a hub name is not a local folder
        create_reranker("sentence_transformer", {"model": "cross-encoder/ms-marco-MiniLM-L-6-v2"})
    with pytest.raises(ConfigError, match="does not exist"):
        Memory({**HASH, "reranker": {"provider": "huggingface", "config": {"model": "/nonexistent/model"}}})
    with pytest.raises(ConfigError, match="Unknown reranker"):
        create_reranker("magic")


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    """A 1-layer BERT cross-encoder with the bundled MiniLM's vocabulary, saved locally."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from memlab.embedders.minilm import bundled_model_path

    tok = AutoTokenizer.from_pretrained(str(bundled_model_path()))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, num_labels=1, max_position_embeddings=128)
    path = tmp_path_factory.mktemp("tiny-ce")
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_cross_encoder_reranks_by_its_own_scores(tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    m = _memory({"provider": "cross_encoder", "config": {"model": str(tiny_cross_encoder), "top_n": 5}})
    query = "Which pet sleeps on the sofa?"
    res = m.search(query, user_id="u", explain=True)["results"]
    ref = CrossEncoder(str(tiny_cross_encoder), device="cpu", local_files_only=True)
    want = dict(zip(CHAT_TEXTS, np.asarray(ref.predict([(query, t) for t in CHAT_TEXTS]), dtype=float)))
    assert {r["memory"]: r["rerank_score"] for r in res} == pytest.approx(want, rel=1e-5)
    scores = [r["score"] for r in res]
    assert scores == sorted(scores, reverse=True)
    zs = res[0]["explain"]["calibration"]["features"]
    assert set(zs) == {"base", "rerank_z", "rerank_gap"}
    assert res[0]["explain"]["rerank"]["reranker"].startswith("cross_encoder:")
    m.close()
    (tiny_cross_encoder.parent / "empty").mkdir(exist_ok=True)
    with pytest.raises(ConfigError, match="config.json"):
        create_reranker("cross_encoder", {"model": str(tiny_cross_encoder.parent / "empty")})


CHAT_TEXTS = [c["content"] for c in CHAT]


def test_llm_reranker_over_http(openai_server):
    llm = {"provider": "openai", "config": {"base_url": openai_server.base_url, "model": "local-test",
                                            "api_key": "sk-test"}}
    m = _memory({"provider": "llm", "config": {"top_n": 3}}, llm=llm)
    fused = m.search("Rex and shoes", user_id="u", rerank=False, limit=3)["results"]
    openai_server.push(json.dumps({"scores": [1, 9, 5]}))
    res = m.search("Rex and shoes", user_id="u", limit=3)["results"]
    assert {r["id"]: r["rerank_score"] for r in res} == {fused[0]["id"]: 1.0, fused[1]["id"]: 9.0,
                                                         fused[2]["id"]: 5.0}
    assert [r["score"] for r in res] == sorted((r["score"] for r in res), reverse=True)
    prompt = openai_server.chat_requests()[-1]["json"]["messages"][0]["content"]
    assert "Rex and shoes" in prompt and all(f"{i}. {r['memory']}" in prompt for i, r in enumerate(fused, 1))
    openai_server.push("```json\n[2, 1, 0]\n```")  # fenced bare list: parsed; agrees with the search's order
    assert [r["id"] for r in m.search("Rex and shoes", user_id="u", limit=3)["results"]] == [r["id"] for r in fused]
    openai_server.push(json.dumps({"scores": [1, 2]}))
    with pytest.raises(ProviderError, match="3 scores"):
        m.search("Rex and shoes", user_id="u", limit=3)
    openai_server.push("no idea")
    with pytest.raises(ProviderError, match="no JSON"):
        m.search("Rex and shoes", user_id="u", limit=3)
    m.close()


def test_rerank_hits_keeps_the_tail_and_breaks_ties_by_search_order():
    class Const:
        name = "const"

        def score(self, query, candidates):
            return np.zeros(len(candidates))

    hits = [({"memory": str(i), "id": str(i)}, 0.5, {"rank_score": -i}) for i in range(5)]
    out = rerank_hits(Const(), "q", hits, 3)
    assert [row["id"] for row, _, _ in out] == ["0", "1", "2", "3", "4"]
    assert [e.get("rerank_score") for _, _, e in out] == [0.0, 0.0, 0.0, None, None]
