"""add(infer=True) with the offline rules provider: realistic conversations, hash embedder."""

from __future__ import annotations

import json

import pytest

from memlab import Memory, MemoryType
from memlab.errors import ProviderError, ValidationError
from tests.llm.helpers_llm import active_texts, add_and_check, events


@pytest.fixture
def m(hash_config):
    mem = Memory(hash_config)
    yield mem
    mem.close()


def test_alice_moves_and_changes_her_mind_about_sushi(m):
    first = add_and_check(m, [
        {"role": "user", "content": "Hi! I'm Alice. I love sushi and I live in Paris with my husband."},
        {"role": "assistant", "content": "Nice to meet you, Alice! Paris has great sushi places."},
        {"role": "user", "content": "I work at Google as a software engineer. Can you suggest a weekend trip?"},
    ], user_id="alice")
    assert events(first) == [("ADD", "Name is Alice"), ("ADD", "Loves sushi"),
                             ("ADD", "Lives in Paris with their husband"),
                             ("ADD", "Works at Google as a software engineer")]
    assert all(i["user_id"] == "alice" for i in first["results"])

    moved = add_and_check(m, "Big news: I moved to Berlin last month.", user_id="alice")
    assert events(moved) == [("UPDATE", "Moved to Berlin last month", "Lives in Paris with their husband")]

    again = add_and_check(m, [{"role": "user", "content": "I really love sushi!"}], user_id="alice")
    assert events(again) == [("NONE", "Loves sushi")]

    over = add_and_check(m, "Honestly, I don't like sushi anymore.", user_id="alice")
    assert events(over) == [("DELETE", "Loves sushi")]
    assert m.get(over["results"][0]["id"]) is None

    job = add_and_check(m, "I started working at Meta last week.", user_id="alice")
    assert events(job) == [("UPDATE", "Started working at Meta last week", "Works at Google as a software engineer")]
    assert active_texts(m, user_id="alice") == [
        "Name is Alice", "Moved to Berlin last month", "Started working at Meta last week"]


def test_bob_fitness_food_and_retractions(m):
    add_and_check(m, [
        {"role": "user", "content": "Hey there. I'm Bob, I run 5k every morning. My favourite food is pasta."},
        {"role": "assistant", "content": "Great habit, Bob!"},
        {"role": "user", "content": "I eat meat almost every day. I have a dog named Rex."},
    ], user_id="bob")
    assert active_texts(m, user_id="bob") == ["Name is Bob", "Runs 5k every morning",
                                              "Favourite food is pasta", "Eats meat almost every day",
                                              "Has a dog named Rex"]
    r = add_and_check(m, "My favorite food is ramen now.", user_id="bob")
    assert events(r) == [("UPDATE", "Favorite food is ramen now", "Favourite food is pasta")]
    r = add_and_check(m, "I don't run anymore because of my knee.", user_id="bob")
    assert events(r) == [("DELETE", "Runs 5k every morning")]
    r = add_and_check(m, "I don't eat meat.", user_id="bob")  # a contradiction, not a retraction
    assert events(r) == [("UPDATE", "Does not eat meat", "Eats meat almost every day")]
    r = add_and_check(m, "I have a dog named Rex!", user_id="bob")
    assert events(r) == [("NONE", "Has a dog named Rex")]


def test_carol_age_and_family_slots(m):
    add_and_check(m, "My name is Carol. I'm 29 years old. My sister lives in Rome.", user_id="carol")
    r = add_and_check(m, "I just turned 30! My sister lives in Milan now.", user_id="carol")
    assert events(r) == [("UPDATE", "Turned 30", "Is 29 years old"),
                         ("UPDATE", "Sister lives in Milan now", "Sister lives in Rome")]
    r = add_and_check(m, "My name is Carol.", user_id="carol")
    assert events(r) == [("NONE", "Name is Carol")]
    add_and_check(m, "I moved to Oslo.", user_id="carol")
    r = add_and_check(m, "I no longer live in Oslo.", user_id="carol")  # different verb, same residence slot
    assert events(r) == [("DELETE", "Moved to Oslo")]


def test_a_correction_inside_one_conversation_stores_only_the_latest_value(m):
    r = add_and_check(m, "I live in Paris. Actually, I just moved to Lyon.", user_id="dan")
    assert events(r) == [("ADD", "Moved to Lyon")]
    trace = r["trace"]
    assert trace["facts"] == ["Lives in Paris", "Moved to Lyon"]
    assert trace["decision"]["parsed"][0]["fact"] == ["Lives in Paris", "Moved to Lyon"]
    r = add_and_check(m, "I love jazz. Well, I don't love jazz anymore.", user_id="dan")
    assert events(r) == []
    assert "not stored" in r["trace"]["decision"]["parsed"][0]["reason"]
    assert active_texts(m, user_id="dan") == ["Moved to Lyon"]


