"""Answers and the J judge through OpenAI-compatible servers (real HTTP on 127.0.0.1), BLEU-1 and F1."""

from __future__ import annotations

import json
import re

import pytest

from memlab.bench import J_PROMPT, Benchmark, bleu1
from memlab.bench.answers import parse_label
from memlab.errors import ConfigError, ProviderError
from tests.openai_server import OpenAICompatServer


def first_memory(req):
    """A deterministic 'model': answers with the first listed memory (without its date)."""
    text = req["messages"][-1]["content"]
    m = re.search(r"^1\. (?:\[[^\]]*\] )?(.*)$", text, re.M)
    return m.group(1) if m else "I don't know"


def generous_judge(req):
    """CORRECT when the gold answer's first word appears in the generated answer."""
    text = req["messages"][-1]["content"]
    gold = re.search(r"^Gold answer: (.*)$", text, re.M).group(1)
    gen = re.search(r"^Generated answer: (.*)$", text, re.M).group(1)
    ok = gold.split()[0].lower().strip(".,") in gen.lower()
    return json.dumps({"label": "CORRECT" if ok else "WRONG"})


@pytest.fixture
def servers():
    answer_srv, judge_srv = OpenAICompatServer().start(), OpenAICompatServer().start()
    yield answer_srv, judge_srv
    answer_srv.stop()
    judge_srv.stop()


def test_answers_and_repeated_judge_with_separate_servers(servers, sample_path, tmp_path):
    answer_srv, judge_srv = servers
    answer_srv.repeat_last = judge_srv.repeat_last = True
    answer_srv.push(first_memory)
    calls = {"n": 0}

    def flaky_judge(req):  # every 4th verdict flipped: a judge with spread across runs
        calls["n"] += 1
        verdict = json.loads(generous_judge(req))["label"]
        if calls["n"] % 4 == 0:
            verdict = "WRONG" if verdict == "CORRECT" else "CORRECT"
        return f"The answer refers to the same thing. {json.dumps({'label': verdict})}"

    judge_srv.push(flaky_judge)
    bench = Benchmark(sample_path, ["bm25"], ks=(1, 5), out=tmp_path, scopes=1, context_k=3,
                      answerer={"base_url": answer_srv.base_url, "model": "answer-model"},
                      judge={"base_url": judge_srv.base_url, "model": "judge-model"}, judge_runs=3,
                      n_boot=100, n_perm=200, progress=False)
    result = bench.run()
    answered = [r for r in result.records if "answer" in r]
    assert len(answered) == 9  # the answerable questions; the adversarial one is not answered
    chat = answer_srv.chat_requests()
    assert len(chat) == 9 and {r["json"]["model"] for r in chat} == {"answer-model"}
    assert "Question: Which day is Nadia's pottery class?" in chat[0]["json"]["messages"][0]["content"]
    judged = judge_srv.chat_requests()
    assert len(judged) == 27 and {r["json"]["model"] for r in judged} == {"judge-model"}
    first = answered[0]
    q = bench.dataset.queries.set_index("id").loc[first["question_id"]]
    sent = judged[0]["json"]
    assert sent["messages"] == [{"role": "user", "content": J_PROMPT.format(
        question=q["text"], gold_answer=q["answer"], generated_answer=first["answer"])}]
    assert sent["response_format"] == {"type": "json_object"}
    spread = result.extra["judge_spread"][0]
    assert spread["runs"] == 3 and len(spread["accuracy_per_run"]) == 3
    assert spread["min"] <= spread["mean"] <= spread["max"] and spread["unanimous_share"] < 1.0
    j = result.metrics[(result.metrics.metric == "j") & (result.metrics.category == "all")].iloc[0]
    assert j["n"] == 9 and j["mean"] == pytest.approx(
        sum(sum(r["judge"]) / 3 for r in answered) / 9)
    assert "judge spread, bm25: 3 runs" in (tmp_path / "report.md").read_text()


def test_offline_extractive_answers_score_f1_and_bleu(sample_path, tmp_path):
    bench = Benchmark(sample_path, ["bm25"], ks=(5,), out=tmp_path, scopes=1, n_boot=100, n_perm=200,
                      progress=False)
    result = bench.run(only="answers")
    answers = {r["question_id"]: r for r in result.records if "answer" in r}
    assert len(answers) == 9
    dog = answers["sample-1:q2"]  # "What is the name of Tom's dog?" -> extracted from the top memory
    assert "Pixel" in dog["answer"] and dog["f1"] > 0
    assert all(0 <= r["f1"] <= 1 and 0 <= r["bleu1"] <= 1 for r in answers.values())
    assert not (result.metrics.metric == "j").any()


def test_bleu1_by_hand():
    """BLEU-1 as mem0's evaluation gets it from NLTK (weights (1, 0, 0, 0), smoothing method 1)."""
    assert bleu1("Vienna", "Vienna") == 1.0
    assert bleu1("blue teapot", "blue") == pytest.approx(0.5)  # 1 of 2 tokens, no brevity penalty
    import math

    assert bleu1("Pixel", "Pixel the dog") == pytest.approx(math.exp(1 - 3))  # brevity penalty
    assert bleu1("", "x") == 0.0
    assert bleu1("nothing here", "Vienna") == pytest.approx(0.1 / 2)  # zero matches smoothed to 0.1
    assert bleu1("the Lisbon half marathon", "the lisbon half marathon") == 1.0  # lower-cased


def test_judge_labels_and_refusals():
    assert parse_label('{"label": "CORRECT"}') is True
    assert parse_label("It is the same date. WRONG") is False
    with pytest.raises(ProviderError, match="without a CORRECT/WRONG"):
        parse_label("maybe")
    from memlab.bench.answers import LLMJudge

    with pytest.raises(ConfigError, match="OpenAI-compatible server"):
        LLMJudge({})


def test_a_failing_answer_server_stops_the_run_and_keeps_finished_answers(sample_path, tmp_path):
    srv = OpenAICompatServer().start()
    try:
        srv.push("Tuesday", "the Lisbon half marathon", {"status": 500, "body": {"error": {"message": "down"}}})
        bench = Benchmark(sample_path, ["bm25"], ks=(5,), out=tmp_path, scopes=1, progress=False,
                          answerer={"base_url": srv.base_url, "model": "m", "http_retries": 0})
        with pytest.raises(ProviderError):
            bench.run(only="answers")
        lines = (next((tmp_path / "systems").iterdir()) / "answers.jsonl").read_text().splitlines()
        assert [json.loads(x)["answer"] for x in lines] == ["Tuesday", "the Lisbon half marathon"]
    finally:
        srv.stop()
