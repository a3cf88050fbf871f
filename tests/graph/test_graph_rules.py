"""The rules provider's graph extraction and entity-name normalisation (pure functions)."""

from __future__ import annotations

import pytest

from memlab.graph.normalize import clean_triples, entity_name, relationship_name
from memlab.graph.rules import RulesGraphExtractor, read_statements


def triples(text: str, me: str = "u1") -> list[tuple]:
    return [(s.source, s.relationship, s.destination, s.negated) for s in read_statements(text, me)]


@pytest.mark.parametrize("raw, name", [
    ("Alice", "alice"), ("alice", "alice"), ("Alice's", "alice"), ("Alice’s", "alice"), ("  ALICE ", "alice"),
    ("New York", "new_york"), ("the Louvre", "louvre"), ("Acme Corp.", "acme_corp"), ("", None), ("'s", None),
    (None, None), (5, None),
])
def test_entity_names_are_normalised(raw, name):
    assert entity_name(raw) == name


def test_relationship_names_follow_mem0():
    assert relationship_name("Lives In") == "lives_in"
    assert relationship_name("works-at!") == "works_at"
    assert relationship_name("  ") is None


@pytest.mark.parametrize("text, expected", [
    ("Alice lives in Berlin.", [("alice", "lives_in", "berlin", False)]),
    ("Alice moved to Munich last year.", [("alice", "lives_in", "munich", False)]),
    ("I work at Acme Corp and I love hiking.", [("u1", "works_at", "acme_corp", False), ("u1", "loves", "hiking", False)]),
    ("Bob works as a nurse.", [("bob", "works_as", "nurse", False)]),
    ("Alice was born in Paris in 1990.", [("alice", "born_in", "paris", False)]),
    ("I'm from Sweden.", [("u1", "from", "sweden", False)]),
    ("Melanie: I'm studying at Stanford now.", [("melanie", "studies_at", "stanford", False)]),
    ("Alice's sister is Anna.", [("alice", "has_sister", "anna", False)]),
    ("My brother is Tom.", [("u1", "has_brother", "tom", False)]),
    ("Anna is Bob's best friend.", [("bob", "has_best_friend", "anna", False)]),
    ("Bob hates sushi.", [("bob", "hates", "sushi", False)]),
    ("Bob doesn't like coffee anymore.", [("bob", "likes", "coffee", True)]),
    ("Alice no longer works at Acme.", [("alice", "works_at", "acme", True)]),
    ("Carol is married to Dave.", [("carol", "married_to", "dave", False)]),
    ("Yesterday I moved to New York City with my wife.", [("u1", "lives_in", "new_york_city", False)]),
    ("I've met amazing young folks.", [("u1", "met", "amazing_young_folks", False)]),
    ("Melanie loves to paint.", [("melanie", "loves", "paint", False)]),
    ("Alice has moved to Rome.", [("alice", "lives_in", "rome", False)]),
])
def test_declarative_sentences(text, expected):
    assert triples(text) == expected


@pytest.mark.parametrize("text", [
    "What does Alice like?",          # questions
    "Where does Bob live?",
    "She lives in Rome.",              # pronoun subjects other than I
    "It loves attention.",
    "I like it.",                      # pronoun objects
    "Hello there!",
    "The weather is nice today.",
    "Sounds like the event was amazing!",  # base verb after a capitalised word: no name
    "Looks like you had a great day.",
    "It's like a reminder of my roots.",
    "I'd love to see another painting of yours.",  # hypothetical
    "I know I'll be ok.",                  # a clause, not a thing
])
def test_what_rules_do_not_read(text):
    assert triples(text) == []


def test_speaker_prefix_applies_to_the_whole_line():
    assert triples("Caroline: I went to a support group. I love painting!") == [
        ("caroline", "loves", "painting", False)]


def test_deletions_one_value_preferences_and_negations():
    ex = RulesGraphExtractor()
    existing = [{"source": "alice", "relationship": "lives_in", "destination": "berlin"},
                {"source": "alice", "relationship": "likes", "destination": "tea"},
                {"source": "alice", "relationship": "likes", "destination": "jazz"},
                {"source": "alice", "relationship": "works_at", "destination": "acme"},
                {"source": "bob", "relationship": "lives_in", "destination": "berlin"}]
    assert ex.deletions(existing, "Alice moved to Munich.", None, []) == [existing[0]]
    assert ex.deletions(existing, "Alice hates tea.", None, []) == [existing[1]]
    assert ex.deletions(existing, "Alice also likes pop.", None, []) == []  # many values: nothing goes
    assert ex.deletions(existing, "Alice no longer works at Acme.", None, []) == [existing[3]]
    assert ex.deletions(existing, "Alice lives in Berlin.", None, []) == []  # same value: kept


def test_query_entities_include_self_and_names():
    ents = RulesGraphExtractor().entities("What does Alice's sister do in Berlin? Where do I live?", "u1")
    assert set(ents) == {"alice", "berlin", "u1"}


def test_clean_triples_skips_malformed_and_maps_self():
    items = [{"source": "I", "relationship": "Lives In", "destination": "Berlin"}, {"source": "x"}, "junk",
             {"source": "A", "relationship": "r", "destination": "a"},  # self-loop after normalising
             {"source": "me", "relationship": "lives in", "destination": "berlin"}]  # duplicate
    assert clean_triples(items, self_name="alice") == [
        {"source": "alice", "relationship": "lives_in", "destination": "berlin"}]
    assert clean_triples("not a list") == []
