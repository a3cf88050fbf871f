"""The pipeline against arbitrary decisions from a custom LLM object (no crash, no partial write)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab import Memory
from memlab.errors import ProviderError
from memlab.llms import LLMReply
from tests.llm.helpers_llm import add_and_check, all_rows

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 32}}}
SEED = ["Loves sushi", "Lives in Paris", "Has a cat"]


class ScriptedLLM:
    """Returns fixed payloads; ``during_decide`` runs while the 'model' is thinking."""

    name = "scripted"

    def __init__(self, facts, decision, during_decide=None):
        self.facts, self.decision, self.during_decide = facts, decision, during_decide

    def extract_facts(self, messages, **kw):
        return LLMReply(payload=self.facts)

    def decide_updates(self, memories, facts, **kw):
        if self.during_decide:
            self.during_decide()
        payload = self.decision(memories) if callable(self.decision) else self.decision
        return LLMReply(payload=payload)

    def summarize_procedure(self, messages, **kw):
        return LLMReply(payload="Task: x")


def seeded(llm) -> Memory:
    m = Memory(HASH, llm=llm)
    m.add_records([{"memory": t, "user_id": "u"} for t in SEED])
    return m


def test_a_memory_deleted_while_the_llm_decides_is_reported_not_resurrected():
    def decide(memories):
        temp = next(x["id"] for x in memories if x["text"] == "Lives in Paris")
        return {"memory": [{"id": temp, "text": "Lives in Rome", "event": "UPDATE"}]}

    llm = ScriptedLLM({"facts": ["Lives in Rome"]}, decide)
    m = seeded(llm)
    paris = next(i["id"] for i in m.get_all(user_id="u")["results"] if i["memory"] == "Lives in Paris")
    llm.during_decide = lambda: m.delete(paris)
    r = m.add("whatever", user_id="u", return_trace=True)
    assert r["results"] == []
    assert any("changed while the LLM was deciding" in p for p in r["problems"])
    assert m.get(paris) is None


def test_conflicting_decisions_for_one_memory_keep_the_first_change():
    def decide(memories):
        temp = next(x["id"] for x in memories if x["text"] == "Lives in Paris")
        return {"memory": [
            {"id": temp, "text": "Lives in Paris", "event": "NONE"},
            {"id": temp, "text": "Lives in Rome", "event": "UPDATE"},
            {"id": temp, "event": "DELETE"},
            {"id": temp, "text": "Lives in Rome", "event": "ADD"},
            {"id": temp, "text": "Lives in Rome", "event": "ADD"},
        ]}

    llm = ScriptedLLM({"facts": ["Lives in Rome"]}, decide)
    with seeded(llm) as m:
        r = add_and_check(m, "x", user_id="u")
        assert [(i["event"], i["memory"]) for i in r["results"]] == [("UPDATE", "Lives in Rome"), ("ADD", "Lives in Rome")]
        assert any("second decision (DELETE)" in p for p in r["problems"])
        assert any("ADD repeats" in p for p in r["problems"])


def test_update_to_the_same_text_is_none_and_writes_no_history():
    llm = ScriptedLLM({"facts": ["Loves sushi"]}, lambda mems: {"memory": [
        {"id": next(x["id"] for x in mems if x["text"] == "Loves sushi"), "text": "Loves sushi", "event": "UPDATE"}]})
    with seeded(llm) as m:
        r = add_and_check(m, "x", user_id="u")
        assert [(i["event"], i["memory"]) for i in r["results"]] == [("NONE", "Loves sushi")]


ids = st.one_of(st.none(), st.sampled_from(["0", "1", "2", "3", "99", "-1", "abc"]), st.integers(-2, 5), st.booleans())
events = st.one_of(st.none(), st.sampled_from(["ADD", "UPDATE", "DELETE", "NONE", "noop", "remove", "bogus"]), st.integers())
texts = st.one_of(st.none(), st.sampled_from(["Loves sushi", "Lives in Rome", "Has a dog", ""]), st.integers())
junk_entry = st.fixed_dictionaries({}, optional={"id": ids, "event": events, "text": texts, "old_memory": texts})
valid_entry = st.fixed_dictionaries({
    "id": st.sampled_from(["0", "1", "2"]), "event": st.sampled_from(["ADD", "UPDATE", "DELETE", "NONE"]),
    "text": st.sampled_from(["Lives in Rome", "Has a dog", "Loves sushi", "Has a cat"])})
decision = st.one_of(
    st.fixed_dictionaries({"memory": st.lists(st.one_of(valid_entry, valid_entry, junk_entry, st.integers()),
                                              max_size=6)}),
    st.lists(st.one_of(valid_entry, junk_entry), max_size=4),
    st.text(max_size=30),
    st.just({"memory": None}),
    st.just({"other": 1}),
)
facts = st.one_of(st.just({"facts": ["Lives in Rome", "Has a dog"]}), st.just({"facts": []}),
                  st.lists(st.one_of(st.text(max_size=12), st.integers(), st.none()), max_size=3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=facts, decision=decision)
def test_any_reply_either_applies_consistently_or_raises_provider_error_with_no_write(facts, decision):
    m = seeded(ScriptedLLM(facts, decision))
    before = [(r["id"], r["memory"], r["state"]) for r in all_rows(m)]
    try:
        r = add_and_check(m, "x", user_id="u")
    except ProviderError as exc:
        assert "could not be read" in str(exc)
        assert [(r["id"], r["memory"], r["state"]) for r in all_rows(m)] == before
        m.close()
        return
    changes = [i for i in r["results"] if i["event"] != "NONE"]
    written = sum(len(m.history(row["id"])) for row in all_rows(m))
    assert written == len(SEED) + len(changes)
    m.close()


class BarePayloadLLM:
    """A minimal custom LLM that returns bare payloads instead of LLMReply objects."""

    name = "bare"

    def extract_facts(self, messages, **kw):
        return '```json\n{"facts": ["Speaks Italian"]}\n```'

    def decide_updates(self, memories, facts, **kw):
        return {"memory": [{"text": f, "event": "ADD"} for f in facts]}

    def summarize_procedure(self, messages, **kw):
        return "Task: greet. Steps: 1. said hi. Outcome: done."


def test_custom_llm_objects_may_return_bare_payloads():
    with Memory(HASH, llm=BarePayloadLLM()) as m:
        r = add_and_check(m, "Ciao", user_id="u")
        assert [(i["event"], i["memory"]) for i in r["results"]] == [("ADD", "Speaks Italian")]
        assert r["trace"]["llm"] == "bare"
        p = m.add("hi", agent_id="a", memory_type="procedural_memory")
        assert p["results"][0]["memory"].startswith("Task: greet.")
