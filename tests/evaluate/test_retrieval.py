"""Retrieval passes: memlab store built from a dataset (conversations through add(messages, infer=False)),
every method through the engine's own search, real minilm quality."""

from __future__ import annotations

import pandas as pd
import pytest

from memlab.errors import ValidationError
from memlab.evaluate.metrics import aggregate, evaluate_run
from memlab.evaluate.datasets import Dataset
from memlab.evaluate.retrieval import METHODS, bm25_retrieve, build_memory, dense_retrieve, retrieve, tokenize

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}


def test_build_memory_keeps_ids_scope_and_time(bundled):
    small = bundled.subset(scopes=["alice", "bruno"])
    with build_memory(small, HASH) as memory:
        df = memory.to_pandas()
        assert sorted(df["id"]) == sorted(small.memories["id"])
        by_id = df.set_index("id")
        first = small.memories.iloc[0]
        assert by_id.loc[first["id"], "user_id"] == first["scope"]
        assert pd.Timestamp(by_id.loc[first["id"], "created_at"]).tz_localize(None) == first["time"]
        assert memory.history(first["id"]) == []  # bulk import without history rows


def test_dense_run_stays_in_scope_and_respects_depth(bundled):
    small = bundled.subset(scopes=["alice", "bruno"])
    with build_memory(small, HASH) as memory:
        run = dense_retrieve(small, memory, depth=7)
    assert set(run.columns) >= {"query_id", "memory_id", "score", "rank"}
    assert run.groupby("query_id").size().max() == 7
    scope_of = dict(zip(small.memories["id"], small.memories["scope"]))
    q_scope = dict(zip(small.queries["id"], small.queries["scope"]))
    assert all(scope_of[m] == q_scope[q] for q, m in zip(run["query_id"], run["memory_id"]))
    assert (run.groupby("query_id")["score"].diff().dropna() <= 0).all()  # best first
    assert run.attrs["method"] == "dense"


def test_bm25_ranks_lexical_matches_first(bundled):
    run = bm25_retrieve(bundled, depth=5)
    q = bundled.queries.set_index("id")
    scope_of = dict(zip(bundled.memories["id"], bundled.memories["scope"]))
    assert all(scope_of[m] == q.loc[qid, "scope"] for qid, m in zip(run["query_id"], run["memory_id"]))
    # stop words carry no evidence: "What sport do I do?" has one content word, absent from every memory
    assert q.index[q["text"] == "What sport do I do?"].isin(run["query_id"]).sum() == 0
    qid = q.index[q["text"].str.contains("allergic")][0]
    top = run[(run["query_id"] == qid) & (run["rank"] == 1)]["memory_id"].iloc[0]
    assert "allerg" in bundled.memories.set_index("id").loc[top, "text"].lower()
    assert tokenize("I'm in Bogotá, OK?") == ["i", "m", "in", "bogotá", "ok"]


def test_every_method_is_the_engine_search(bundled):
    """One implementation: a run equals Memory.search with the method's mode, query by query."""
    small = bundled.subset(scopes=["alice"])
    with build_memory(small, HASH) as memory:
        for method, mode in (("bm25", "keyword"), ("hybrid", "hybrid"), ("fusion", "fusion"), ("dense", "dense")):
            run = retrieve(small, memory, method=method, depth=5)
            for qid, text in zip(small.queries["id"][:3], small.queries["text"][:3]):
                want = [r["id"] for r in memory.search(text, user_id="alice", limit=5, mode=mode)["results"]]
                assert run[run["query_id"] == qid]["memory_id"].tolist() == want, (method, text)


def _conversations() -> Dataset:
    turns = [("s1", "Ana", "I adopted a beagle named Rex."), ("s1", "Bo", "What a lovely dog!"),
             ("s1", "Ana", "He chews my shoes though."), ("s2", "Bo", "I start a pottery class on Monday."),
             ("s2", "Ana", "Tell me how it goes.")]
    mems = pd.DataFrame({"id": [f"t{i}" for i in range(len(turns))], "scope": "conv",
                         "text": [f"{who}: {text}" for _, who, text in turns], "time": pd.NaT,
                         "metadata": [{"speaker": who, "session": s} for s, who, _ in turns]})
    queries = pd.DataFrame({"id": ["q1", "q2"], "scope": "conv", "text": ["Which dog did Ana adopt?",
                            "What class does Bo take?"], "category": [1, 1], "answerable": [True, True]})
    qrels = pd.DataFrame({"query_id": ["q1", "q2"], "memory_id": ["t0", "t3"], "relevance": [1.0, 1.0]})
    return Dataset("tiny-conversations", mems, queries, qrels)