def test_chit_chat_and_questions_store_nothing(m):
    r = add_and_check(m, [
        {"role": "user", "content": "Hello! How are you?"},
        {"role": "assistant", "content": "I'm great, I love helping people. How can I help?"},
        {"role": "user", "content": "What's the capital of Peru? Thanks!"},
    ], user_id="erin")
    assert r["results"] == [] and r["trace"]["facts"] == []
    assert m.get_all(user_id="erin")["results"] == []


def test_scopes_are_reconciled_separately(m):
    add_and_check(m, "I love sushi.", user_id="alice")
    r = add_and_check(m, "I love sushi.", user_id="bob")
    assert events(r) == [("ADD", "Loves sushi")]
    r = add_and_check(m, "I love sushi.", user_id="alice", agent_id="travel-bot")
    assert events(r) == [("ADD", "Loves sushi")], "alice's unscoped memory is outside the agent's scope"
    r = add_and_check(m, "I love sushi.", user_id="alice")
    assert events(r)[0][0] == "NONE"


def test_trace_shows_payloads_temp_ids_and_timings(m):
    add_and_check(m, "I live in Paris. I love cheese.", user_id="alice", metadata={"source": "chat"})
    r = add_and_check(m, "I moved to Berlin. Is it cold there?", user_id="alice")
    t = r["trace"]
    assert t["llm"] == "rules" and t["problems"] == []
    assert t["extraction"]["raw"]["facts"] == ["Moved to Berlin"]
    assert {"sentence": "Is it cold there?", "reason": "question", "message": 0} in t["extraction"]["raw"]["skipped"]
    shown = t["memories_shown"]
    assert [s["id"] for s in shown] == [str(i) for i in range(len(shown))]  # temporary ids, never UUIDs
    assert set(t["id_map"].values()) <= {i["id"] for i in m.get_all(user_id="alice")["results"]} | \
        {r["results"][0]["id"]}
    assert t["retrieval"][0]["fact"] == "Moved to Berlin" and t["retrieval"][0]["neighbours"]
    assert t["decision"]["parsed"][0]["event"] == "UPDATE" and "residence" in t["decision"]["parsed"][0]["reason"]
    assert t["events"][0]["previous_memory"] == "Lives in Paris" and t["events"][0]["rule"] == "slot-change"
    assert set(t["timings"]) >= {"extract", "embed", "retrieve", "decide", "apply", "total"}
    updated = r["results"][0]
    assert updated["metadata"] == {"source": "chat"}  # kept from the ADD
    json.dumps(t)  # plain data: notebooks can save or display it


def test_metadata_memory_type_and_v10_lists(hash_config):
    with Memory(hash_config) as m:
        r = m.add("I love tea.", user_id="u", metadata={"topic": "drinks"}, memory_type="episodic_memory")
        item = r["results"][0]
        assert item["metadata"] == {"topic": "drinks", "memory_type": "episodic_memory"}
    with Memory({**hash_config, "version": "v1.0"}) as m:
        with pytest.warns(DeprecationWarning):
            out = m.add("I love tea.", user_id="u")
        assert isinstance(out, list) and out[0]["event"] == "ADD"


def test_custom_prompts_are_reported_as_ignored_by_rules(hash_config):
    with Memory({**hash_config, "custom_update_memory_prompt": "Decide."}) as m:
        r = m.add("I love tea.", user_id="u", prompt="Extract facts.", return_trace=True)
        assert r["trace"]["extraction"]["notes"] and r["trace"]["decision"]["notes"]
        assert events(r) == [("ADD", "Loves tea")]


class _Broken:
    name = "broken"

    def extract_facts(self, messages, **kw):
        from memlab.llms import LLMReply

        return LLMReply(payload={"facts": ["Loves tea"]})

    def decide_updates(self, memories, facts, **kw):
        raise RuntimeError("model crashed")

    def summarize_procedure(self, messages, **kw):
        raise RuntimeError("model crashed")


def test_a_failing_custom_llm_becomes_provider_error_and_writes_nothing(hash_config):
    with Memory(hash_config, llm=_Broken()) as m:
        with pytest.raises(ProviderError, match="broken.*update decision.*model crashed"):
            m.add("I love tea.", user_id="u")
        with pytest.raises(ProviderError, match="procedural summary"):
            m.add("Do it", agent_id="a", memory_type="procedural_memory")
        assert m.store.count() == 0


