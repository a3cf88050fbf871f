"""The openai LLM provider over real HTTP against the scripted 127.0.0.1 server."""

from __future__ import annotations

import json
import threading

import pytest

from memlab import Memory, MemoryConfig
from memlab.errors import ConfigError, ProviderError
from memlab.llms import create_llm
from tests.llm.helpers_llm import add_and_check, events


def llm_config(srv, **extra) -> dict:
    return {"provider": "openai", "config": {"base_url": srv.base_url, "model": "local-test", "api_key": "sk-test",
                                             "timeout": 5.0, "http_retries": 0, **extra}}


@pytest.fixture
def m(openai_server, hash_config):
    mem = Memory({**hash_config, "llm": llm_config(openai_server)})
    yield mem
    mem.close()


def snapshot(m) -> tuple:
    df = m.to_pandas(include_deleted=True)
    rows = df.to_dict("records")
    return json.dumps(rows, sort_keys=True, default=str), {r["id"]: m.history(r["id"]) for r in rows}


def seed(m, srv):
    """Two memories of alice written through the pipeline (no neighbours yet: both ADD)."""
    srv.push('{"facts": ["Loves sushi", "Lives in Paris"]}',
             '{"memory": [{"id": "0", "text": "Loves sushi", "event": "ADD"},'
             ' {"id": "1", "text": "Lives in Paris", "event": "ADD"}]}')
    r = add_and_check(m, "I love sushi and I live in Paris.", user_id="alice")
    assert events(r) == [("ADD", "Loves sushi"), ("ADD", "Lives in Paris")]
    srv.requests.clear()


def test_extract_then_update_over_http_with_temp_ids(m, openai_server):
    seed(m, openai_server)
    openai_server.push(
        '```json\n{"facts": ["Moved to Berlin"]}\n```',
        'Sure! Here is my decision:\n{"memory": [{"id": "1", "text": "Lives in Berlin", "event": "UPDATE",'
        ' "old_memory": "Lives in Paris"}, {"id": "0", "text": "Loves sushi", "event": "NONE"}]}\nAnything else?',
    )
    r = add_and_check(m, [{"role": "user", "content": "I moved to Berlin."},
                          {"role": "assistant", "content": "Exciting!"}], user_id="alice")
    assert events(r) == [("UPDATE", "Lives in Berlin", "Lives in Paris")]  # the NONE answers no fact: not an item
    assert "problems" not in r
    extraction, decision = openai_server.chat_requests()
    assert extraction["auth"] == "Bearer sk-test"
    assert extraction["json"]["model"] == "local-test" and extraction["json"]["temperature"] == 0.0
    assert "user: I moved to Berlin.\nassistant: Exciting!" in extraction["json"]["messages"][1]["content"]
    body = decision["json"]["messages"][1]["content"]
    assert '"id": "0"' in body and '"id": "1"' in body and "Moved to Berlin" in body
    ids = {i["id"] for i in m.get_all(user_id="alice")["results"]}
    assert not any(uuid in json.dumps(openai_server.requests) for uuid in ids), "UUIDs must never reach the LLM"
    assert r["trace"]["decision"]["raw"].startswith("Sure!")
    assert r["trace"]["id_map"]["1"] == r["results"][0]["id"]


def test_invented_ids_and_missing_fields_are_reported_never_crash(m, openai_server):
    seed(m, openai_server)
    openai_server.push(
        '{"facts": ["Has a cat named Tom", "Works at Acme", "Is 30", "Likes tea"]}',
        '{"memory": ['
        ' {"id": "42", "text": "Has a cat named Tom", "event": "UPDATE"},'   # invented id + text -> ADD
        ' {"id": "9", "event": "DELETE"},'                                  # invented id -> skipped
        ' {"id": "5", "text": "Works at Acme", "event": "ADD"},'             # ADD ids are ignored
        ' {"id": "0", "event": "UPDATE"},'                                   # no text -> skipped
        ' {"text": "Is 30"},'                                                # no event -> skipped
        ' {"id": "1", "text": "Lives in Paris", "event": "NONE"}]}',
    )
    before_count = m.store.count()
    r = add_and_check(m, "Some conversation.", user_id="alice")
    assert sorted(events(r)) == [("ADD", "Has a cat named Tom"), ("ADD", "Works at Acme")]
    problems = r["problems"]
    assert any("UPDATE of unknown id '42'" in p and "added as a new memory" in p for p in problems)
    assert any("DELETE of unknown id '9'" in p for p in problems)
    assert any("UPDATE without 'text'" in p for p in problems)
    assert any("no valid 'event'" in p for p in problems)
    assert any("'Likes tea' got no decision" in p for p in problems)
    assert m.store.count() == before_count + 2
    assert r["trace"]["problems"] == problems


