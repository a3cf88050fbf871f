"""Where the rules policy depends on meaning, the real bundled MiniLM embedder decides.

The same conversations under the lexical hash embedder show the difference: paraphrases
and conflicts with few shared words are only caught with semantic vectors.
"""

from __future__ import annotations

import pytest

from memlab import Memory
from memlab.embedders.hashing import HashEmbedder
from tests.llm.helpers_llm import active_texts, add_and_check, events

PROFILE = ("I love sushi. I have two cats. I play the violin. I'm training for a marathon. I work as a nurse. "
           "My favourite book is Dune. I'm allergic to peanuts. I speak French and Spanish. I drive a red Toyota. "
           "I live in Paris. I go climbing on Sundays. My sister is a doctor. I collect vinyl records. "
           "I enjoy cooking Thai food.")


@pytest.fixture(params=["minilm", "hash"])
def m(request, minilm):
    embedder = minilm if request.param == "minilm" else HashEmbedder(embedding_dims=384)
    mem = Memory({"embedder": {"provider": "hash"}}, embedder=embedder)
    mem.kind = request.param
    yield mem
    mem.close()


def test_paraphrased_repeats_are_none_only_with_semantic_vectors(m):
    add_and_check(m, "I play tennis every weekend. I have a dog named Rex.", user_id="u")
    r = add_and_check(m, "I play tennis on weekends. I have a dog called Rex.", user_id="u")
    if m.kind == "minilm":  # cosine 0.94 / 0.98 >= duplicate_threshold 0.9
        assert events(r) == [("NONE", "Plays tennis every weekend"), ("NONE", "Has a dog named Rex")]
        assert "near-duplicate" in r["trace"]["decision"]["parsed"][0]["reason"]
    else:
        assert [e[0] for e in events(r)] == ["ADD", "ADD"]


def test_conflict_with_few_shared_words_needs_semantic_vectors(m):
    add_and_check(m, "I love watching scary horror films.", user_id="u")
    r = add_and_check(m, "I don't like horror movies.", user_id="u")
    if m.kind == "minilm":  # one shared object word + cosine 0.71 >= same_subject_threshold 0.5
        assert events(r) == [("UPDATE", "Does not like horror movies", "Loves watching scary horror films")]
    else:
        assert events(r) == [("ADD", "Does not like horror movies")]


def test_a_move_finds_the_old_home_among_many_memories(m):
    first = add_and_check(m, PROFILE, user_id="zoe")
    assert len(first["results"]) == 14
    r = add_and_check(m, "I moved to Berlin last month.", user_id="zoe")
    if m.kind == "minilm":  # "Lives in Paris" is among the 5 nearest memories, so the residence slot changes
        assert events(r) == [("UPDATE", "Moved to Berlin last month", "Lives in Paris")]
        assert "Lives in Paris" not in active_texts(m, user_id="zoe")
    else:  # lexically unrelated: the old home is not retrieved, so the rules cannot see the conflict
        assert events(r) == [("ADD", "Moved to Berlin last month")]
    r = add_and_check(m, "I relocated to Munich for work.", user_id="zoe")
    assert events(r)[0][0] == "UPDATE" and events(r)[0][1] == "Relocated to Munich for work"


def test_semantic_negation_does_not_fire_on_unrelated_preferences(m):
    add_and_check(m, "I love Italian food. I love sushi.", user_id="u")
    r = add_and_check(m, "I don't like pizza.", user_id="u")
    assert events(r) == [("ADD", "Does not like pizza")]
    r = add_and_check(m, "I don't like sushi anymore.", user_id="u")
    assert events(r) == [("DELETE", "Loves sushi")]
    assert active_texts(m, user_id="u") == ["Loves Italian food", "Does not like pizza"]