def test_procedural_memory_summarises_an_agent_run(m):
    run = [
        {"role": "system", "content": "You are a research agent."},
        {"role": "user", "content": "Find the population of Lyon and save it to notes.md"},
        {"role": "assistant", "content": "Searching the web for 'Lyon population 2024'."},
        {"role": "tool", "content": "Result: Lyon has 522,250 inhabitants (INSEE 2021)."},
        {"role": "assistant", "content": "Saved 'Lyon: 522,250 (INSEE 2021)' to notes.md. Done."},
    ]
    r = add_and_check(m, run, agent_id="researcher", user_id="alice",
                      memory_type=MemoryType.PROCEDURAL.value, metadata={"run": 7})
    assert len(r["results"]) == 1
    item = r["results"][0]
    assert item["event"] == "ADD" and item["agent_id"] == "researcher" and item["user_id"] == "alice"
    assert item["metadata"] == {"run": 7, "memory_type": "procedural_memory"}
    text = item["memory"]
    assert text.startswith("Task: Find the population of Lyon and save it to notes.md")
    assert "Tool result: Result: Lyon has 522,250 inhabitants" in text
    assert text.endswith("Outcome: Saved 'Lyon: 522,250 (INSEE 2021)' to notes.md. Done.")
    assert "research agent" not in text  # system prompt is not part of the run
    assert m.search("Lyon population", agent_id="researcher")["results"][0]["id"] == item["id"]


def test_procedural_memory_without_agent_id_fails_clearly(m):
    with pytest.raises(ValidationError, match="agent_id"):
        m.add([{"role": "user", "content": "do x"}], user_id="alice", memory_type="procedural_memory")
    assert m.store.count() == 0


def test_multi_session_travel_chat_with_named_speaker(m):
    s1 = add_and_check(m, [
        {"role": "user", "name": "frank", "content": "Hello! I'm planning a trip to Japan in April."},
        {"role": "assistant", "content": "Lovely! Do you have any dietary needs?"},
        {"role": "user", "name": "frank", "content": "Yes. I'm allergic to peanuts and I don't eat pork. "
                                                     "I prefer window seats."},
        {"role": "assistant", "content": "Noted. I'll look for window seats."},
    ], user_id="frank")
    assert events(s1) == [("ADD", "Is planning a trip to Japan in April"), ("ADD", "Is allergic to peanuts"),
                          ("ADD", "Does not eat pork"), ("ADD", "Prefers window seats")]
    assert {i["actor_id"] for i in s1["results"]} == {"frank"}
    s2 = add_and_check(m, [
        {"role": "user", "name": "frank", "content": "Quick update: I eat pork now, my doctor said it's fine."},
        {"role": "user", "name": "frank", "content": "Also, I'm allergic to peanuts, remember?"},
    ], user_id="frank")
    assert events(s2) == [("UPDATE", "Eats pork now, their doctor said it's fine", "Does not eat pork"),
                          ("NONE", "Is allergic to peanuts")]
    s3 = add_and_check(m, "I no longer prefer window seats. Can you book an aisle seat?", user_id="frank")
    assert events(s3) == [("DELETE", "Prefers window seats")]
    assert active_texts(m, user_id="frank") == [
        "Is planning a trip to Japan in April", "Is allergic to peanuts", "Eats pork now, their doctor said it's fine"]


SENTENCES = [
    "I love sushi.", "I live in Paris.", "I moved to Berlin.", "I have a dog named Rex.", "I work at Google.",
    "I don't like sushi anymore.", "My favourite colour is blue.", "My favorite color is red.",
    "I play tennis every weekend.", "I started working at Meta.", "I hate sushi.", "I no longer live in Berlin.",
    "I'm 30.", "I just turned 31.", "My name is Ann.", "I don't have a dog anymore.", "What?", "Thanks!",
    "I stopped playing tennis.", "I don't play tennis.", "My sister lives in Rome.", "My sister moved to Oslo.",
    "I can't stand sushi.", "I eat meat.", "I don't eat meat.",
]


def test_random_conversations_keep_store_and_history_consistent(hash_config):
    import random

    from tests.llm.helpers_llm import all_rows

    rng = random.Random(7)
    counts: dict[str, int] = {}
    with Memory(hash_config) as m:
        for i in range(120):
            text = " ".join(rng.sample(SENTENCES, rng.randint(1, 4)))
            r = add_and_check(m, text, user_id=f"u{i % 4}")
            assert "problems" not in r, r.get("problems")
            for item in r["results"]:
                counts[item["event"]] = counts.get(item["event"], 0) + 1
        assert set(counts) == {"ADD", "UPDATE", "DELETE", "NONE"}
        for row in all_rows(m):
            h = m.history(row["id"])
            assert h[0]["event"] == "ADD" and all(x["event"] in ("UPDATE", "DELETE") for x in h[1:])
            assert (h[-1]["event"] == "DELETE") == (row["state"] == "deleted")
            assert (h[-1]["new_memory"] or h[-1]["old_memory"]) == row["memory"]
        for u in range(4):  # an identical text is always the nearest memory, so it is never stored twice
            texts = [x["memory"] for x in m.get_all(user_id=f"u{u}")["results"]]
            assert len(texts) == len(set(texts))
