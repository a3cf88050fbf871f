"""Boundaries that both engines (FAISS + SQLite, PostgreSQL + pgvector) must draw in the same place.

- expiry: a memory expiring *today* (UTC) is still shown; it is hidden from tomorrow on (mem0:
  expired means ``expiration_date < today``);
- threshold: on every search path of both engines (dense, keyword, hybrid, fusion), a threshold
  equal to an observed score keeps that result, the next float above drops it, and a thresholded
  search returns exactly the unthresholded results whose score is >= the threshold, in their order;
- type-mismatched comparisons (a number against a text column, a string against a number, a boolean
  against 1) match nothing, and their NOT matches every row;
- exact ties of the dense and fused rankings go to the older memory on both engines.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

# the same small corpus and query as the FAISS-only boundary suite
from tests.core.test_search_boundaries import QUERY, TEXTS, _above

MODES = ["dense", "keyword", "hybrid", "fusion"]


def _below(x: float) -> float:
    return float(np.nextafter(np.float64(x), -np.inf))


def _ids(res: dict) -> list[str]:
    return [r["id"] for r in res["results"]]


# --------------------------------------------------------------------------- expiry
def test_a_memory_expiring_today_is_shown_until_the_day_ends(engine_mem):
    m = engine_mem
    today = datetime.now(timezone.utc).date()
    dates = {name: (today + timedelta(days=d)).isoformat() for name, d in
             (("yesterday", -1), ("today", 0), ("tomorrow", 1))}
    ids = {name: m.add(f"coupon valid until {name}", user_id="u", infer=False, expiration_date=d)["results"][0]["id"]
           for name, d in dates.items()}
    visible = {ids["today"], ids["tomorrow"]}
    assert set(_ids(m.get_all(user_id="u"))) == visible
    for mode in MODES:
        assert set(_ids(m.search("coupon valid until", user_id="u", mode=mode, limit=10))) == visible, mode
    assert set(_ids(m.get_all(user_id="u", show_expired=True))) == set(ids.values())
    assert m.get(ids["today"])["expiration_date"] == dates["today"]


# --------------------------------------------------------------------------- thresholds
@pytest.mark.parametrize("mode", MODES)
def test_threshold_equal_to_an_observed_score_on_both_engines(engine_mem, mode):
    m = engine_mem
    m.add_records([{"memory": t, "user_id": "alice"} for t in TEXTS] +
                  [{"memory": f"bob note {i} about the river", "user_id": "bob"} for i in range(4)])
    full = m.search(QUERY, user_id="alice", mode=mode, limit=100)["results"]
    assert len(full) >= 4
    for boundary in sorted({r["score"] for r in full})[:3]:  # the lowest scores: their rows are in any top-100
        want = [r["id"] for r in full if r["score"] >= boundary]
        at = m.search(QUERY, user_id="alice", mode=mode, limit=100, threshold=boundary)["results"]
        assert [r["id"] for r in at] == want, f"{mode}: threshold == score {boundary!r} must keep that result"
        assert min(r["score"] for r in at) == boundary
        above = m.search(QUERY, user_id="alice", mode=mode, limit=100, threshold=_above(boundary))["results"]
        assert [r["id"] for r in above] == [r["id"] for r in full if r["score"] > boundary]
        below = m.search(QUERY, user_id="alice", mode=mode, limit=100, threshold=_below(boundary))["results"]
        assert [r["id"] for r in below] == want
    # the best score too: a threshold equal to the top score keeps it (and its exact ties)
    top = full[0]["score"] if mode == "dense" else max(r["score"] for r in full)
    kept = m.search(QUERY, user_id="alice", mode=mode, limit=100, threshold=top)["results"]
    assert [r["id"] for r in kept] == [r["id"] for r in full if r["score"] >= top] and kept


# --------------------------------------------------------------------------- type-mismatched comparisons
MISMATCHED = [
    {"actor_id": {"gt": 0}},           # a number against a text column
    {"role": {"lte": 10**6}},
    {"created_at": {"gte": 0}},
    {"actor_id": {"eq": 1}},
    {"role": {"in": [1, 2.5]}},
    {"n": {"gt": "3"}},                # a string against a number
    {"n": {"lt": "9"}},
    {"s": {"gte": 0}},                 # a number against a string
    {"n": {"eq": "5"}},
    {"flag": 1},                       # True is not 1
    {"one": True},                     # 1 is not True
]


@pytest.mark.parametrize("cond", MISMATCHED, ids=lambda c: str(c))
def test_type_mismatched_comparisons_match_nothing_on_both_engines(engine_mem, cond):
    m = engine_mem
    m.add_records([
        {"memory": "first", "user_id": "u", "actor_id": "7", "role": "user",
         "metadata": {"n": 5, "s": "5", "flag": True, "one": 1}},
        {"memory": "second", "user_id": "u", "actor_id": "Ana", "role": "assistant",
         "metadata": {"n": 1, "s": "abc", "flag": False, "one": 0}},
        {"memory": "third", "user_id": "u", "actor_id": "10", "role": "user"},
    ])
    every = set(_ids(m.get_all(user_id="u")))
    assert len(every) == 3
    assert _ids(m.get_all(user_id="u", filters=cond)) == []
    assert _ids(m.search("first second third", user_id="u", filters=cond)) == []
    # NOT is the plain complement: every row of the scope
    assert set(_ids(m.get_all(user_id="u", filters={"NOT": cond}))) == every
    # the same comparisons with matching types do select rows (the filter is not simply dead)
    assert _ids(m.get_all(user_id="u", filters={"n": {"gt": 3}})) == _ids(
        m.get_all(user_id="u", filters={"s": {"eq": "5"}}))
    assert len(_ids(m.get_all(user_id="u", filters={"n": {"gt": 3}}))) == 1


# --------------------------------------------------------------------------- dense ties
@pytest.mark.parametrize("mode", ["dense", "fusion"])
def test_exact_ties_go_to_the_older_memory_on_both_engines(engine_mem, mode):
    m = engine_mem
    texts = ["green tea in the morning", "a dog in the park", "green tea in the morning", "violin lessons",
             "green tea in the morning", "a dog in the park"]
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(len(texts))]
    # ids chosen so that id order and insertion order disagree: the tie rule cannot be the id
    ids = ids[::-1]
    m.add_records([{"id": i, "memory": t, "user_id": "u"} for i, t in zip(ids, texts)])
    for query, twins in (("green tea in the morning", [0, 2, 4]), ("a dog in the park", [1, 5])):
        res = m.search(query, user_id="u", mode=mode, limit=10)["results"]
        tied = [r for r in res if r["id"] in {ids[k] for k in twins}]
        assert len({r["score"] for r in tied}) == 1, "identical texts must tie exactly"
        assert [r["id"] for r in tied] == [ids[k] for k in twins], "ties go to the older memory"
        assert [r["id"] for r in res[:len(twins)]] == [ids[k] for k in twins]


# --------------------------------------------------------------------------- scope given twice
def test_a_scope_given_twice_must_agree_and_filters_ids_are_checked(engine_mem):
    from memlab.errors import ValidationError

    m = engine_mem
    mid = m.add("scoped note", user_id="u", infer=False)["results"][0]["id"]
    m.add("other note", user_id="v", infer=False)
    assert _ids(m.get_all(user_id="u", filters={"user_id": "u"})) == [mid]  # the same value twice: fine
    assert _ids(m.get_all(filters={"user_id": 7})) == []                    # an int id is the string "7"
    seven = m.add("user seven's note", user_id="7", infer=False)["results"][0]["id"]
    assert _ids(m.get_all(filters={"user_id": 7})) == [seven]
    assert _ids(m.get_all(user_id="7", filters={"user_id": 7})) == [seven]  # the same id twice, once as an int
    # a branch that is not a filter does not scope a read: refused as unscoped
    with pytest.raises(ValidationError, match="all_scopes=True"):
        m.get_all(filters={"OR": [{"user_id": "u"}, "junk"]})
    for clash in ({"user_id": "v"}, {"user_id": {"in": ["u"]}}):
        with pytest.raises(ValidationError, match="given twice"):
            m.get_all(user_id="u", filters=clash)
    assert len(_ids(m.get_all(filters={"user_id": "*"}))) == 3              # the wildcard is not an id
    for bad in ("a b", "tab\there"):
        with pytest.raises(ValidationError, match="whitespace"):
            m.get_all(filters={"user_id": bad})
    # a bool is not an id (it would match nothing): refused wherever it sits in the tree, on every verb
    m.add("user True's note", user_id="True", infer=False)
    for bad in ({"user_id": True}, {"AND": [{"user_id": "u"}, {"agent_id": False}]},
                {"OR": [{"user_id": "u"}, {"user_id": {"in": ["v", True]}}]}, {"NOT": [{"run_id": {"eq": True}}]}):
        with pytest.raises(ValidationError, match="holds a bool"):
            m.get_all(filters=bad, all_scopes=True)
        with pytest.raises(ValidationError, match="holds a bool"):
            m.search("note", filters=bad, all_scopes=True)
        with pytest.raises(ValidationError, match="holds a bool"):
            m.delete_all(filters=bad)
    assert len(_ids(m.get_all(filters={"user_id": "*"}))) == 4  # nothing was deleted


TEXT_OPS = [
    ({"actor_id": {"in": ["Ana", "7", 7]}}, {"first", "second"}),
    ({"actor_id": {"nin": ["Ana"]}}, {"first", "third"}),
    ({"role": {"contains": "ssist"}}, {"second"}),
    ({"role": {"icontains": "USER"}}, {"first", "third"}),
    ({"actor_id": {"ne": "Ana"}}, {"first", "third"}),
    ({"actor_id": {"gte": "7"}}, {"first", "second"}),   # code point order: "10" < "7" < "Ana"
    ({"actor_id": {"lt": "7"}}, {"third"}),
    ({"actor_id": {"eq": "10"}}, {"third"}),
]


@pytest.mark.parametrize("cond,want", TEXT_OPS, ids=lambda c: str(c))
def test_text_column_operators_agree_on_both_engines(engine_mem, cond, want):
    m = engine_mem
    m.add_records([
        {"memory": "first", "user_id": "u", "actor_id": "7", "role": "user"},
        {"memory": "second", "user_id": "u", "actor_id": "Ana", "role": "assistant"},
        {"memory": "third", "user_id": "u", "actor_id": "10", "role": "user"},
    ])
    texts = {r["memory"] for r in m.get_all(user_id="u", filters=cond)["results"]}
    assert texts == want
    assert {r["memory"] for r in m.get_all(user_id="u", filters={"NOT": cond})["results"]} == \
        {"first", "second", "third"} - want


def test_category_and_state_filters_agree_on_both_engines(engine_mem):
    m = engine_mem
    m.add_records([
        {"memory": "first", "user_id": "u", "categories": ["food", "Travel"]},
        {"memory": "second", "user_id": "u", "categories": ["work"]},
        {"memory": "third", "user_id": "u"},
    ])

    def texts(cond):
        return {r["memory"] for r in m.get_all(user_id="u", filters=cond)["results"]}

    assert texts({"categories": {"contains": "food"}}) == {"first"}
    assert texts({"categories": {"contains": "travel"}}) == set()          # contains is case-sensitive
    assert texts({"categories": {"icontains": "travel"}}) == {"first"}
    assert texts({"categories": {"contains": 3}}) == set()
    assert texts({"categories": "food"}) == set()                          # a list never equals a scalar
    assert texts({"categories": {"ne": "food"}}) == texts({"categories": {"nin": ["food"]}}) == {
        "first", "second", "third"}
    assert texts({"NOT": {"categories": {"contains": "work"}}}) == {"first", "third"}
    second = next(r["id"] for r in m.get_all(user_id="u")["results"] if r["memory"] == "second")
    m.set_state(second, "paused")
    assert texts({"state": "paused"}) == {"second"}                         # naming state reaches inactive rows
    assert texts({"categories": {"contains": "work"}}) == set()             # otherwise active rows only


# --------------------------------------------------------------------------- the scope rule of reads
def test_reads_need_a_scope_in_every_or_branch_and_never_under_not(engine_mem):
    from memlab.errors import ValidationError

    m = engine_mem
    mine = m.add("a note", user_id="u", agent_id="a", infer=False, metadata={"x": 1})["results"][0]["id"]
    old = m.add("an expired note", user_id="w", infer=False,
                expiration_date=(datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat())["results"][0]["id"]
    scoped = [{"AND": [{"user_id": "u"}, {"x": 1}]}, {"$and": [{"x": 1}, {"user_id": "u"}]},
              {"OR": [{"user_id": "u"}, {"agent_id": "a"}]}, {"$or": [{"agent_id": "a"}, {"run_id": "r"}]},
              {"AND": [{"x": 1}, {"OR": [{"user_id": "u"}, {"agent_id": "zz"}]}]}]
    for f in scoped:
        assert _ids(m.get_all(filters=f)) == [mine], f
    unscoped = [{"x": 1}, {"OR": [{"user_id": "u"}, {"x": 1}]}, {"$or": [{"x": 1}, {"user_id": "u"}]},
                {"OR": []}, {"NOT": {"user_id": "u"}}, {"AND": ["user_id", {"x": 1}]}, {"user_id": None}]
    for f in unscoped:
        with pytest.raises(ValidationError):
            m.get_all(filters=f)
    # all_scopes=True reads everything, still without expired memories unless asked
    assert _ids(m.get_all(all_scopes=True)) == [mine]
    assert set(_ids(m.get_all(all_scopes=True, show_expired=True))) == {mine, old}
    for bad in ({"all_scopes": "yes"}, {"show_expired": 1}):
        with pytest.raises(ValidationError, match="True or False"):
            m.get_all(user_id="u", **bad)
    assert len(m.search("note", user_id="u", limit=5, top_k=5)["results"]) == 1  # the same value twice: fine
    with pytest.raises(ValidationError, match="disagree"):
        m.search("note", user_id="u", limit=5, top_k=3)


def test_the_default_limit_is_100(engine_mem):
    m = engine_mem
    m.add_records([{"memory": f"note {i}", "user_id": "u"} for i in range(101)])
    assert len(m.get_all(user_id="u")["results"]) == 100
    assert len(m.search("note", user_id="u")["results"]) == 100
    assert len(m.get_all(user_id="u", limit=101)["results"]) == 101


def test_a_query_of_stop_words_or_unknown_terms_finds_nothing_by_keyword(engine_mem):
    m = engine_mem
    m.add_records([{"memory": t, "user_id": "u"} for t in ("the dog and the cat", "a river", "of the sea")])
    assert m.search("the of and", user_id="u", mode="keyword")["results"] == []
    assert m.search("zebra", user_id="u", mode="keyword")["results"] == []  # a term no memory holds
    hybrid = m.search("the of and", user_id="u", mode="hybrid")["results"]
    dense = m.search("the of and", user_id="u", mode="dense")["results"]
    assert [r["id"] for r in hybrid] == [r["id"] for r in dense]  # only the dense ranking is left
    assert all(r["keyword_score"] == 0 for r in hybrid)
