"""mem0ai's real MemoryClient / AsyncMemoryClient against a live ``memlab serve`` on 127.0.0.1."""

from __future__ import annotations

import asyncio

import httpx
import pytest

mem0_client = pytest.importorskip("mem0.client.main", reason="mem0ai is not installed (test extra)")
from mem0.exceptions import AuthenticationError, MemoryNotFoundError, ValidationError  # noqa: E402

MemoryClient = mem0_client.MemoryClient
AsyncMemoryClient = mem0_client.AsyncMemoryClient


@pytest.fixture(scope="module")
def client(live):
    return MemoryClient(api_key=live.key("acme", "web"), host=live.url)


def test_ping_tells_the_client_its_org_and_project(client):
    assert (client.org_id, client.project_id) == ("acme", "web")


def test_every_verb_round_trips(client):
    added = client.add([{"role": "user", "content": "I love sushi and I live in Paris."}],
                       user_id="alice", metadata={"source": "chat"})
    events = {(r["memory"], r["event"]) for r in added["results"]}
    assert events == {("Loves sushi", "ADD"), ("Lives in Paris", "ADD")}
    assert all(r["metadata"] == {"source": "chat"} and r["user_id"] == "alice" for r in added["results"])

    moved = client.add("I moved to Berlin last month.", filters={"user_id": "alice"})["results"]
    assert [(r["event"], r.get("previous_memory")) for r in moved] == [("UPDATE", "Lives in Paris")]
    berlin = moved[0]["memory"]
    assert "Berlin" in berlin

    raw = client.add([{"role": "user", "content": "verbatim note"}], user_id="alice", infer=False)["results"]
    assert raw[0]["memory"] == "verbatim note"

    listed = client.get_all(filters={"user_id": "alice"})
    assert listed["count"] == 3 and listed["next"] is None and listed["previous"] is None
    assert {m["memory"] for m in listed["results"]} == {"Loves sushi", berlin, "verbatim note"}

    hits = client.search("moved to Berlin", filters={"user_id": "alice"}, top_k=1)["results"]
    assert len(hits) == 1 and hits[0]["memory"] == berlin and "score" in hits[0]

    mid = raw[0]["id"]
    assert client.get(mid)["memory"] == "verbatim note"
    updated = client.update(mid, text="an edited note", metadata={"edited": True})
    assert updated["memory"] == "an edited note" and updated["metadata"] == {"edited": True}
    history = client.history(mid)
    assert [h["event"] for h in history] == ["ADD", "UPDATE"]
    assert history[1]["old_memory"] == "verbatim note" and history[1]["new_memory"] == "an edited note"

    assert "deleted" in client.delete(mid)["message"]
    with pytest.raises(MemoryNotFoundError):
        client.get(mid)
    assert [h["event"] for h in client.history(mid)] == ["ADD", "UPDATE", "DELETE"]

    client.delete_all(user_id="alice")
    assert client.get_all(filters={"user_id": "alice"})["count"] == 0


def test_pagination_walks_every_memory_once(client):
    texts = [f"note number {i}" for i in range(23)]
    for t in texts:
        client.add(t, user_id="pager", infer=False)
    first = client.get_all(filters={"user_id": "pager"}, page=1, page_size=10)
    assert first["count"] == 23 and first["previous"] is None and "page=2" in first["next"]
    seen = [m["memory"] for m in first["results"]]
    url = first["next"]
    while url:  # follow the absolute next links like a DRF client would
        body = client.client.post(url, json={"filters": {"user_id": "pager"}}).json()
        seen += [m["memory"] for m in body["results"]]
        url = body["next"]
    assert seen == texts
    last = client.get_all(filters={"user_id": "pager"}, page=3, page_size=10)
    assert len(last["results"]) == 3 and last["next"] is None and "page=2" in last["previous"]


def test_batch_update_and_delete(client):
    ids = [client.add(f"batch item {i}", user_id="bob", infer=False)["results"][0]["id"] for i in range(3)]
    client.batch_update([{"memory_id": ids[0], "text": "batch item zero"},
                         {"memory_id": ids[1], "metadata": {"tag": "x"}}])
    assert client.get(ids[0])["memory"] == "batch item zero"
    assert client.get(ids[1])["metadata"] == {"tag": "x"}
    with pytest.raises(MemoryNotFoundError):  # one unknown id: nothing is deleted
        client.batch_delete([{"memory_id": ids[2]}, {"memory_id": "00000000-0000-0000-0000-000000000000"}])
    assert client.get(ids[2])["memory"] == "batch item 2"
    client.batch_delete([{"memory_id": i} for i in ids])
    assert client.get_all(filters={"user_id": "bob"})["count"] == 0


