"""Project settings change what the served project does: instructions and categories reach the
LLM step (over real HTTP to the local OpenAI-compatible server), and every worker sees an update."""

from __future__ import annotations

import json

import pytest

mem0_client = pytest.importorskip("mem0.client.main", reason="mem0ai is not installed (test extra)")

from memlab.server.tenancy import Tenancy  # noqa: E402
from tests.server.live import HASH_CONFIG, LiveServer  # noqa: E402


def test_instructions_and_categories_reach_the_llm(tmp_path, openai_server):
    config = {**HASH_CONFIG, "llm": {"provider": "openai",
                                     "config": {"base_url": openai_server.base_url, "api_key": "test"}}}
    srv = LiveServer(tmp_path / "served", config).start()
    try:
        client = mem0_client.MemoryClient(api_key=srv.key("acme", "food"), host=srv.url)
        client.project.update(custom_instructions="Only keep food preferences.",
                              custom_categories=[{"food": "what the user eats"}, "travel"])
        openai_server.push(json.dumps({"facts": ["Likes ramen"]}),
                           json.dumps({"memory": [{"id": "0", "text": "Likes ramen", "event": "ADD"}]}))
        added = client.add("I like ramen and I flew to Oslo.", user_id="u1")
        assert [(r["memory"], r["event"]) for r in added["results"]] == [("Likes ramen", "ADD")]
        system = openai_server.chat_requests()[0]["json"]["messages"][0]["content"]
        assert "Only keep food preferences." in system
        assert "- food: what the user eats" in system and "- travel" in system
        # a project without settings sends no extra instructions
        other = mem0_client.MemoryClient(api_key=srv.key("acme", "plain"), host=srv.url)
        openai_server.push(json.dumps({"facts": []}))
        other.add("hello", user_id="u1")
        assert "Only keep food preferences." not in openai_server.chat_requests()[-1]["json"]["messages"][0]["content"]
    finally:
        srv.stop()


def test_settings_changed_by_one_worker_apply_in_another(tmp_path):
    a, b = Tenancy(tmp_path, HASH_CONFIG), Tenancy(tmp_path, HASH_CONFIG)  # two worker processes' views
    try:
        ta = a.local_tenant("acme", "web")
        tb = b.local_tenant("acme", "web")
        assert tb.settings.version == "v1.1" and tb.memory.config.custom_instructions is None
        ta.update_settings({"version": "v1.0", "custom_instructions": "Be brief."})
        tb = b.local_tenant("acme", "web")  # each request re-opens through the tenancy layer
        assert tb.settings.version == "v1.0" and tb.memory.config.custom_instructions == "Be brief."
        with pytest.raises(Exception, match="retrieval_criteria"):
            ta.update_settings({"retrieval_criteria": [{"type": "sideways"}]})
        assert a.local_tenant("acme", "web").settings.retrieval_criteria is None  # nothing written
    finally:
        a.close()
        b.close()


def test_each_project_is_its_own_store(tmp_path):
    t = Tenancy(tmp_path, HASH_CONFIG)
    try:
        one, two = t.local_tenant("o", "p1"), t.local_tenant("o", "p2")
        mid = one.memory.add("only in p1", user_id="u", infer=False)["results"][0]["id"]
        assert two.memory.get(mid) is None
        assert (tmp_path / "projects" / "o" / "p1" / "store" / "memlab.db").exists()
        with pytest.raises(Exception, match="project must be"):
            t.local_tenant("o", "../p1")
    finally:
        t.close()


def test_projects_inherit_the_base_config_but_never_share_a_store_or_graph(tmp_path):
    from memlab.config import MemoryConfig
    from memlab.server.settings import ProjectSettings

    base = MemoryConfig.from_dict({**HASH_CONFIG, "custom_instructions": "base rules",
                                   "graph_store": {"provider": "kuzu", "config": {"db": str(tmp_path / "shared")}}})
    one = ProjectSettings().apply(base, tmp_path / "projects" / "o" / "p1")
    two = ProjectSettings(custom_instructions="mine", enable_graph=False).apply(base,
                                                                               tmp_path / "projects" / "o" / "p2")
    assert one.custom_instructions == "base rules" and two.custom_instructions == "mine"
    assert one.graph_store.config["db"] == str(tmp_path / "projects" / "o" / "p1" / "graph.kuzu")
    assert two.graph_store is None
    assert one.vector_store.config["path"] != two.vector_store.config["path"]
    assert one.embedder.provider == two.embedder.provider == "hash"