def test_empty_fact_list_makes_no_decision_call(m, openai_server):
    seed(m, openai_server)
    openai_server.push('{"facts": []}')
    before = snapshot(m)
    r = m.add("Hi there!", user_id="alice", return_trace=True)
    assert r["results"] == [] and r["trace"]["facts"] == []
    assert len(openai_server.chat_requests()) == 1
    assert snapshot(m) == before


def test_invalid_json_is_retried_with_a_correction(m, openai_server):
    openai_server.push("Facts: loves sushi (sorry, no JSON)", "{'facts': ['Loves sushi',]}", '{"memory": [}',
                       '<think>no memories yet</think>[{"text": "Loves sushi", "event": "add"}]')
    r = m.add("I love sushi", user_id="bob", return_trace=True)
    assert events(r) == [("ADD", "Loves sushi")]
    reqs = openai_server.chat_requests()
    assert len(reqs) == 4
    retry = reqs[1]["json"]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "Facts: loves sushi (sorry, no JSON)"}
    assert "could not be read as JSON" in retry[-1]["content"]
    assert r["trace"]["extraction"]["retried"] == ["Facts: loves sushi (sorry, no JSON)"]
    assert r["trace"]["decision"]["retried"] == ['{"memory": [}']


@pytest.mark.parametrize("script, match", [
    (["not json", "still not json"], "fact extraction reply .* could not be read after 2 attempt"),
    (['{"facts": ["Likes tea"]}', "nope", "nope again"], "update decision reply .* could not be read"),
    (['{"answer": "Likes tea"}', '{"answer": "Likes tea"}'], "no 'facts' key"),
    ([{"status": 500, "body": {"error": {"message": "model overloaded"}}}], "HTTP 500.*model overloaded"),
    (['{"facts": ["Likes tea"]}', {"status": 503}], "HTTP 503"),
    ([{"status": 401, "body": {"error": {"message": "bad key"}}}], "HTTP 401.*bad key"),
])
def test_unusable_replies_and_http_errors_raise_provider_error_and_write_nothing(m, openai_server, script, match):
    seed(m, openai_server)
    before = snapshot(m)
    openai_server.push(*script)
    with pytest.raises(ProviderError, match=match) as info:
        m.add("I like tea", user_id="alice")
    assert "Nothing was written" in str(info.value) or "HTTP" in str(info.value)
    assert snapshot(m) == before


def test_timeout_is_a_clear_provider_error_and_writes_nothing(openai_server, hash_config):
    with Memory({**hash_config, "llm": llm_config(openai_server, timeout=0.3)}) as m:
        seed(m, openai_server)
        before = snapshot(m)
        for held_at in (0, 1):  # the extraction call or the update call hangs
            release = threading.Event()
            script = [{"hold": release, "content": '{"facts": ["Likes tea"]}'}] if held_at == 0 else \
                ['{"facts": ["Moved to Rome"]}', {"hold": release, "content": '{"memory": []}'}]
            openai_server.push(*script)
            sent = openai_server.replies_sent
            with pytest.raises(ProviderError, match=r"did not answer within 0.3 s"):
                m.add("I like tea and I moved to Rome", user_id="alice")
            # the client gave up on its own: the held reply had not been sent when the error came
            assert openai_server.replies_sent == sent + held_at
            release.set()
            assert snapshot(m) == before