def test_export_entities_summary_feedback(client):
    client.add("exported one", user_id="carol", infer=False, metadata={"k": 1})
    client.add("exported two", user_id="carol", infer=False)
    client.add("an agent's note", agent_id="helper", infer=False)
    schema = {"memories": {"fields": ["id", "content", "metadata", "created_at", "updated_at"],
                           "filters": {"user_id": "carol"}},
              "users": {"fields": ["id", "user_id", "name", "email"]}}
    created = client.create_memory_export(schema, user_id="carol")
    assert created["id"]
    data = client.get_memory_export(user_id="carol")
    assert [m["content"] for m in data["memories"]] == ["exported one", "exported two"]
    assert set(data["memories"][0]) == {"id", "content", "metadata", "created_at", "updated_at"}
    assert data["users"] == [{"id": "carol", "user_id": "carol", "name": "carol", "email": None}]
    assert client.get_memory_export(memory_export_id=created["id"]) == data

    users = client.users()["results"]
    assert {("carol", "user"), ("helper", "agent")} <= {(e["name"], e["type"]) for e in users}
    assert client.get_summary(filters={"user_id": "carol"})["total_memories"] == 2
    mid = data["memories"][0]["id"]
    fb = client.feedback(mid, "positive", "useful")
    assert fb["feedback"] == "POSITIVE" and fb["memory_id"] == mid
    client.delete_users(agent_id="helper")
    assert client.get_all(filters={"agent_id": "helper"})["count"] == 0


def test_json_schema_export_is_validated(client):
    client.add("schema export memory", user_id="dora", infer=False)
    schema = {"type": "object", "required": ["memories"],
              "properties": {"memories": {"type": "array", "items": {
                  "type": "object", "properties": {"id": {"type": "string"}, "content": {"type": "string"}},
                  "required": ["id", "content"]}}, "count": {"type": "integer"}}}
    export_id = client.create_memory_export(schema, user_id="dora")["id"]
    data = client.get_memory_export(memory_export_id=export_id)
    assert data["count"] == 1 and data["memories"][0]["content"] == "schema export memory"
    with pytest.raises(ValidationError, match="cannot fill"):
        client.create_memory_export({"type": "object", "required": ["mood"],
                                     "properties": {"mood": {"type": "string"}}}, user_id="dora")


def test_two_keys_never_see_each_other(live):
    a = MemoryClient(api_key=live.key("org1", "alpha"), host=live.url)
    b = MemoryClient(api_key=live.key("org2", "beta"), host=live.url)
    secret = a.add("alpha's secret plan", user_id="shared-user", infer=False)["results"][0]
    b.add("beta's own note", user_id="shared-user", infer=False)
    # same user id in both projects: each sees only its own
    assert [m["memory"] for m in a.get_all(filters={"user_id": "shared-user"})["results"]] == ["alpha's secret plan"]
    assert [m["memory"] for m in b.search("secret plan", filters={"user_id": "shared-user"})["results"]] == [
        "beta's own note"]
    for call in (lambda: b.get(secret["id"]), lambda: b.history(secret["id"]), lambda: b.delete(secret["id"]),
                 lambda: b.update(secret["id"], text="hijacked"), lambda: b.feedback(secret["id"], "NEGATIVE"),
                 lambda: b.batch_delete([{"memory_id": secret["id"]}])):
        with pytest.raises(MemoryNotFoundError):  # 404 like an id that never existed
            call()
    b.delete_all(user_id="shared-user")
    assert a.get(secret["id"])["memory"] == "alpha's secret plan"
    # another project's settings are not even visible
    assert b.client.get("/api/v1/orgs/organizations/org1/projects/alpha/").status_code == 404


def test_bad_and_missing_keys_are_refused(live):
    with pytest.raises(ValueError, match="Invalid API key"):
        MemoryClient(api_key="m0-0000000000000000.not-a-real-secret-at-all", host=live.url)
    assert httpx.get(live.url + "/v1/ping/").json() == {"detail": "Authentication credentials were not provided."}
    revoked = live.key("acme", "web")
    client = MemoryClient(api_key=revoked, host=live.url)
    live.app.state.tenancy.keys.revoke(revoked)
    with pytest.raises(AuthenticationError):
        client.get_all(filters={"user_id": "alice"})


def test_malformed_and_invalid_input_get_4xx(client, live):
    http = client.client
    r = http.post("/v3/memories/add/", content=b'{"messages": [', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = http.post("/v3/memories/add/", json={"messages": [{"role": "robot", "content": "x"}], "user_id": "u"})
    assert r.status_code == 422 and "messages.0.role" in r.json()["detail"]
    r = http.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400 and "user_id" in r.json()["detail"]
    r = http.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": "x"}], "user_id": "u",
                                             "custom_instructions": "be terse"})
    assert r.status_code == 400 and "project.update" in r.json()["detail"]
    r = http.post("/v3/memories/search/", json={"query": "x", "filters": {"user_id": "u"}, "top_k": 0})
    assert r.status_code == 422
    r = http.post("/v3/memories/search/", json={"query": "x", "filters": {"user_id": {"bogus_op": 1}}})
    assert r.status_code == 400
    r = http.post("/v3/memories/", json={"filters": {}})
    assert r.status_code == 400 and "user_id" in r.json()["detail"]
    r = http.post("/v3/memories/", json={"filters": {"user_id": "u"}, "surprise": 1})
    assert r.status_code == 422 and "surprise" in r.json()["detail"]
    r = http.get("/v1/memories/not a valid id/")
    assert r.status_code == 422
    big = {"messages": [{"role": "user", "content": "x" * 60_000}] * 20, "user_id": "u"}
    r = http.post("/v3/memories/add/", json=big)
    assert r.status_code == 413


