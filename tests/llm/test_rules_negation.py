"""The offline rules provider and negations of stored facts (issue 13, item 14).

mem0's update prompt (mem0/configs/prompts.py, DEFAULT_UPDATE_MEMORY_PROMPT): "If the retrieved facts
contain information that contradicts the information present in the memory, then you have to delete
it" / update it - a negated fact removes or replaces what it negates; it is not stored as a new
negative memory beside the update.
"""

from __future__ import annotations

import pytest

from memlab import Memory


@pytest.fixture
def m(hash_config):
    mem = Memory(hash_config)
    mem.add("I live in Paris.", user_id="alice")
    yield mem
    mem.close()


def _texts(m) -> list[str]:
    return [r["memory"] for r in m.get_all(user_id="alice")["results"]]


def test_move_and_negation_in_one_message_leaves_only_the_update(m):
    out = m.add("I moved to Berlin last month, I don't live in Paris anymore.", user_id="alice", return_trace=True)
    assert [(r["event"], r["memory"], r.get("previous_memory")) for r in out["results"]] == [
        ("UPDATE", "Moved to Berlin last month", "Lives in Paris")]
    assert _texts(m) == ["Moved to Berlin last month"]
    (entry,) = out["trace"]["decision"]["parsed"]  # the negation answers the same memory's UPDATE
    assert entry["fact"] == ["Moved to Berlin last month", "Does not live in Paris anymore"]
    assert "no longer says after this call's update" in entry["reason"]


def test_negation_first_deletes_then_the_move_is_added(m):
    out = m.add("I don't live in Paris anymore, I moved to Berlin last month.", user_id="alice")
    assert [(r["event"], r["memory"]) for r in out["results"]] == [
        ("DELETE", "Lives in Paris"), ("ADD", "Moved to Berlin last month")]
    assert _texts(m) == ["Moved to Berlin last month"]


@pytest.mark.parametrize("text", ["I don't live in Paris anymore.", "I no longer live in Paris."])
def test_a_retraction_deletes_the_fact(m, text):
    assert [r["event"] for r in m.add(text, user_id="alice")["results"]] == ["DELETE"]
    assert _texts(m) == []
    assert [h["event"] for h in m.history(m.get_all(user_id="alice", filters={"state": "deleted"})["results"][0]["id"])] \
        == ["ADD", "DELETE"]


def test_a_negation_of_nothing_stored_is_still_information(hash_config):
    mem = Memory(hash_config)
    assert [r["event"] for r in mem.add("I don't eat meat.", user_id="bob")["results"]] == ["ADD"]
