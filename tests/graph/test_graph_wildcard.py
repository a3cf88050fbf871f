"""The ``"*"`` wildcard in graph reads: ``{"user_id": "*"}`` is "any user", never "with or without a user".

Relations written without that scope key (an agent-only memory) must stay out, exactly as the
memories themselves do."""

from __future__ import annotations

import pytest

from memlab import Memory

pytest.importorskip("ladybug", reason="graph tests need memlab[graph]")


def _triples(rels) -> set:
    return {(r["source"], r["relationship"], r.get("destination", r.get("target"))) for r in rels}


@pytest.fixture(scope="module")
def gm():
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 64}},
                "graph_store": {"provider": "kuzu", "config": {}}})
    m.add("Alice lives in Berlin.", user_id="u1", infer=False)
    m.add("Alice lives in Rome.", agent_id="bot", infer=False)           # no user
    m.add("Alice likes chess.", user_id="u2", agent_id="coach", infer=False)
    m.add("Alice visits Oslo.", run_id="r1", infer=False)                 # neither user nor agent
    yield m
    m.close()


@pytest.mark.parametrize("key,want", [
    ("user_id", {("alice", "lives_in", "berlin"), ("alice", "likes", "chess")}),
    ("agent_id", {("alice", "lives_in", "rome"), ("alice", "likes", "chess")}),
    ("run_id", {("alice", "visited", "oslo")}),
])
def test_wildcard_matches_only_nodes_that_have_the_key(gm, key, want):
    got = gm.get_all(filters={key: "*"})
    assert _triples(got["relations"]) == want
    found = gm.search("Where does Alice live and what does she like?", filters={key: "*"})
    assert _triples(found["relations"]) <= want and _triples(found["relations"])
    # the memories agree with the graph: the same scopes
    assert {r.get(key) is not None for r in got["results"]} == {True}


def test_wildcard_combined_with_an_exact_key(gm):
    got = gm.get_all(filters={"user_id": "*", "agent_id": "coach"})
    assert _triples(got["relations"]) == {("alice", "likes", "chess")}
    assert _triples(gm.get_all(filters={"user_id": "*", "agent_id": "bot"})["relations"]) == set()
