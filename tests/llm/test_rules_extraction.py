"""The rules provider's extractor: sentences -> third-person facts (deterministic, offline)."""

from __future__ import annotations

import pytest

from memlab.llms.rules import RulesLLM
from memlab.llms.rules_text import shape, split_sentences, to_fact


@pytest.mark.parametrize("sentence, fact", [
    ("I love sushi.", "Loves sushi"),
    ("I really love sushi!", "Loves sushi"),
    ("I live in Paris with my husband.", "Lives in Paris with their husband"),
    ("I'm a vegetarian", "Is a vegetarian"),
    ("I'm 34 years old.", "Is 34 years old"),
    ("My name is Alice.", "Name is Alice"),
    ("My favourite colour is blue", "Favourite colour is blue"),
    ("I usually run in the morning.", "Usually runs in the morning"),
    ("I don't like sushi anymore.", "Does not like sushi anymore"),
    ("I no longer eat meat.", "No longer eats meat"),
    ("I've been learning Spanish for two years.", "Has been learning Spanish for two years"),
    ("I'd like to visit Japan next spring.", "Would like to visit Japan next spring"),
    ("I moved to Berlin last month.", "Moved to Berlin last month"),
    ("I study chemistry", "Studies chemistry"),
    ("I watch a lot of documentaries", "Watches a lot of documentaries"),
    ("By the way, I have two cats.", "Has two cats"),
    ("I can't stand cilantro", "Cannot stand cilantro"),
    ("I need coffee every morning.", "Needs coffee every morning"),   # present tense ending in -ed
    ("I feed my cat twice a day.", "Feeds their cat twice a day"),
    ("I agreed to host the party.", "Agreed to host the party"),
    ("I\u2019m allergic to peanuts", "Is allergic to peanuts"),
    ("Hi, I'm Alice", None),
    ("I'm Alice", "Name is Alice"),
    ("Also, I'm allergic to peanuts, remember?", "Is allergic to peanuts"),
    ("I'm French.", "Is French"),
    ("I'm Japanese", "Is Japanese"),
])
def test_first_person_statements_become_third_person_facts(sentence, fact):
    if fact is None:  # a greeting glued to an introduction is split first
        assert [to_fact(s)[0] for s in split_sentences(sentence)] == [None, "Name is Alice"]
        return
    assert to_fact(sentence) == (fact, "first-person statement")


@pytest.mark.parametrize("sentence, reason", [
    ("What's the weather like today?", "question"),
    ("Do you know any good restaurants", "question"),
    ("Hi!", "chit-chat"),
    ("Thanks so much", "chit-chat"),
    ("I'm fine, thanks", "chit-chat"),
    ("Sounds good", "chit-chat"),
    ("Can you recommend a book", "question"),
    ("Please book a table for two", "request to the assistant"),
    ("I was wondering about the opening hours", "request to the assistant"),
    ("The weather is lovely today.", "not a first-person statement"),
    ("Hello there.", "not a first-person statement"),
    ("Alice works at Acme.", "third-person statement about Alice: the rules provider stores first-person statements only"),
    ("Tom's best friend is Raj.", "third-person statement about Tom: the rules provider stores first-person statements only"),
    ("She lives in Oslo.", "third-person statement about she: the rules provider stores first-person statements only"),
])
def test_questions_requests_and_chit_chat_are_skipped(sentence, reason):
    assert to_fact(sentence) == (None, reason)


def test_sentences_and_first_person_clauses_are_split():
    parts = split_sentences("Hi! I'm Alice and I love sushi. My sister lives in Rome; what about you?\nI code.")
    assert parts == ["Hi!", "I'm Alice", "I love sushi.", "My sister lives in Rome", "what about you?", "I code."]
    # "and" inside an object is not a clause boundary
    assert split_sentences("I like salt and pepper") == ["I like salt and pepper"]
    # run-on text without punctuation is split before a capitalised I / My, except after clause openers
    assert split_sentences("I'm 30 I live in Paris My dog is Rex") == ["I'm 30", "I live in Paris", "My dog is Rex"]
    assert split_sentences("I think I love it when I swim") == ["I think I love it when I swim"]


def test_only_user_messages_are_mined_and_every_skip_is_explained():
    reply = RulesLLM().extract_facts([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello! I love hiking. Any trail tips?"},
        {"role": "assistant", "content": "I love hiking too! Try the Alps."},
        {"role": "user", "content": "Thanks. I love hiking, and I'm training for a marathon."},
    ])
    assert reply.payload["facts"] == ["Loves hiking", "Is training for a marathon"]
    reasons = [(s["sentence"], s["reason"]) for s in reply.payload["skipped"]]
    assert ("Hello!", "chit-chat") in reasons
    assert ("Any trail tips?", "question") in reasons
    assert (None, "assistant message") in reasons
    assert ("I love hiking,", "repeats a fact of this conversation") in reasons or \
        ("I love hiking", "repeats a fact of this conversation") in reasons


def test_fact_shapes_capture_polarity_slots_and_objects():
    s = shape("Does not like sushi anymore")
    assert (s.negative, s.retraction, s.family, s.obj) == (True, True, frozenset({"like"}), frozenset({"sushi"}))
    assert shape("Hates running").negative and shape("Hates running").family == frozenset({"like"})
    assert (shape("Moved to Berlin last month").slot, shape("Moved to Berlin last month").value) == ("residence", "berlin")
    assert shape("Lives in Paris with their husband").value == "paris"
    assert (shape("Works at Google as a software engineer").slot, shape("Started working at Meta").slot) == \
        ("employer", "employer")
    assert shape("Favourite colour is blue").slot == shape("Favorite color is green").slot == "key:favorite color"
    assert shape("Sister lives in Rome").slot == "sister/residence"
    assert shape("Is 34 years old").value == "34"


def test_nothing_extracted_from_statements_about_others_is_reported(caplog):
    """The rules LLM stores first-person statements only: when a message about someone else yields no
    memory, the result says so (and the pipeline logger warns) instead of a silent {'results': []}."""
    from memlab import Memory

    with Memory({"embedder": {"provider": "hash"}}) as m:
        with caplog.at_level("WARNING", logger="memlab.pipeline"):
            out = m.add("Alice works at Acme. Alice lives in Berlin.", user_id="alice")
        assert out["results"] == []
        [problem] = out["problems"]
        assert "no memory was stored" in problem and "'Alice works at Acme.'" in problem and "infer=False" in problem
        assert "no memory was stored" in caplog.text
        # chit-chat and questions extract nothing too, and that is no problem worth a warning
        assert m.add("Hi there! How are you?", user_id="alice") == {"results": []}
        # one first-person fact among them: stored, and nothing to warn about
        mixed = m.add("Alice works at Acme. I live in Berlin.", user_id="alice")
        assert [r["memory"] for r in mixed["results"]] == ["Lives in Berlin"] and "problems" not in mixed