def test_unreachable_server_is_a_provider_error(hash_config):
    cfg = {"provider": "openai", "config": {"base_url": "http://127.0.0.1:9/v1", "timeout": 1.0, "http_retries": 0}}
    with Memory({**hash_config, "llm": cfg}) as m:
        with pytest.raises(ProviderError, match="Cannot reach"):
            m.add("I like tea", user_id="u")


def test_custom_prompts_and_instructions_reach_the_server(openai_server, hash_config):
    cfg = {**hash_config, "llm": llm_config(openai_server, json_mode=True),
           "custom_fact_extraction_prompt": "Extract hobbies as {\"facts\": []}.",
           "custom_update_memory_prompt": "Be conservative.", "custom_instructions": "Ignore food."}
    with Memory(cfg) as m:
        openai_server.push('{"facts": ["Plays chess"]}', '{"memory": [{"text": "Plays chess", "event": "ADD"}]}',
                           '{"facts": []}')
        m.add("I play chess", user_id="u")
        ext, dec = openai_server.chat_requests()
        assert ext["json"]["messages"][0]["content"] == 'Extract hobbies as {"facts": []}.\n\nAdditional instructions:\nIgnore food.'
        assert ext["json"]["response_format"] == {"type": "json_object"}
        assert dec["json"]["messages"][0]["content"] == "Be conservative."
        m.add("I play chess", user_id="u", prompt="Per-call prompt.")
        assert openai_server.chat_requests()[-1]["json"]["messages"][0]["content"].startswith("Per-call prompt.")


def test_procedural_memory_over_http(m, openai_server):
    openai_server.push("```\nTask: book a flight.\nSteps:\n1. Searched flights (3 found).\nOutcome: booked LH123.\n```")
    run = [{"role": "user", "content": "Book me a flight to Rome"},
           {"role": "assistant", "content": "Booked LH123."}]
    r = add_and_check(m, run, agent_id="travel", memory_type="procedural_memory", prompt="Summarise tersely.")
    item = r["results"][0]
    assert item["memory"] == "Task: book a flight.\nSteps:\n1. Searched flights (3 found).\nOutcome: booked LH123."
    assert item["metadata"]["memory_type"] == "procedural_memory" and item["agent_id"] == "travel"
    req = openai_server.chat_requests()[0]["json"]["messages"]
    assert req[0] == {"role": "system", "content": "Summarise tersely."}
    assert "user: Book me a flight to Rome" in req[1]["content"]
    openai_server.push("   ")
    with pytest.raises(ProviderError, match="summary is empty"):
        m.add(run, agent_id="travel", memory_type="procedural_memory")
    assert m.store.count() == 1


def test_complete_is_a_plain_chat_call(openai_server):
    llm = create_llm("openai", llm_config(openai_server, temperature=0.7, max_tokens=50)["config"])
    openai_server.push("Paris.", '{"ok": true}', {"status": 500}, {"delay": 1.0, "content": "late"})
    assert llm.complete([{"role": "user", "content": "Capital of France?"}]) == "Paris."
    assert llm.complete([{"role": "user", "content": "JSON please"}], json_mode=True) == '{"ok": true}'
    first, second = openai_server.chat_requests()[:2]
    assert first["json"]["temperature"] == 0.7 and first["json"]["max_tokens"] == 50
    assert "response_format" not in first["json"] and second["json"]["response_format"] == {"type": "json_object"}
    with pytest.raises(ProviderError, match="HTTP 500"):
        llm.complete([{"role": "user", "content": "x"}])
    llm.timeout = 0.3
    llm._client = llm._client.with_options(timeout=0.3)
    with pytest.raises(ProviderError, match="did not answer"):
        llm.complete([{"role": "user", "content": "x"}])


def test_openai_llm_config_is_validated(monkeypatch):
    cfg = MemoryConfig(llm={"provider": "openai", "config": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}})
    assert cfg.llm.config["model"] == "m"
    with pytest.raises(ConfigError, match="llm.config.*unknown key"):
        MemoryConfig.from_dict({"llm": {"provider": "openai", "config": {"modle": "m"}}})
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="api_key"):
        create_llm("openai", {})
    with pytest.raises(ConfigError, match="Unknown llm provider"):
        create_llm("anthropic", {})
