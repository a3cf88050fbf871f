"""Robust parsing of LLM replies (pure functions, no server)."""

from __future__ import annotations

import pytest

from memlab.llms.parsing import (
    ReplyParseError, extract_json, parse_decisions, parse_facts, parse_summary,
)


@pytest.mark.parametrize("reply", [
    '{"facts": ["Loves sushi"]}',
    '```json\n{"facts": ["Loves sushi"]}\n```',
    '```\n{"facts": ["Loves sushi"]}\n```',
    'Sure! Here are the facts:\n{"facts": ["Loves sushi"]}\nLet me know if you need more.',
    '<think>The user said they love sushi {not json}.</think>\n{"facts": ["Loves sushi"]}',
    '{"facts": ["Loves sushi",],}',
    "{'facts': ['Loves sushi']}",
    '["Loves sushi"]',
    '{"facts": "Loves sushi"}',
    '{"facts": [{"fact": "Loves sushi"}]}',
])
def test_fact_replies_in_many_shapes_parse_to_the_same_fact(reply):
    facts, _ = parse_facts(reply)
    assert facts == ["Loves sushi"]


def test_fact_problems_are_reported_not_dropped_silently():
    facts, problems = parse_facts('{"facts": ["Loves sushi", "", 42, null, {"x": 1}, "Loves sushi"]}')
    assert facts == ["Loves sushi", "42"]
    assert len(problems) == 4
    assert any("facts[1] is empty" in p for p in problems)
    assert any("repeats" in p for p in problems)


def test_empty_fact_list_is_valid():
    assert parse_facts('{"facts": []}') == ([], [])


@pytest.mark.parametrize("reply", ["", "I could not find any facts.", "{facts: [unquoted}", '{"answer": 1}', "null"])
def test_unrecoverable_replies_raise_a_parse_error_with_the_reason(reply):
    with pytest.raises(ReplyParseError):
        parse_facts(reply)


def test_json_inside_chatter_with_braces_in_strings():
    text = 'Okay {thinking}. Result: {"memory": [{"id": "0", "text": "Likes {curly} braces", "event": "NONE"}]} done'
    assert extract_json(text)["memory"][0]["text"] == "Likes {curly} braces"


def test_decisions_normalise_ids_events_and_report_junk():
    entries, problems = parse_decisions(
        '{"memory": [{"id": 0, "text": "Lives in Berlin", "event": "update", "old_memory": "Lives in Paris"},'
        ' {"id": "1", "event": "noop"}, {"text": "Has a cat", "event": "INSERT"}, "junk",'
        ' {"id": "2", "event": "frobnicate"}]}'
    )
    assert [e["event"] for e in entries] == ["UPDATE", "NONE", "ADD", None]
    assert entries[0]["id"] == "0" and entries[0]["old_memory"] == "Lives in Paris"
    assert entries[2]["id"] is None
    assert any("memory[3] is not an object" in p for p in problems)
    assert any("unknown event 'frobnicate'" in p for p in problems)


def test_decisions_accept_a_bare_list_and_other_keys():
    assert parse_decisions('[{"id": "0", "event": "NONE"}]')[0][0]["event"] == "NONE"
    entries, problems = parse_decisions('{"memories": [{"id": "0", "event": "DELETE"}]}')
    assert entries[0]["event"] == "DELETE" and problems


def test_summary_parsing_strips_think_and_fences():
    assert parse_summary("<think>hm</think>\n```\nTask: x\nSteps: y\n```") == "Task: x\nSteps: y"
    with pytest.raises(ReplyParseError):
        parse_summary("   ")
