"""Tenant isolation: scope fields cannot be forged through metadata, memories without a scope
field never match a filter on it, and thousands of random scoped searches (numpy path and
FAISS-selector path) return zero cross-scope results and miss none of the scope's own."""

from __future__ import annotations

import random

import pytest

from memlab import Memory
from memlab.errors import ValidationError
from tests.reliability._rel_support import WORDS, hash_cfg


@pytest.fixture
def mem(engine_mem):
    """Every test here runs on both engines (FAISS + SQLite and PostgreSQL + pgvector)."""
    return engine_mem

SCOPE = ("user_id", "agent_id", "run_id")


@pytest.mark.parametrize("key", SCOPE)
def test_metadata_cannot_overwrite_scope(mem, key):
    mid = mem.add("alice's secret", user_id="alice", infer=False)["results"][0]["id"]
    with pytest.raises(ValidationError, match="reserved"):
        mem.add("forged", user_id="alice", infer=False, metadata={key: "bob"})
    with pytest.raises(ValidationError, match="reserved"):
        mem.update(mid, metadata={key: "bob"})
    with pytest.raises(ValidationError, match="reserved"):
        mem.add_records([{"memory": "forged", "user_id": "alice", "metadata": {key: "bob"}}])
    item = mem.get(mid)
    assert item["user_id"] == "alice" and key not in item["metadata"]
    assert mem.get_all(user_id="bob")["results"] == []
    assert mem.search("secret", user_id="bob")["results"] == []


def test_actor_id_in_metadata_is_metadata_not_the_actor(mem):
    """Only the scope ids are reserved (as the issue asks; mem0 drops actor_id too): an actor_id key in
    metadata is stored as metadata and neither sets nor matches the memory's actor."""
    mid = mem.add([{"role": "user", "content": "alice's note", "name": "alice"}], user_id="alice",
                  infer=False, metadata={"actor_id": "bob"})["results"][0]["id"]
    item = mem.get(mid)
    assert item["actor_id"] == "alice" and item["metadata"]["actor_id"] == "bob"
    assert mem.get_all(user_id="alice", filters={"actor_id": "bob"})["results"] == []
    assert [r["id"] for r in mem.get_all(user_id="alice", filters={"metadata.actor_id": "bob"})["results"]] == [mid]


def test_scope_wildcard_is_not_an_id(mem):
    """An id of '*' (e.g. taken from a request) must not turn into match-everything."""
    mem.add("alice's secret", user_id="alice", infer=False)
    mem.add("bob's secret", user_id="bob", infer=False)
    for call in (lambda: mem.search("secret", user_id="*"), lambda: mem.get_all(user_id="*"),
                 lambda: mem.delete_all(user_id="*"), lambda: mem.add("x", user_id="*", infer=False)):
        with pytest.raises(ValidationError, match="wildcard"):
            call()
    assert len(mem.get_all(filters={"user_id": "*"})["results"]) == 2  # the explicit form still works


def test_missing_scope_never_matches_a_scoped_filter(mem):
    only_user = mem.add("user-only memory", user_id="u1", infer=False)["results"][0]["id"]
    mem.add("agent-only memory", agent_id="a1", infer=False)
    filters = [
        {"agent_id": "a2"}, {"agent_id": {"ne": "a1"}}, {"agent_id": {"nin": ["a1"]}}, {"agent_id": "*"},
        {"agent_id": {"in": ["a1", "a2"]}}, {"agent_id": {"gte": ""}}, {"agent_id": {"contains": ""}},
        {"agent_id": {"icontains": "a"}}, {"OR": [{"agent_id": {"ne": "zzz"}}, {"run_id": "*"}]},
    ]
    for f in filters:
        for call in (mem.search("memory", filters=f, limit=100, all_scopes=True)["results"],
                     mem.get_all(filters=f, all_scopes=True)["results"]):
            assert only_user not in {r["id"] for r in call}, f


def test_scope_arguments_and_filters_are_intersected(mem):
    mem.add("alice tea", user_id="alice", infer=False)
    mem.add("bob tea", user_id="bob", infer=False, metadata={"topic": "tea"})
    sneaky = [{"OR": [{"user_id": "bob"}, {"topic": "tea"}]}, {"NOT": {"user_id": "alice"}},
              {"$or": [{"user_id": {"in": ["bob"]}}]}, {"topic": "tea"}]
    for f in sneaky:
        res = mem.search("tea", user_id="alice", filters=f)["results"]
        assert all(r["user_id"] == "alice" for r in res), f
    with pytest.raises(ValidationError):
        mem.search("tea", user_id="alice", filters={"user_id": "bob"})


