"""The openai provider's graph path (mem0's three tool calls) over real HTTP against tests/openai_server.py."""

from __future__ import annotations

import json

import pytest

from memlab import Memory

pytest.importorskip("ladybug", reason="graph tests need memlab[graph]")


def llm_block(srv) -> dict:
    return {"provider": "openai", "config": {"base_url": srv.base_url, "model": "local-test", "api_key": "sk-test",
                                             "timeout": 5.0, "http_retries": 0}}


def entities(*pairs):
    return {"tool_calls": [{"name": "extract_entities",
                            "arguments": {"entities": [{"entity": e, "entity_type": t} for e, t in pairs]}}]}


def relations(*triples):
    return {"tool_calls": [{"name": "establish_relationships", "arguments": {"entities": [
        {"source": s, "relationship": r, "destination": d} for s, r, d in triples]}}]}


def deletions(*triples):
    return {"tool_calls": [{"name": "delete_graph_memory", "arguments": {"source": s, "relationship": r,
                                                                         "destination": d}} for s, r, d in triples]}


@pytest.fixture
def gm(openai_server, hash_config):
    m = Memory({**hash_config, "llm": llm_block(openai_server), "graph_store": {"provider": "kuzu", "config": {}}})
    yield m
    m.close()


def tools_of(req) -> list[str]:
    return [t["function"]["name"] for t in req["json"].get("tools", [])]


def test_add_search_and_contradiction_over_http(gm, openai_server):
    srv = openai_server
    srv.push(entities(("I", "person"), ("Berlin", "city")),
             relations(("alice", "Lives In", "Berlin")))  # no delete call: nothing exists yet
    res = gm.add("I live in Berlin", user_id="alice", infer=False)
    assert res["relations"] == {"added_entities": [[{"source": "alice", "relationship": "lives_in",
                                                     "target": "berlin"}]], "deleted_entities": []}
    reqs = srv.chat_requests()
    assert [tools_of(r) for r in reqs] == [["extract_entities"], ["establish_relationships"]]
    ent_sys = reqs[0]["json"]["messages"][0]["content"]
    assert "alice" in ent_sys and "DO NOT" in ent_sys
    rel_msgs = reqs[1]["json"]["messages"]
    assert '"alice"' in rel_msgs[0]["content"] and "List of entities: ['alice', 'berlin']" in rel_msgs[1]["content"]

    srv.push(entities(("I", "person"), ("Munich", "city")),
             relations(("alice", "lives_in", "munich")),
             deletions(("alice", "lives_in", "berlin")))
    res = gm.add("I moved to Munich", user_id="alice", infer=False)
    assert res["relations"]["deleted_entities"] == [[{"source": "alice", "relationship": "lives_in",
                                                      "target": "berlin"}]]
    delete_req = srv.chat_requests()[-1]
    assert tools_of(delete_req) == ["delete_graph_memory"]
    assert "alice -- lives_in -- berlin" in delete_req["json"]["messages"][1]["content"]
    assert "New Information: I moved to Munich" in delete_req["json"]["messages"][1]["content"]

    srv.push(entities(("alice", "person")))
    found = gm.search("where does alice live", user_id="alice")
    assert found["relations"] == [{"source": "alice", "relationship": "lives_in", "destination": "munich"}]
    assert tools_of(srv.chat_requests()[-1]) == ["extract_entities"]

    n = len(srv.chat_requests())
    srv.push(entities(("alice", "person")))
    fused = gm.search("where is alice now", user_id="alice", graph=True)
    assert len(srv.chat_requests()) == n + 1  # one entity call serves relations and fusion
    assert fused["results"][0]["memory"] == "I moved to Munich" and fused["results"][0]["graph_score"] == 1.0


def test_malformed_tool_calls_are_reported_not_written(gm, openai_server):
    srv = openai_server
    srv.push(entities(("Bob", "person")),
             {"tool_calls": [{"name": "establish_relationships", "arguments": "{not json"}]})
    res = gm.add("Bob likes tea", user_id="u", infer=False)
    assert res["relations"]["added_entities"] == []
    assert any("establish_relationships arguments are not JSON" in p for p in res["problems"])
    assert len(res["results"]) == 1  # the memory itself is stored


def test_graph_store_llm_overrides_the_main_llm(openai_server, hash_config):
    """graph_store.llm (mem0) drives the graph while the memory pipeline keeps the rules LLM."""
    cfg = {**hash_config, "graph_store": {"provider": "kuzu", "config": {}, "llm": llm_block(openai_server),
                                          "custom_prompt": "Only extract places."}}
    with Memory(cfg) as m:
        openai_server.push(entities(("Oslo", "city")), relations(("u", "visited", "Oslo")))
        res = m.add("I visited Oslo", user_id="u")
        assert [r["memory"] for r in res["results"]] == ["Visited Oslo"]  # rules pipeline
        assert res["relations"]["added_entities"] == [[{"source": "u", "relationship": "visited", "target": "oslo"}]]
        rel_req = openai_server.chat_requests()[1]["json"]
        assert "4. Only extract places." in rel_req["messages"][0]["content"]
        assert rel_req["messages"][1]["content"] == "I visited Oslo"  # mem0: custom prompt -> text only
        assert json.dumps(rel_req["tools"][0]["function"]["parameters"]["required"]) == '["entities"]'