def test_conversations_are_stored_with_one_add_per_session():
    ds = _conversations()
    with build_memory(ds, HASH) as memory:
        df = memory.to_pandas().set_index("id")
        assert sorted(memory.dataset_ids.values()) == sorted(ds.memories["id"])
        by_dataset = {v: k for k, v in memory.dataset_ids.items()}
        first = df.loc[by_dataset["t0"]]
        assert first["memory"] == "I adopted a beagle named Rex." and first["actor_id"] == "Ana"
        # session s1 is one conversation, s2 another: windows never cross a session
        assert first["context"] == "Ana: I adopted a beagle named Rex.\nBo: What a lovely dog!\nAna: He chews my shoes though."
        assert df.loc[by_dataset["t3"], "context"] == "Bo: I start a pottery class on Monday.\nAna: Tell me how it goes."
        run = retrieve(ds, memory, method="default", depth=3)
    assert set(run["memory_id"]) <= set(ds.memories["id"])  # dataset ids, not memlab's
    assert run[run["query_id"] == "q1"]["memory_id"].iloc[0] == "t0"


def test_retrieve_validates_arguments(bundled):
    with pytest.raises(ValidationError, match="method"):
        retrieve(bundled, method="magic")
    with pytest.raises(ValidationError, match="depth"):
        retrieve(bundled, method="bm25", depth=0)
    assert {"default", "fusion", "rerank", "dense", "bm25", "hybrid"} <= set(METHODS)


def test_minilm_on_bundled_dataset_is_good_and_beats_bm25(bundled, bundled_minilm_run):
    dense = aggregate(evaluate_run(bundled_minilm_run, bundled.qrels, bundled.queries, k=5))
    bm25 = aggregate(evaluate_run(bm25_retrieve(bundled, depth=5), bundled.qrels, bundled.queries, k=5))
    assert dense["recall"] > 0.85 and dense["ndcg"] > 0.8
    assert dense["recall"] > bm25["recall"] + 0.2  # paraphrased questions: lexical matching falls short


def test_hybrid_runs_with_an_embedder_object(bundled):
    from memlab.embedders import create_embedder

    small = bundled.subset(scopes=["chen"])
    emb = create_embedder("hash", {"embedding_dims": 64})
    run = retrieve(small, method="hybrid", embedder=emb, depth=5)
    assert run.attrs["method"] == "hybrid" and run.groupby("query_id").size().max() == 5
    # the run is the engine's hybrid search: candidates of the dense and BM25 rankings, ordered by the
    # calibrated score the run records
    with build_memory(small, emb) as memory:
        dense = dense_retrieve(small, memory, depth=100)
        direct = {qid: memory.search(text, user_id="chen", mode="hybrid", limit=5)["results"]
                  for qid, text in zip(small.queries["id"], small.queries["text"])}
        ids = memory.dataset_ids
    bm25 = bm25_retrieve(small, depth=100)
    for qid, got in run.groupby("query_id"):
        got = got.sort_values("rank")
        cands = set(dense.loc[dense["query_id"] == qid, "memory_id"]) | set(bm25.loc[bm25["query_id"] == qid,
                                                                                  "memory_id"])
        assert set(got["memory_id"]) <= cands
        assert got["score"].tolist() == [r["score"] for r in direct[qid]], qid
        assert got["memory_id"].tolist() == [ids.get(r["id"], r["id"]) for r in direct[qid]]
    assert run.attrs["score"] == "calibrated"


def test_locomo_bm25_reproduces_reference(locomo_path):
    """The engine's BM25 (Snowball stems, stop words, speaker + text, k1 0.9 / b 0.4) on the dev split,
    each session stored with one add(messages, infer=False): 0.526 / 0.392 before the analyzer."""
    from memlab.evaluate.loaders import load_locomo

    ds = load_locomo(locomo_path).subset(categories=[1, 2, 3, 4])
    agg = aggregate(evaluate_run(bm25_retrieve(ds, depth=10), ds.qrels, ds.queries, k=10))
    assert agg["recall"] == pytest.approx(0.629, abs=0.005)
    assert agg["ndcg"] == pytest.approx(0.507, abs=0.005)
