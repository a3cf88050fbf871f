"""Payload diffs (v1.0 vs v1.1, memlab vs mem0 shapes) and the adapters between them."""

from __future__ import annotations

import warnings

import pytest

from memlab import Memory
from memlab.compare import adapt_memory, diff_payloads, diff_versions, results_of, to_v10, to_v11
from memlab.errors import ValidationError
from tests.compare.compare_data import HASH_CONFIG, records


def test_same_call_under_both_versions(hash_mem):
    diff = diff_versions(hash_mem, "search", "Where does Alice live?", user_id="alice", limit=3)
    assert [(c["path"], c["change"]) for c in diff.changes] == [("$", "wrapped")]
    assert diff.same_items is True
    assert 'response["results"]' in diff.client_changes()[0]
    assert any("DeprecationWarning" in n for n in diff.notes)
    assert hash_mem.config.version == "v1.1"  # the caller's memory was not switched
    df = diff.to_pandas()
    assert list(df.columns) == ["path", "change", "before", "after", "client_change"] and len(df) == 1
    assert "wrapped" in diff._repr_html_() and "wrapped" in diff.to_markdown()
    assert diff_versions(hash_mem, "get_all", user_id="bob").same_items is True


def test_add_cannot_run_twice(hash_mem):
    with pytest.raises(ValidationError, match="diff_payloads"):
        diff_versions(hash_mem, "add", "x", user_id="alice")


def test_memlab_versus_mem0_shaped_items():
    memlab_resp = {"results": [{"id": "1", "memory": "Alice lives in Berlin.", "hash": "h", "metadata": {},
                                "score": 0.8, "created_at": "2024-01-01T00:00:00+00:00", "updated_at": None,
                                "user_id": "alice"}]}
    # mem0 platform-style item: extra fields, no hash, metadata null, score as int-like, relations on top.
    mem0_resp = {"results": [{"id": "1", "memory": "Alice lives in Berlin.", "metadata": None, "score": 1,
                              "categories": ["personal"], "created_at": "2024-01-01T00:00:00-08:00",
                              "updated_at": "2024-01-02T00:00:00-08:00", "user_id": "alice"}],
                 "relations": []}
    diff = diff_payloads(memlab_resp, mem0_resp)
    got = {(c["path"], c["change"]) for c in diff.changes}
    assert got == {
        ('$["results"][i]["hash"]', "removed"),
        ('$["results"][i]["metadata"]', "type_changed"),
        ('$["results"][i]["updated_at"]', "type_changed"),  # null in the memlab item, a string in mem0's
        ('$["results"][i]["categories"]', "added"),
        ('$["relations"]', "added"),
    }
    advice = " ".join(diff.client_changes())
    assert ".get()" in advice and "relations" in advice and "dict to null" in advice
    assert diff.same_items is False


def test_unwrapped_direction_and_identical():
    v11 = {"results": [{"id": "1", "memory": "m"}], "relations": [{"source": "a"}]}
    diff = diff_payloads(v11, [{"id": "1", "memory": "m"}], call="get_all")
    assert [(c["path"], c["change"]) for c in diff.changes] == [("$", "unwrapped"), ('$["relations"]', "removed")]
    assert diff_payloads([{"id": "1"}], [{"id": "2"}]).identical


def test_adapters_both_ways(hash_mem):
    resp = hash_mem.search("Berlin", user_id="alice", limit=2)
    assert to_v10(resp) == resp["results"] == results_of(resp)
    assert to_v11(to_v10(resp)) == {"results": resp["results"]}
    assert to_v11(resp, relations=[]) == {**resp, "relations": []}
    with pytest.raises(ValidationError, match="results"):
        results_of({"message": "ok"})

    legacy_code_view = adapt_memory(hash_mem, "v1.0")
    hits = legacy_code_view.search("Berlin", user_id="alice", limit=2)
    assert isinstance(hits, list) and hits == resp["results"]
    assert isinstance(legacy_code_view.get_all(user_id="bob"), list)
    assert legacy_code_view.add("Alice likes jazz.", user_id="alice", infer=False)[0]["event"] == "ADD"
    assert legacy_code_view.get(hits[0]["id"])["id"] == hits[0]["id"]  # other verbs pass through

    old = Memory({**HASH_CONFIG, "version": "v1.0"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.add_records(records())
        new_code_view = adapt_memory(old, "v1.1")
        out = new_code_view.search("Berlin", user_id="alice", limit=2)
    assert isinstance(out, dict) and [h["id"] for h in out["results"]] == [h["id"] for h in hits]
    old.close()
    with pytest.raises(ValidationError):
        adapt_memory(hash_mem, "v2")


def test_recorded_add_responses():
    old = Memory({**HASH_CONFIG, "version": "v1.0"})
    new = Memory(HASH_CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old_resp = old.add("Alice likes jazz.", user_id="alice", infer=False)
    new_resp = new.add("Alice likes jazz.", user_id="alice", infer=False)
    diff = diff_payloads(old_resp, new_resp, call="add")
    assert [(c["path"], c["change"]) for c in diff.changes] == [("$", "wrapped")]
    assert diff.same_items is False  # new ids and timestamps: the shape is the same, the items are not
    assert "add() now returns a dict" in diff.client_changes()[0]
    old.close()
    new.close()
