"""Small shared data for tests/compare (a unique module name for importlib mode)."""

from __future__ import annotations

HASH_CONFIG = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}

FACTS = [
    "Alice lives in Berlin.",
    "Alice works as a nurse at the city hospital.",
    "Alice has a dog named Rex.",
    "Alice loves sushi and ramen.",
    "Alice is allergic to peanuts.",
    "Bob lives in Lisbon.",
    "Bob prefers tea over coffee.",
]


def records() -> list[dict]:
    """Records with fixed ids so both sides of a comparison share them."""
    out = []
    for i, text in enumerate(FACTS):
        user = "alice" if text.startswith("Alice") else "bob"
        out.append({"id": f"00000000-0000-4000-8000-{i:012d}", "memory": text, "user_id": user})
    return out


QUERIES = [
    {"query_id": "home", "query": "Where does Alice live?", "user_id": "alice", "reference": "Berlin"},
    {"query_id": "pet", "query": "What pet does she have?", "user_id": "alice", "reference": "a dog named Rex"},
    {"query_id": "job", "query": "What is her job?", "user_id": "alice", "reference": "nurse"},
    {"query_id": "drink", "query": "What does Bob like to drink?", "user_id": "bob", "reference": "tea"},
]
