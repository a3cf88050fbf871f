"""The real mem0ai OSS ``Memory`` as a benchmarked system (offline: local MiniLM, FAISS in the run folder).

mem0 stores each message as one memory with ``infer=False`` and, on the FAISS store (no keyword
search, no spaCy), ranks by cosine: over the same turns and the same model memlab's dense mode must
return the same ranked lists. That checks both systems' id mapping through the harness end to end.
"""

from __future__ import annotations

import pytest

pytest.importorskip("mem0", reason="mem0ai is not installed")

from memlab.bench import Benchmark  # noqa: E402
from memlab.bench.sample import sample_locomo  # noqa: E402


@pytest.fixture(scope="module")
def run(sample_path, tmp_path_factory):
    bench = Benchmark(sample_path, ["mem0", "memlab:mode=dense"], ks=(1, 5, 10), scopes=1,
                      out=tmp_path_factory.mktemp("mem0run"), n_boot=200, n_perm=500, progress=False)
    return bench, bench.run(only="retrieval")


def test_mem0_and_memlab_dense_rank_the_same_turns(run):
    _, result = run
    by = {}
    for r in result.records:
        by.setdefault(r["question_id"], {})[r["system"]] = [h["mid"] for h in r["hits"]]
    assert len(by) == 10
    for qid, lists in by.items():
        assert lists["mem0"][:5] == lists["memlab:mode=dense"][:5], qid
    m = result.metrics[(result.metrics["category"] == "all") & (result.metrics["metric"] == "recall")]
    assert m[m.system == "mem0"]["mean"].tolist() == pytest.approx(m[m.system == "memlab:mode=dense"]["mean"].tolist())
    assert m[(m.system == "mem0") & (m.k == 10)]["mean"].iloc[0] > 0.8  # real retrieval, not chance


def test_mem0_store_holds_each_turn_once_with_the_session_in_metadata(run):
    bench, result = run
    system = __import__("memlab.bench.systems", fromlist=["make_system"]).make_system("mem0")
    system.open(bench.system_dir(bench.specs[0]) / "store")
    try:
        items = system.memory.get_all(filters={"user_id": "sample-1"}, top_k=1000)["results"]
        turns = [t["text"] for s in (1, 2, 3) for t in sample_locomo()[0]["conversation"][f"session_{s}"]]
        assert sorted(i["memory"] for i in items) == sorted(turns)
        assert {i["metadata"]["bench_session"] for i in items} == {"s1", "s2", "s3"}
        assert {i.get("actor_id") for i in items} == {"Nadia", "Tom"}
        # purge (what resume does to a half-written session) removes exactly that session
        session = next(s for s in bench.sessions if s.key == "s2")
        assert system.purge_session(session) == 6
        assert len(system.memory.get_all(filters={"user_id": "sample-1"}, top_k=1000)["results"]) == 12
    finally:
        system.close()
    desc = next(s for s in result.meta["systems"] if s["system"] == "mem0")
    assert desc["mem0ai"].startswith("2.2") and desc["infer"] is False
