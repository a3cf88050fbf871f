"""Datasets: memlab JSONL, the bundled dataset, LoCoMo and LongMemEval loaders."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from memlab.errors import NotFoundError, ValidationError
from memlab.evaluate.datasets import Dataset, load_bundled, load_jsonl, save_jsonl
from memlab.evaluate.loaders import load_dataset
from memlab.evaluate.loaders import load_locomo, load_longmemeval, parse_locomo_date

REPO = Path(__file__).resolve().parents[2]


def tiny() -> Dataset:
    memories = pd.DataFrame({"id": ["m1", "m2", "m3"], "scope": ["u1", "u1", "u2"],
                             "text": ["I live in Oslo", "I like tea", "My cat is Tom"],
                             "time": ["2024-01-01T10:00:00", None, "2024-02-01"],
                             "metadata": [{"topic": "home"}, {}, None]})
    queries = pd.DataFrame({"id": ["q1", "q2"], "scope": ["u1", "u2"], "text": ["Where do I live?", "Do I have a dog?"],
                            "category": ["home", "pets"], "answerable": [True, False]})
    qrels = pd.DataFrame({"query_id": ["q1"], "memory_id": ["m1"], "relevance": [2]})
    return Dataset("tiny", memories, queries, qrels)


def test_jsonl_round_trip(tmp_path):
    ds = tiny()
    path = save_jsonl(ds, tmp_path / "tiny.jsonl")
    back = load_jsonl(path)
    assert back.name == "tiny" and back.stats() == ds.stats()
    pd.testing.assert_frame_equal(back.memories, ds.memories)
    assert ds.memories["time"].tolist()[2] == pd.Timestamp("2024-02-01")  # mixed ISO forms all parse
    pd.testing.assert_frame_equal(back.qrels, ds.qrels)
    assert back.queries[["id", "answerable", "category"]].equals(ds.queries[["id", "answerable", "category"]])
    assert load_dataset(path).stats() == ds.stats()


@pytest.mark.parametrize("mutate, message", [
    (lambda m, q, r: (pd.concat([m, m.iloc[:1]]), q, r), "appears twice"),
    (lambda m, q, r: (m, q, pd.concat([r, pd.DataFrame({"query_id": ["q9"], "memory_id": ["m1"], "relevance": [1]})])),
     "unknown query"),
    (lambda m, q, r: (m, q, pd.DataFrame({"query_id": ["q1"], "memory_id": ["m3"], "relevance": [1]})),
     "another scope"),
    (lambda m, q, r: (m, q.assign(answerable=True), r), "no relevant memory"),
    (lambda m, q, r: (m.drop(columns="text"), q, r), "lacks column 'text'"),
    (lambda m, q, r: (m.assign(time=["yesterday", None, None]), q, r), "not an ISO-8601"),
])
def test_invalid_datasets_raise(mutate, message):
    ds = tiny()
    m, q, r = mutate(ds.memories, ds.queries, ds.qrels)
    with pytest.raises(ValidationError, match=message):
        Dataset("bad", m, q, r)


def test_bad_jsonl_files(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"type": "memory", "id": "m"}\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="no header"):
        load_jsonl(tmp_path / "a.jsonl")
    (tmp_path / "b.jsonl").write_text('{"type": "dataset", "format": "memlab-eval", "version": 1}\n{oops\n')
    with pytest.raises(ValidationError, match="line 2 is not valid JSON"):
        load_jsonl(tmp_path / "b.jsonl")
    (tmp_path / "c.jsonl").write_text('{"type": "dataset", "format": "memlab-eval", "version": 1}\n{"type": "x"}\n')
    with pytest.raises(ValidationError, match="unknown record type"):
        load_jsonl(tmp_path / "c.jsonl")
    with pytest.raises(NotFoundError):
        load_jsonl(tmp_path / "missing.jsonl")
    with pytest.raises(NotFoundError, match="bundled"):
        load_dataset("no-such-dataset")


def test_bundled_dataset(bundled):
    s = bundled.stats()
    assert s["memories"] >= 300 and s["scopes"] == 8 and s["unanswerable"] >= 15 and s["answerable"] >= 100
    assert bundled.memories["time"].notna().all()
    assert set(bundled.queries["scope"]) == set(bundled.memories["scope"])
    with pytest.raises(NotFoundError, match="available: assistant"):
        load_bundled("nope")


def test_bundled_dataset_is_reproducible_from_its_script():
    spec = importlib.util.spec_from_file_location("assistant_make_dataset", REPO / "datasets/assistant/make_dataset.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in mod.build())
    assert text == (REPO / "memlab/evaluate/data/assistant_memories.jsonl").read_text(encoding="utf-8")
    assert text == (REPO / "datasets/assistant/assistant_memories.jsonl").read_text(encoding="utf-8")


def fake_locomo(tmp_path) -> Path:
    sample = {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann", "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a puppy."},
                          {"speaker": "Bo", "dia_id": "D1:2", "text": "Nice!", "blip_caption": "a photo of a dog"}],
            "session_2_date_time": "10:00 am on 9 June, 2023",
            "session_2": [{"speaker": "Ann", "dia_id": "D2:1", "text": "The puppy is called Max."}],
        },
        "qa": [
            {"question": "What did Ann adopt?", "answer": "a puppy", "evidence": ["D1:1"], "category": 4},
            {"question": "Puppy's name?", "answer": "Max", "evidence": ["D1:1; D2:1"], "category": 1},
            {"question": "When?", "answer": "May", "evidence": ["D:1:1", "D9:9"], "category": 2},
            {"question": "Any opinion?", "answer": "yes", "evidence": [], "category": 3},
            {"question": "What did Bo adopt?", "adversarial_answer": "a puppy", "evidence": ["D1:1"], "category": 5},
        ],
    }
    path = tmp_path / "locomo10.json"
    path.write_text(json.dumps([sample]), encoding="utf-8")
    return path


def test_load_locomo_schema_and_report(tmp_path):
    ds = load_locomo(fake_locomo(tmp_path))
    assert ds.memories["id"].tolist() == ["conv-x:D1:1", "conv-x:D1:2", "conv-x:D2:1"]
    assert ds.memories["text"].iloc[0] == "Ann: I adopted a puppy."
    assert ds.memories["time"].iloc[2] == pd.Timestamp("2023-06-09 10:00")
    assert set(ds.memories["scope"]) == {"conv-x"}
    q = ds.queries.set_index("id")
    assert "conv-x:q3" not in q.index  # no evidence: left out, but reported
    assert not q.loc["conv-x:q4", "answerable"] and q.loc["conv-x:q4", "category_label"] == "adversarial"
    rel = ds.qrels.groupby("query_id")["memory_id"].apply(sorted).to_dict()
    assert rel == {"conv-x:q0": ["conv-x:D1:1"], "conv-x:q1": ["conv-x:D1:1", "conv-x:D2:1"],
                   "conv-x:q2": ["conv-x:D1:1"]}
    kinds = ds.report.to_frame()["kind"].tolist()
    assert kinds.count("malformed_evidence") == 2 and "unknown_evidence" in kinds and "no_evidence" in kinds
    assert "4 issue(s)" in str(ds.report)
    with_caps = load_locomo(fake_locomo(tmp_path), include_captions=True)
    assert with_caps.memories["text"].iloc[1] == "Bo: Nice! [shares a photo: a photo of a dog]"
    assert load_dataset(tmp_path / "locomo10.json").stats() == ds.stats()


def test_load_locomo_rejects_other_json(tmp_path):
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(ValidationError, match="does not look like LoCoMo"):
        load_locomo(tmp_path / "x.json")
    assert parse_locomo_date("garbage") is None


def test_locomo_dev_split(locomo_path):
    ds = load_locomo(locomo_path)
    s = ds.stats()
    assert s["scopes"] == 5 and s["memories"] == 2760
    assert (ds.queries["category"] == 5).sum() == s["unanswerable"] == 237
    answerable = ds.queries[ds.queries["answerable"]]
    assert len(answerable) == 760  # 762 questions of categories 1-4, 2 without evidence (reported)
    report = ds.report.to_frame()
    assert set(report.loc[report["kind"] == "no_evidence", "query"]) == {"conv-26:q30", "conv-26:q46"}
    details = " ".join(report.loc[report["kind"] == "malformed_evidence", "detail"])
    assert "D8:6; D9:17" in details and "D:11:26" in details
    assert ds.memories["time"].notna().all()
    assert not ds.qrels["query_id"].isin(ds.queries.loc[~ds.queries["answerable"], "id"]).any()


def test_load_longmemeval(tmp_path):
    items = [
        {"question_id": "q1", "question_type": "single-session-user", "question": "What car do I drive?",
         "answer": "a Volvo", "question_date": "2023/05/30 (Tue) 10:00",
         "haystack_session_ids": ["s1", "s2"], "haystack_dates": ["2023/05/20 (Sat) 02:21", "2023/05/21 (Sun) 09:00"],
         "haystack_sessions": [[{"role": "user", "content": "I drive a Volvo.", "has_answer": True},
                                {"role": "assistant", "content": "Nice car."}],
                               [{"role": "user", "content": "Tell me a joke."}, {"role": "assistant", "content": " "}]],
         "answer_session_ids": ["s1"]},
        {"question_id": "q2_abs", "question_type": "single-session-user", "question": "What is my cat's name?",
         "answer": "unknown", "haystack_session_ids": ["s3"], "haystack_dates": ["2023/05/22 (Mon) 08:00"],
         "haystack_sessions": [[{"role": "user", "content": "I like tea."}]], "answer_session_ids": []},
        {"question_id": "q3", "question_type": "multi-session", "question": "Where did I go?", "answer": "Rome",
         "haystack_session_ids": ["s4"], "haystack_dates": ["2023/05/23 (Tue) 08:00"],
         "haystack_sessions": [[{"role": "user", "content": "I went to Rome."}]], "answer_session_ids": ["s4"]},
    ]
    path = tmp_path / "longmemeval_s.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    ds = load_longmemeval(path)
    assert ds.stats()["scopes"] == 3 and ds.stats()["memories"] == 5  # the blank turn is skipped (reported)
    assert ds.qrels.set_index("query_id")["memory_id"].to_dict() == {"q1": "q1:s1:0", "q3": "q3:s4:0"}
    assert not ds.queries.set_index("id").loc["q2_abs", "answerable"]
    assert ds.memories["time"].iloc[0] == pd.Timestamp("2023-05-20 02:21")
    kinds = ds.report.to_frame()["kind"].tolist()
    assert kinds == ["empty_turn", "session_level_qrels"]
    assert load_dataset(path).stats() == ds.stats()


def test_load_dataset_rejects_unknown_json(tmp_path):
    (tmp_path / "other.json").write_text('[{"foo": 1}]')
    with pytest.raises(ValidationError, match="Cannot tell the format"):
        load_dataset(tmp_path / "other.json")


def test_every_public_name_resolves():
    import importlib

    import memlab.evaluate as ev

    for name in ev.__all__:
        obj = getattr(ev, name)
        assert callable(obj), name
        module = importlib.import_module(obj.__module__)  # defined in an evaluate submodule, imported explicitly
        assert module.__name__.startswith("memlab.evaluate.") and getattr(module, name) is obj, name
    assert ev.sweep_thresholds.__name__ == "sweep_thresholds" and isinstance(ev.Dataset, type)
    with pytest.raises(AttributeError, match="nope"):
        ev.nope  # noqa: B018
