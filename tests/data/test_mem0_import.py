"""mem0 FAISS stores (0.1.118 corrupted, 1.0.9, 2.2.1): every expected memory comes out intact."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memlab import Memory
from memlab.migrate import import_mem0
from memlab.store import filters as F

VERSIONS = ["v0_1_118", "v1_0_9", "v2_2_1"]
HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
HISTORY_KEYS = ("event", "old_memory", "new_memory", "created_at", "updated_at", "actor_id", "role")


def _expected(shared_dir, version):
    folder = shared_dir / "fixtures" / "mem0" / version
    return folder, json.loads((folder / "expected.json").read_text())


def _check_history(m, memory_id, rows):
    got = m.history(memory_id)
    assert [h["id"] for h in got] == [r["history_id"] for r in rows]
    for g, r in zip(got, rows):
        assert {k: g[k] for k in HISTORY_KEYS} == {k: r[k] for k in HISTORY_KEYS}
        assert g["is_deleted"] == bool(r["is_deleted"])


@pytest.mark.parametrize("version", VERSIONS)
def test_every_expected_memory_is_recovered(shared_dir, version):
    folder, exp = _expected(shared_dir, version)
    m = Memory(HASH)
    report = import_mem0(folder, into=m)
    assert report.ok and len(report.imported) == len(exp["memories"]) + len(exp["deleted_ids"])
    for e in exp["memories"]:
        got = m.get(e["id"])
        assert got is not None, e["id"]
        assert got["memory"] == e["text"] and got["hash"] == e["hash"]
        assert got["metadata"] == e["metadata"]
        for key in ("user_id", "agent_id", "run_id", "actor_id", "role"):
            assert got.get(key) == e[key], (e["id"], key)
        assert got["created_at"] == e["created_at"] and got["updated_at"] == e["updated_at"]
        _check_history(m, e["id"], exp["history"][e["id"]])
    for deleted_id in exp["deleted_ids"]:
        assert m.get(deleted_id) is None
        _check_history(m, deleted_id, exp["history"][deleted_id])
        assert m.store.get(deleted_id)["state"] == "deleted"
    assert m.store.count() == len(exp["memories"])
    for scope in ("user_id", "agent_id", "run_id"):
        values = {e[scope] for e in exp["memories"] if e[scope]}
        assert report.counts[scope] == {v: sum(1 for e in exp["memories"] if e[scope] == v) for v in values}
    # scoped retrieval works on every recovered memory (mem0's own search missed the corrupted ones)
    for e in exp["memories"]:
        scope = {k: e[k] for k in ("user_id", "agent_id", "run_id") if e[k]}
        assert m.search(e["text"], **scope, limit=1)["results"][0]["id"] == e["id"]


def test_corruption_is_detected_and_named_with_the_target_model(shared_dir, minilm):
    folder, exp = _expected(shared_dir, "v0_1_118")
    m = Memory(embedder=minilm)
    report = import_mem0(folder, into=m)
    affected = exp["index_integrity"]["affected_ids"]
    for status in ("mis_mapped", "unreachable"):
        assert report.repaired_ids(status) == {i for i, a in affected.items() if a["status"] == status}
    assert report.details["index"]["orphan_positions"] and not report.details["index"]["consistent"]
    holders = report.details["positions_holding_vector"]
    for memory_id, a in affected.items():
        assert holders[memory_id] == a["positions_holding_its_vector"]
    ok = [e for e in exp["memories"] if e["index_status"] == "ok"]
    assert report.vectors_reused == len(ok)
    # reused vectors are the stored ones; repaired ones are fresh embeddings of their own text
    vectors = np.load(shared_dir / "fixtures" / "mem0" / "vectors.npy")
    texts = json.loads((shared_dir / "fixtures" / "mem0" / "texts.json").read_text())
    for e in exp["memories"]:
        truth = vectors[texts.index(e["text"])]
        assert float(m.store.vector(e["id"]) @ truth) > 0.99
    # every memory is now its own top-1 (mem0 0.1.118 managed 25 of 36); queries embedded in one batch
    top1 = 0
    queries = m.embed([e["text"] for e in exp["memories"]])
    for e, q in zip(exp["memories"], queries):
        scope = {k: e[k] for k in ("user_id", "agent_id", "run_id") if e[k]}
        top1 += m.store.search(q, F.parse(scope), 1)[0][0]["id"] == e["id"]
    assert top1 == len(exp["memories"]) > exp["counts"]["search_self_top1"]
    html = report._repr_html_()
    assert "mis_mapped" in html and "unreachable" in html
    assert set(report.to_pandas()["what"]) >= {"mis_mapped", "unreachable", "orphan_vectors"}


def test_consistent_store_reuses_verified_vectors(shared_dir, minilm):
    folder, exp = _expected(shared_dir, "v2_2_1")
    m = Memory(embedder=minilm)
    report = import_mem0(folder, into=m)
    assert not report.repairs and report.vectors_reused == len(exp["memories"])
    assert report.details["index"]["consistent"]


def test_other_embedder_reembeds_everything_and_says_so(shared_dir):
    folder, exp = _expected(shared_dir, "v0_1_118")
    report = import_mem0(folder, into=Memory(HASH))
    assert report.vectors_reused == 0
    assert any("128-d" in w for w in report.warnings)
    # structure alone still names the unreachable memories
    unreachable = {i for i, a in exp["index_integrity"]["affected_ids"].items() if a["status"] == "unreachable"}
    assert report.repaired_ids("unreachable") == unreachable


def test_generated_drifted_store_without_shared_fixtures(tmp_path):
    """mem0 <= 1.0.8's drift reproduced by make_demo_mem0_store; the importer repairs it."""
    from memlab.embedders import create_embedder
    from memlab.migrate.importers.mem0_demo import make_demo_mem0_store

    emb = create_embedder("hash", {"embedding_dims": 128})
    facts = [("maya", f"fact number {i} about topic {c}", {"n": i}) for i, c in enumerate("abcdefghijkl")]
    truth = make_demo_mem0_store(tmp_path, emb, facts, updates=[(2, "fact two, corrected"), (7, "fact seven")],
                                 deletes=[4, 9])
    m = Memory(embedder=emb)
    report = import_mem0(tmp_path, into=m)
    assert report.repair_counts()["mis_mapped"] >= 1 and report.repair_counts()["unreachable"] >= 1
    assert {i: m.get(i)["memory"] for i in truth["texts"]} == truth["texts"]
    assert all(m.get(i) is None and m.history(i)[-1]["event"] == "DELETE" for i in truth["deleted"])
    for memory_id, text in truth["texts"].items():  # every vector is the right one again
        assert m.search(text, user_id="maya", limit=1)["results"][0]["id"] == memory_id