def test_add_timestamp_dates_the_memories_and_update_refuses_one(client):
    # mem0's platform: timestamp (Unix seconds) is when the memory was created, not the call's time
    added = client.add([{"role": "user", "content": "Went camping at the lake", "name": "Mel"},
                        {"role": "assistant", "content": "Sounds lovely"}],
                       user_id="dated", infer=False, timestamp=1700000000)["results"]
    assert len(added) == 2
    got = client.get(added[0]["id"])
    assert got["created_at"].startswith("2023-11-14T22:13:20")
    hits = client.search("What did Mel do in November 2023?", filters={"user_id": "dated"}, top_k=1)["results"]
    assert hits[0]["id"] == added[0]["id"]
    with pytest.raises(ValidationError, match="timestamp"):  # an update cannot move a memory in time
        client.update(added[0]["id"], text="Went camping by the river", timestamp=1600000000)
    assert client.get(added[0]["id"])["memory"] == "Went camping at the lake"


def test_project_settings_persist_and_switch_the_response_format(live):
    client = MemoryClient(api_key=live.key("acme", "legacy"), host=live.url)
    assert client.project.get()["version"] == "v1.1"
    client.project.update(custom_instructions="Only keep food preferences.",
                          custom_categories=[{"food": "what the user eats"}])
    got = client.project.get(fields=["custom_instructions", "custom_categories"])
    assert got == {"custom_instructions": "Only keep food preferences.",
                   "custom_categories": [{"food": "what the user eats"}]}
    # mem0ai 2.2's project.update() no longer takes version/enable_graph/retrieval_criteria; the
    # platform endpoint still does, so they go through the client's own authenticated session
    path = f"/api/v1/orgs/organizations/{client.org_id}/projects/{client.project_id}/"
    r = client.client.patch(path, json={"version": "v1.0", "enable_graph": True,
                                        "retrieval_criteria": [{"type": "vector", "threshold": 0.99}]})
    assert r.status_code == 200, r.text
    added = client.add("plain legacy note", user_id="leg", infer=False)
    assert isinstance(added, list) and added[0]["memory"] == "plain legacy note"  # v1.0: a bare list
    assert isinstance(client.get_all(filters={"user_id": "leg"}), list)
    assert client.search("completely different words", filters={"user_id": "leg"}) == []  # threshold 0.99
    r = client.client.patch(path, json={"version": "v1.1", "retrieval_criteria": []})
    assert r.status_code == 200
    out = client.search("plain legacy note", filters={"user_id": "leg"})
    assert out["results"][0]["memory"] == "plain legacy note" and out["relations"] == []  # graph on
    r = client.client.patch(path, json={"version": "v2"})
    assert r.status_code == 422


def test_async_client(live):
    key = live.key("acme", "async")

    async def run():
        client = AsyncMemoryClient(api_key=key, host=live.url)
        added = await client.add("async memory", user_id="eve", infer=False)
        mid = added["results"][0]["id"]
        got = await asyncio.gather(client.get(mid), client.get_all(filters={"user_id": "eve"}),
                                   client.search("async", filters={"user_id": "eve"}))
        assert got[0]["memory"] == "async memory" and got[1]["count"] == 1 and got[2]["results"][0]["id"] == mid
        await client.update(mid, text="async memory, edited")
        assert [h["event"] for h in await client.history(mid)] == ["ADD", "UPDATE"]
        await client.delete(mid)
        with pytest.raises(MemoryNotFoundError):
            await client.get(mid)
        assert (await client.project.get())["project_id"] == "async"
        await client.async_client.aclose()

    asyncio.run(run())


def test_unscoped_export_and_summary_cover_the_whole_project(live):
    client = MemoryClient(api_key=live.key("acme", "whole"), host=live.url)
    client.add("user memory", user_id="u1", infer=False)
    client.add("agent memory", agent_id="a1", infer=False)
    client.add("both", user_id="u2", agent_id="a1", infer=False)
    data = client.get_memory_export(memory_export_id=client.create_memory_export(
        {"memories": {"fields": ["content", "user_id", "agent_id"]}, "agents": {"fields": ["agent_id"]}})["id"])
    assert data["memories"] == [{"content": "user memory", "user_id": "u1", "agent_id": None},
                                {"content": "agent memory", "user_id": None, "agent_id": "a1"},
                                {"content": "both", "user_id": "u2", "agent_id": "a1"}]
    assert data["agents"] == [{"agent_id": "a1"}]
    summary = client.get_summary()
    assert (summary["total_memories"], summary["total_users"], summary["total_agents"]) == (3, 2, 1)
