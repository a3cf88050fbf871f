"""End-to-end retrieval runs over the synthetic LoCoMo-format sample: mapping, metrics, files, refusals."""

from __future__ import annotations

import json

import pytest

from memlab.bench import Benchmark
from memlab.errors import NotFoundError, ValidationError

SYSTEMS = ["memlab:embedder=hash", "bm25"]


@pytest.fixture(scope="module")
def run(sample_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    bench = Benchmark(sample_path, SYSTEMS, ks=(1, 3, 10), out=out, n_boot=200, n_perm=500, progress=False)
    return bench, bench.run(only="retrieval")


def test_every_hit_maps_back_to_the_turn_it_stores(run):
    bench, result = run
    texts = dict(zip(bench.dataset.memories["id"], bench.dataset.memories["text"]))
    hits = [h for r in result.records for h in r["hits"]]
    assert hits and all(h["mid"] in texts for h in hits)
    # the stored memory is the turn's message without the "Speaker: " prefix
    assert all(texts[h["mid"]].endswith(h["memory"]) for h in hits)


def test_recall_at_k_is_what_the_ranked_lists_say(run):
    bench, result = run
    for rec in result.records:
        if not rec["answerable"]:
            assert "recall@3" not in rec
            continue
        top = [h["mid"] for h in rec["hits"][:3]]
        expected = len(set(top) & set(rec["evidence"])) / len(rec["evidence"])
        assert rec["recall@3"] == pytest.approx(expected)
    m = result.metrics
    row = m[(m.system == "bm25") & (m.metric == "recall") & (m.k == 3) & (m.category == "all")].iloc[0]
    mine = [r["recall@3"] for r in result.records if r["system"] == "bm25" and r["answerable"]]
    assert row["mean"] == pytest.approx(sum(mine) / len(mine)) and row["n"] == len(mine) == 18
    assert row["low"] <= row["mean"] <= row["high"]


def test_each_store_holds_every_turn_once(run):
    from memlab import Memory

    bench, _ = run
    for spec in bench.specs:
        cfg = {"embedder": {"provider": "hash"}, "vector_store": {"provider": "faiss", "config": {}}}
        with Memory(cfg, path=str(bench.system_dir(spec) / "store")) as m:
            n = sum(len(m.get_all(user_id=s, limit=1000)["results"]) for s in ("sample-1", "sample-2"))
        assert n == len(bench.dataset.memories) == 36


def test_results_json_schema_and_report_files(run):
    bench, result = run
    data = json.loads((bench.out / "results.json").read_text())
    assert data["schema"] == "memlab-bench/1" and data["ks"] == [1, 3, 10]
    assert [s["label"] for s in data["systems"]] == SYSTEMS
    assert {"system", "metric", "k", "category", "mean", "low", "high", "n"} <= set(data["metrics"][0])
    pair = data["pairwise"][0]
    assert {"system_a", "system_b", "p", "p_holm", "cohens_dz", "diff_low", "wins"} <= set(pair)
    assert data["stages"]["bm25"] == {"ingest": 6, "sessions": 6, "search": 20, "questions": 20, "answer": 0,
                                      "judge": 0}
    assert sum(1 for _ in open(bench.out / "per_question.jsonl")) == 40
    md = (bench.out / "report.md").read_text()
    assert "| memlab:embedder=hash |" in md and "Paired tests, recall@10" in md
    assert (bench.out / "plots" / "recall_at_k.png").stat().st_size > 1000
    assert "<table" in (bench.out / "report.html").read_text()


def test_existing_run_is_refused_without_resume_and_other_settings_with_it(run, sample_path):
    bench, _ = run
    with pytest.raises(ValidationError, match="--resume"):
        Benchmark(sample_path, SYSTEMS, ks=(1, 3, 10), out=bench.out).run(only="retrieval")
    with pytest.raises(ValidationError, match="different run"):
        Benchmark(sample_path, ["bm25"], ks=(1, 3, 10), out=bench.out, resume=True).run(only="retrieval")


def test_resume_of_a_finished_run_does_nothing(run, sample_path):
    bench, result = run
    again = Benchmark(sample_path, SYSTEMS, ks=(1, 3, 10), out=bench.out, resume=True, n_boot=200, n_perm=500,
                      progress=False)
    res2 = again.run(only="retrieval")
    assert all(e["done"] == 0 for e in again.log)
    assert res2.metrics["mean"].tolist() == pytest.approx(result.metrics["mean"].tolist(), nan_ok=True)


def test_bad_arguments(sample_path, tmp_path):
    with pytest.raises(ValidationError, match="k must be positive"):
        Benchmark(sample_path, ["bm25"], ks=(0, 5))
    with pytest.raises(ValidationError, match="labels must differ"):
        Benchmark(sample_path, ["bm25", "bm25"])
    with pytest.raises(NotFoundError):
        Benchmark(tmp_path / "missing.json", ["bm25"], dataset_format="locomo")
    with pytest.raises(ValidationError, match="does not look like LoCoMo"):
        (tmp_path / "x.json").write_text("[1, 2]")
        Benchmark(tmp_path / "x.json", ["bm25"], dataset_format="locomo")
    with pytest.raises(ValidationError, match="unknown categories"):
        Benchmark(sample_path, ["bm25"], categories=["7"])


def test_slices_are_heads_of_the_full_dataset(sample_path):
    b = Benchmark(sample_path, ["bm25"], scopes=1, questions=3, categories=["4"])
    assert b.dataset.queries["id"].tolist() == ["sample-1:q0", "sample-1:q1", "sample-1:q2"]
    assert set(b.dataset.memories["scope"]) == {"sample-1"} and len(b.sessions) == 3


def test_jsonl_and_longmemeval_datasets(tmp_path):
    # memlab JSONL (the bundled set): memories without sessions are stored one add each
    b = Benchmark("assistant", ["bm25"], ks=(3,), scopes=2, out=tmp_path / "jsonl", n_boot=50, n_perm=100,
                  progress=False)
    assert all(len(s.turns) == 1 for s in b.sessions) and len(b.sessions) == len(b.dataset.memories)
    r = b.run(only="retrieval")
    assert r.meta["dataset"]["name"] == "assistant" and r.metrics["n"].max() == b.dataset.queries["answerable"].sum()
    # LongMemEval: one haystack per question, turns marked has_answer are the evidence
    items = [{"question_id": f"q{i}", "question_type": "single-session-user", "question": q, "answer": a,
              "haystack_session_ids": ["s1", "s2"], "haystack_dates": ["2023/05/20 (Sat) 02:21", "2023/06/01 (Thu) 10:00"],
              "haystack_sessions": [[{"role": "user", "content": "I adopted a greyhound named Comet.",
                                      "has_answer": i == 0},
                                     {"role": "assistant", "content": "Congratulations on the new dog!"}],
                                    [{"role": "user", "content": "My new job is at a bakery in Porto.",
                                      "has_answer": i == 1}]],
              "answer_session_ids": ["s1" if i == 0 else "s2"]}
             for i, (q, a) in enumerate([("What is the name of the greyhound I adopted?", "Comet"),
                                                  ("In which city is the bakery where I have my new job?", "Porto")])]
    path = tmp_path / "lme.json"
    path.write_text(json.dumps(items))
    b = Benchmark(path, ["bm25"], ks=(1,), dataset_format="longmemeval", out=tmp_path / "lme", n_boot=50,
                  n_perm=100, progress=False)
    assert [s.key for s in b.sessions] == ["ss1", "ss2", "ss1", "ss2"] and b.sessions[0].when.month == 5
    r = b.run()
    recall = {x["question_id"]: x["recall@1"] for x in r.records}
    assert recall == {"q0": 1.0, "q1": 1.0}
    answers = {x["question_id"]: x["answer"] for x in r.records}
    assert "Comet" in answers["q0"] and "Porto" in answers["q1"]


def test_resume_purges_the_session_whose_add_was_in_flight(sample_path, tmp_path):
    """A kill between a session's add and its checkpoint line leaves memories no checkpoint knows:
    resume deletes them (by their bench_session metadata) before storing the session again."""
    from memlab.bench.systems import make_system

    args = dict(ks=(1, 5), scopes=1, out=tmp_path, n_boot=50, n_perm=100, progress=False)
    bench = Benchmark(sample_path, ["bm25"], **args)
    bench.run(only="retrieval")
    sdir = bench.system_dir(bench.specs[0])
    ingest = sdir / "ingest.jsonl"
    kept = ingest.read_text().splitlines()[:2]
    ingest.write_text("\n".join(kept) + "\n" + '{"key": "sample-1|s3", "ids": ["torn')  # s3's line torn mid-write
    system = make_system("bm25")
    system.open(sdir / "store")
    system.add_session(bench.sessions[2])  # the half-finished add of a killed run, stored twice now
    system.close()

    again = Benchmark(sample_path, ["bm25"], resume=True, **args)
    again.run(only="retrieval")
    step = next(e for e in again.log if e["stage"] == "ingest")
    assert (step["done"], step["skipped"], step["purged"]) == (1, 2, 12)
    assert [json.loads(x)["key"] for x in ingest.read_text().splitlines()] == [
        "sample-1|s1", "sample-1|s2", "sample-1|s3"]
    system.open(sdir / "store")
    try:
        assert len(system.memory.get_all(user_id="sample-1", limit=1000)["results"]) == 18
    finally:
        system.close()
