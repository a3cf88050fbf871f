"""Retrieval passes: memlab store built from a dataset, dense/BM25/hybrid runs, real minilm quality."""

from __future__ import annotations

import pandas as pd
import pytest

from memlab.errors import ValidationError
from memlab.evaluate.metrics import aggregate, evaluate_run
from memlab.evaluate.retrieval import bm25_retrieve, build_memory, dense_retrieve, fuse_rrf, retrieve, tokenize

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
    qid = q.index[q["text"].str.contains("What sport")][0]
    top = run[(run["query_id"] == qid) & (run["rank"] == 1)]["memory_id"].iloc[0]
    assert top.split("-")[0] == q.loc[qid, "scope"]
    assert tokenize("I'm in Bogotá, OK?") == ["i", "m", "in", "bogotá", "ok"]


def test_rrf_fusion_hand_worked():
    a = pd.DataFrame({"query_id": "q", "memory_id": ["x", "y", "z"], "score": [3.0, 2.0, 1.0], "rank": [1, 2, 3]})
    b = pd.DataFrame({"query_id": "q", "memory_id": ["z", "y"], "score": [9.0, 8.0], "rank": [1, 2]})
    fused = fuse_rrf([a, b], k_rrf=10)
    # y: 1/12 + 1/12 = .1667; z: 1/13 + 1/11 = .1678; x: 1/11 = .0909
    assert fused["memory_id"].tolist() == ["z", "y", "x"]
    assert fused["score"].iloc[0] == pytest.approx(1 / 13 + 1 / 11)
    assert fused["rank"].tolist() == [1, 2, 3]
    with pytest.raises(ValidationError):
        fuse_rrf([])


def test_retrieve_validates_arguments(bundled):
    with pytest.raises(ValidationError, match="method"):
        retrieve(bundled, method="magic")
    with pytest.raises(ValidationError, match="depth"):
        retrieve(bundled, method="bm25", depth=0)


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
    # the fused run is RRF (k=60) of the dense and BM25 runs, worked out here per query
    with build_memory(small, emb) as memory:
        dense = dense_retrieve(small, memory, depth=100)
    bm25 = bm25_retrieve(small, depth=100)
    for qid, got in run.groupby("query_id"):
        d = dict(zip(dense.loc[dense["query_id"] == qid, "memory_id"], dense.loc[dense["query_id"] == qid, "rank"]))
        b = dict(zip(bm25.loc[bm25["query_id"] == qid, "memory_id"], bm25.loc[bm25["query_id"] == qid, "rank"]))
        rrf = {m: (1 / (60 + d[m]) if m in d else 0) + (1 / (60 + b[m]) if m in b else 0) for m in {*d, *b}}
        want = sorted(rrf, key=lambda m: (-rrf[m], d.get(m, float("inf"))))[:5]
        assert got.sort_values("rank")["memory_id"].tolist() == want, qid
        assert got.sort_values("rank")["score"].tolist() == pytest.approx([rrf[m] for m in want])


def test_locomo_bm25_reproduces_reference(locomo_path):
    from memlab.evaluate.loaders import load_locomo

    ds = load_locomo(locomo_path).subset(categories=[1, 2, 3, 4])
    agg = aggregate(evaluate_run(bm25_retrieve(ds, depth=10), ds.qrels, ds.queries, k=10))
    # issue 6 reference (759 questions): recall@10 0.527, nDCG@10 0.390; we keep 760 (one repaired id)
    assert agg["recall"] == pytest.approx(0.527, abs=0.005)
    assert agg["ndcg"] == pytest.approx(0.390, abs=0.005)