def _build(exact_subset_max: int, seed: int, n: int):
    cfg = hash_cfg(32)
    cfg["vector_store"] = {"provider": "faiss", "config": {"exact_subset_max": exact_subset_max}}
    m = Memory(cfg)
    rng = random.Random(seed)
    pools = {"user_id": [f"u{i}" for i in range(8)], "agent_id": [f"a{i}" for i in range(4)],
             "run_id": [f"r{i}" for i in range(6)]}
    records = []
    for i in range(n):
        scope = {}
        while not scope:  # a random non-empty subset of the scope fields
            scope = {k: rng.choice(v) for k, v in pools.items() if rng.random() < 0.6}
        records.append({"memory": f"m{i} " + " ".join(rng.sample(WORDS, 4)), **scope})
    ids = m.add_records(records)
    truth = {mid: rec for mid, rec in zip(ids, records)}
    # some deletes, so that inactive rows are in the table too
    for mid in rng.sample(ids, n // 10):
        m.delete(mid)
        del truth[mid]
    return m, truth, pools, rng


@pytest.mark.parametrize("exact_subset_max", [20_000, 0], ids=["numpy-subset", "faiss-selector"])
def test_randomized_scoped_searches_never_cross_scope(exact_subset_max):
    m, truth, pools, rng = _build(exact_subset_max, seed=exact_subset_max, n=1500)
    searches = leaks = misses = 0
    by_value: dict = {}
    for mid, rec in truth.items():
        for k in SCOPE:
            by_value.setdefault((k, rec.get(k)), set()).add(mid)
    for _ in range(1500):
        scope = {}
        while not scope:
            scope = {k: rng.choice(v) for k, v in pools.items() if rng.random() < 0.5}
        own = set.intersection(*(by_value.get((k, v), set()) for k, v in scope.items()))
        query = " ".join(rng.sample(WORDS, 2))
        limit = rng.choice([1, 5, 50, 10_000])
        res = m.search(query, limit=limit, **scope)["results"]
        searches += 1
        got = {r["id"] for r in res}
        leaks += len(got - own)
        for r in res:
            leaks += any(r.get(k) != v for k, v in scope.items())
        misses += len(got) != min(limit, len(own))
        if rng.random() < 0.2:
            listed = {r["id"] for r in m.get_all(limit=100_000, **scope)["results"]}
            leaks += len(listed - own)
            misses += listed != own
    print(f"scoped searches: {searches} (exact_subset_max={exact_subset_max}), leaks={leaks}, misses={misses}")
    assert searches == 1500 and leaks == 0 and misses == 0


def test_scoped_delete_all_touches_only_its_scope():
    m, truth, pools, rng = _build(20_000, seed=3, n=600)
    before = {mid for mid in truth}
    m.delete_all(user_id="u1", agent_id="a1")
    gone = {mid for mid, rec in truth.items() if rec.get("user_id") == "u1" and rec.get("agent_id") == "a1"}
    remaining = {r["id"] for r in m.get_all(filters={"OR": [{k: "*"} for k in SCOPE]}, limit=100_000,
                                            all_scopes=True)["results"]}
    assert remaining == before - gone


def test_returned_and_passed_objects_do_not_alias_the_store(mem):
    """Regression: nested metadata was shared between the caller, the results and the stored
    row, so mutating a result (or the dict passed to add) changed the store in memory only."""
    meta = {"tags": ["a"], "nested": {"k": [1]}}
    mid = mem.add("x", user_id="u", infer=False, metadata=meta)["results"][0]["id"]
    meta["tags"].append("from caller")
    meta["nested"]["k"].append(2)
    mem.get(mid)["metadata"]["tags"].append("from get")
    mem.get_all(user_id="u")["results"][0]["metadata"]["tags"].append("from get_all")
    mem.search("x", user_id="u")["results"][0]["metadata"]["tags"].append("from search")
    mem.to_pandas()["metadata"].iloc[0]["tags"].append("from to_pandas")
    assert mem.get(mid)["metadata"] == {"tags": ["a"], "nested": {"k": [1]}}
    assert mem.get_all(user_id="u", filters={"tags": {"contains": "from caller"}})["results"] == []
