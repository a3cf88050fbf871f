"""Every filter operator, logical combinations, missing-field rules and the wildcard."""

from __future__ import annotations

import pytest

from memlab.errors import ValidationError


@pytest.fixture
def mem(engine_mem):
    """Every test here runs on both engines (FAISS + SQLite and PostgreSQL + pgvector)."""
    return engine_mem

ROWS = [
    ("m0", "alice", {"category": "food", "priority": 1, "tags": ["x", "y"], "note": "Likes SUSHI", "flag": True}),
    ("m1", "alice", {"category": "travel", "priority": 5, "tags": ["y"], "note": "trip to Rome"}),
    ("m2", "alice", {"category": "food", "priority": 3, "flag": False, "date": "2024-03-01"}),
    ("m3", "bob", {"category": "work", "priority": 2.5, "date": "2024-05-01"}),
    ("m4", "bob", {"priority": "high"}),
]


@pytest.fixture
def fm(mem):
    ids = mem.add_records([{"id": i, "memory": f"memory {i}", "user_id": u, "metadata": md} for i, u, md in ROWS])
    assert ids == [r[0] for r in ROWS]
    return mem


def ids_of(m, filters):
    return sorted(r["id"] for r in m.get_all(filters=filters, all_scopes=True)["results"])


@pytest.mark.parametrize("filters,expected", [
    ({"category": "food"}, ["m0", "m2"]),
    ({"category": {"eq": "food"}}, ["m0", "m2"]),
    ({"category": {"$eq": "food"}}, ["m0", "m2"]),
    ({"category": {"ne": "food"}}, ["m1", "m3"]),          # m4 has no category: missing never matches
    ({"priority": {"gt": 2}}, ["m1", "m2", "m3"]),          # "high" is not a number: no match
    ({"priority": {"gte": 3}}, ["m1", "m2"]),
    ({"priority": {"lt": 3}}, ["m0", "m3"]),
    ({"priority": {"lte": 2.5}}, ["m0", "m3"]),
    ({"priority": {"gte": 2, "lt": 5}}, ["m2", "m3"]),     # several ops on one field = AND
    ({"date": {"gte": "2024-04-01"}}, ["m3"]),              # strings compare with strings
    ({"category": {"in": ["food", "work"]}}, ["m0", "m2", "m3"]),
    ({"category": ["food", "work"]}, ["m0", "m2", "m3"]),   # a list means "in"
    ({"category": {"nin": ["food"]}}, ["m1", "m3"]),
    ({"tags": {"contains": "y"}}, ["m0", "m1"]),            # list membership
    ({"note": {"contains": "SUSHI"}}, ["m0"]),              # substring, case-sensitive
    ({"note": {"contains": "sushi"}}, []),
    ({"note": {"icontains": "sushi"}}, ["m0"]),
    ({"category": "*"}, ["m0", "m1", "m2", "m3"]),          # wildcard: any non-null value
    ({"flag": True}, ["m0"]),
    ({"flag": False}, ["m2"]),
    ({"priority": 1}, ["m0"]),                               # 1 is not True and True is not 1
    ({"flag": 1}, []),
    ({"metadata.category": "travel"}, ["m1"]),
    ({"user_id": "bob", "category": "work"}, ["m3"]),
    ({"AND": [{"category": "food"}, {"priority": {"gt": 1}}]}, ["m2"]),
    ({"$and": [{"category": "food"}, {"priority": {"gt": 1}}]}, ["m2"]),
    ({"OR": [{"category": "travel"}, {"user_id": "bob"}]}, ["m1", "m3", "m4"]),
    ({"$or": [{"priority": {"gte": 5}}, {"flag": False}]}, ["m1", "m2"]),
    ({"NOT": {"category": "food"}}, ["m1", "m3", "m4"]),    # NOT is the plain complement
    # a NOT list excludes rows matching ANY item: NOT (alice OR food), as mem0 (see test_fidelity_filters.py)
    ({"$not": [{"user_id": "alice"}, {"category": "food"}]}, ["m3", "m4"]),
    ({"NOT": {"category": "*"}}, ["m4"]),
    ({"user_id": "alice", "OR": [{"priority": 1}, {"priority": 5}]}, ["m0", "m1"]),
    ({"user_id": "nobody"}, []),
    ({"id": "m3"}, ["m3"]),
    # ranges and other operators on an indexed column (scope ids: the in-process engine keeps an index)
    ({"user_id": {"gt": "alice"}}, ["m3", "m4"]),
    ({"user_id": {"lte": "alice"}}, ["m0", "m1", "m2"]),
    ({"user_id": {"ne": "alice"}}, ["m3", "m4"]),
    ({"user_id": {"nin": ["bob"]}}, ["m0", "m1", "m2"]),
])
def test_operator(fm, filters, expected):
    assert ids_of(fm, filters) == expected


def test_search_applies_the_same_filters(fm):
    res = fm.search("memory", filters={"OR": [{"category": "travel"}, {"user_id": "bob"}]}, all_scopes=True)["results"]
    assert sorted(r["id"] for r in res) == ["m1", "m3", "m4"]


def test_missing_scope_never_matches_scoped_filter(mem):
    mem.add_records([{"id": "a1", "memory": "agent note", "agent_id": "bot"},
                     {"id": "u1", "memory": "user note", "user_id": "alice"}])
    assert ids_of(mem, {"user_id": "alice"}) == ["u1"]
    assert ids_of(mem, {"agent_id": "bot"}) == ["a1"]
    assert ids_of(mem, {"user_id": {"ne": "alice"}}) == []
    assert [r["id"] for r in mem.search("note", user_id="alice")["results"]] == ["u1"]


def test_metadata_column_follows_writes(fm):
    assert ids_of(fm, {"category": "food"}) == ["m0", "m2"]  # materialises the column
    fm.update("m1", metadata={"category": "food"})
    fm.add_records([{"id": "m5", "memory": "new", "user_id": "bob", "metadata": {"category": "food"}}])
    assert ids_of(fm, {"category": "food"}) == ["m0", "m1", "m2", "m5"]


@pytest.mark.parametrize("filters,message", [
    ({"category": {"like": "f%"}}, "Unknown filter operator 'like'"),
    ({"$nor": [{"a": 1}]}, "Unknown logical operator"),
    ({"OR": {"a": 1}}, "non-empty list"),
    ({"AND": [1]}, "non-empty filter dict"),
    ({"NOT": []}, "NOT takes"),
    ({"category": {}}, "empty operator dict"),
    ({"category": {"in": [object()]}}, "string, number or bool"),
    ({"category": {"eq": [1, 2]}}, "string, number or bool"),
    ({"priority": {"gt": None}}, "number or a string"),
    ({"priority": {"gt": float("inf")}}, "finite"),
    ({"note": {"icontains": 5}}, "icontains"),
    ({"": 1}, "non-empty strings"),
])
def test_bad_filters(fm, filters, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        fm.get_all(filters=filters, all_scopes=True)
