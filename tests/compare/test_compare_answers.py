"""Answers without / with memory: SQuAD scoring, the offline responder, and a real HTTP LLM."""

from __future__ import annotations

import json

import pytest

from memlab import Memory
from memlab.compare import (
    ExtractiveResponder, compare, compare_answers, exact_match, normalize_answer, token_f1,
)
from memlab.compare.answers import NO_ANSWER, create_chat_llm
from memlab.errors import ConfigError, ProviderError, ValidationError
from tests.compare.compare_data import HASH_CONFIG, QUERIES, records


def test_squad_scoring_by_hand():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert exact_match("the Berlin.", "berlin") == 1.0 and exact_match("in Berlin", "Berlin") == 0.0
    assert token_f1("in Berlin", "Berlin") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("a dog named Rex", "Rex the dog") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert token_f1("", "") == 1.0 and token_f1("the", "Berlin") == 0.0 and token_f1("x", "y") == 0.0
    assert token_f1(2023, "2023") == 1.0  # LoCoMo has integer answers


def test_extractive_responder_is_documented_behaviour():
    r = ExtractiveResponder()
    assert r.answer("Where does Alice live?", None) == NO_ANSWER
    assert r.answer("Where does Alice live?", []) == NO_ANSWER
    # the best supporting sentence, as written (readable), not a bag of its words
    assert r.answer("Where does Alice live?", ["Alice lives in Berlin. She likes it."]) == "Alice lives in Berlin."
    mems = ["Alice lives in Berlin.", "Alice works as a nurse at the city hospital."]
    assert r.answer("What does Alice do for work?", mems) == "Alice works as a nurse at the city hospital."
    # a topic word ("car" ~ no; "drive" ~ yes) outweighs a shared name, whatever the retrieval order
    bob = ["Bob lives in Lisbon.", "Bob drives an old blue Volvo."]
    assert r.answer("What does Bob drive?", bob) == "Bob drives an old blue Volvo."
    # only the name is shared: the higher-ranked memory (what retrieval put first) answers
    assert r.answer("What car does Bob have?", bob) == "Bob lives in Lisbon."
    assert r.answer("Tell me something", ["First fact.", "Second fact."]) == "First fact."
    # span=True trims to the words the question lacks (terse, for exact-match scoring)
    span = ExtractiveResponder(span=True)
    assert span.answer("Where does Alice live?", ["Alice lives in Berlin. She likes it."]) == "Berlin"
    assert span.answer("What does Alice do for work?", mems) == "nurse city hospital"
    assert span.answer("Alice lives?", ["Alice lives."]) == "Alice lives."


@pytest.fixture
def comparison():
    full = Memory(HASH_CONFIG)
    full.add_records(records())
    # After a lossy migration: the Berlin memory did not make it.
    partial = Memory(HASH_CONFIG)
    partial.add_records(records()[1:])
    cmp = compare(full, partial, QUERIES, k=3, labels=("full", "partial"))
    full.close()
    partial.close()
    return cmp


def test_offline_answers_end_to_end(comparison):
    ans = comparison.answers()
    df = ans.to_pandas().set_index("query_id")
    assert (df["answer_none"] == NO_ANSWER).all() and (df["f1_none"] == 0).all()
    assert df.loc["home", "answer_before"] == "Alice lives in Berlin." and df.loc["home", "f1_before"] > 0.3
    assert "Berlin" not in df.loc["home", "answer_after"] and df.loc["home", "f1_after"] == 0.0
    spans = comparison.answers(llm="extractive-span").to_pandas().set_index("query_id")
    assert spans.loc["home", "answer_before"] == "Berlin" and spans.loc["home", "em_before"] == 1.0
    for r in comparison.results:  # extractive: every answer word comes from that side's retrieved memories
        context = " ".join(h["memory"] for h in r.after[:5])
        assert all(word in context for word in df.loc[r.query.query_id, "answer_after"].split())
    s = ans.summary()
    f1 = s[s["metric"] == "f1"].set_index("side")["mean"]
    assert f1["no memory"] == 0.0 and f1["full"] > f1["partial"]
    assert "Berlin" in ans._repr_html_()


def test_answer_arguments_are_validated(comparison):
    with pytest.raises(ValidationError, match="context_k"):
        compare_answers(comparison, context_k=0)
    with pytest.raises(ValidationError, match="sides"):
        compare_answers(comparison, sides=("middle",))
    with pytest.raises(ConfigError, match="openai"):
        compare_answers(comparison, llm={"llm": {"provider": "rules"}})
    refs = compare_answers(comparison, sides=("before",), references={"home": "Munich"}).to_pandas()
    assert refs.set_index("query_id").loc["home", "f1_before"] == 0.0


def _llm_block(server) -> dict:
    return {"llm": {"provider": "openai", "config": {"model": "test-model", "base_url": server.base_url,
                                                     "api_key": "test-key", "timeout": 10}}}


def test_answers_over_http(openai_server, comparison):
    def reply(req):
        user = req["messages"][-1]["content"]
        if "Memories about the user" not in user:
            return "I don't know."
        memories = user.split("Question:")[0]
        return "Berlin" if "Berlin" in memories else "Somewhere else"

    openai_server.push(reply)
    openai_server.repeat_last = True
    ans = compare_answers(comparison, llm=_llm_block(openai_server), context_k=2)
    df = ans.to_pandas().set_index("query_id")
    assert df.loc["home", "answer_none"] == "I don't know."
    assert df.loc["home", "answer_before"] == "Berlin" and df.loc["home", "f1_before"] == 1.0
    assert df.loc["home", "answer_after"] == "Somewhere else"
    chats = openai_server.chat_requests()
    assert len(chats) == 3 * len(QUERIES)
    first_with_memory = chats[1]["json"]["messages"][-1]["content"]
    top2 = [h["memory"] for h in comparison["home"].before[:2]]
    assert all(m in first_with_memory for m in top2) and "Where does Alice live?" in first_with_memory
    assert chats[0]["json"]["model"] == "test-model" and chats[0]["auth"] == "Bearer test-key"


def test_judge_over_http(openai_server, comparison):
    verdicts = iter(["CORRECT", "WRONG"] * 20)
    openai_server.push(lambda req: json.dumps({"label": next(verdicts)}))
    openai_server.repeat_last = True
    ans = compare_answers(comparison, judge=_llm_block(openai_server), sides=("before", "after"))
    df = ans.to_pandas()
    assert df["judge_before"].tolist() == [1.0] * len(QUERIES) and df["judge_after"].tolist() == [0.0] * len(QUERIES)
    judge_req = openai_server.chat_requests()[0]["json"]
    assert judge_req["response_format"] == {"type": "json_object"}
    assert "Reference: Berlin" in judge_req["messages"][-1]["content"]
    assert set(ans.summary()["metric"]) == {"f1", "em", "judge"}


def test_http_failure_is_a_provider_error(openai_server, comparison):
    openai_server.push({"status": 500, "body": {"error": {"message": "boom"}}})
    openai_server.repeat_last = True
    llm = create_chat_llm(_llm_block(openai_server))
    llm._client = llm._client.with_options(max_retries=0)  # fail fast: one request, no backoff
    with pytest.raises(ProviderError, match="HTTP 500"):
        compare_answers(comparison, llm=llm)


def test_unlabelled_judge_reply_is_an_error(openai_server, comparison):
    openai_server.push("maybe?")
    openai_server.repeat_last = True
    with pytest.raises(ProviderError, match="CORRECT/WRONG"):
        compare_answers(comparison, judge=_llm_block(openai_server), sides=("after",))
