"""The ``time`` channel: dates a query names, matched against when memories were written
(``add(..., timestamp=...)``), on hand-worked examples and through the real search path."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from memlab import Memory
from memlab.errors import ValidationError
from memlab.ranking.when import created_days, query_ranges, time_match


def _ranges(text):
    return [(str(a), str(b)) if known else (a, None) for a, b, known in query_ranges(text)]


@pytest.mark.parametrize("text, expected", [
    ("What did Mel paint on 13 October, 2023?", [("2023-10-13", "2023-10-13")]),
    ("What did Mel paint on October 13th, 2023?", [("2023-10-13", "2023-10-13")]),
    ("Who called on 2023-06-03?", [("2023-06-03", "2023-06-03")]),
    ("What happened in Sept. 2022?", [("2022-09-01", "2022-09-30")]),
    ("What happened in February 2024?", [("2024-02-01", "2024-02-29")]),  # leap year
    ("How often did she swim in 2023?", [("2023-01-01", "2023-12-31")]),
    ("When did Melanie go camping in June?", [(6, None)]),  # a month of any year
    ("Both in May 2023 and on 1 June 2023?", [("2023-06-01", "2023-06-01"), ("2023-05-01", "2023-05-31")]),
    ("May I ask what Ana likes?", []),           # a modal verb, not a month
    ("Did the band march on the city?", []),
    ("What did she cook for dinner?", []),
    ("Anything on Feb 30, 2023?", [("2023-01-01", "2023-12-31")]),  # no such day: only the year is read
])
def test_query_ranges_by_hand(text, expected):
    assert _ranges(text) == expected


def test_time_match_by_hand():
    days = created_days(["2023-06-05T10:00:00", None, "not a date", "2023-01-03T00:00:00+02:00",
                         "2022-12-30T23:00:00-05:00", "2023-06-20"])
    assert [str(d) for d in days] == ["2023-06-05", "NaT", "NaT", "2023-01-03", "2022-12-30", "2023-06-20"]
    # a day matches itself and the 7 days after it (events are told a little later)
    assert time_match(days, query_ranges("on 1 June 2023")).tolist() == [1, 0, 0, 0, 0, 0]
    assert time_match(days, query_ranges("on 1 June 2023"), after_days=3).tolist() == [0, 0, 0, 0, 0, 0]
    assert time_match(days, query_ranges("in June 2023")).tolist() == [1, 0, 0, 0, 0, 1]
    # December without a year: Dec 2022 itself, and early January told about December
    assert time_match(days, query_ranges("in December")).tolist() == [0, 0, 0, 1, 1, 0]
    assert time_match(days, query_ranges("in 2022")).tolist() == [0, 0, 0, 1, 1, 0]  # Jan 3 is within 7 days
    assert time_match(days, []).tolist() == [0] * 6


SESSIONS = [
    ("2023-03-10T18:00:00", [{"role": "user", "name": "Ana", "content": "I baked a lemon cake for my sister."},
                             {"role": "user", "name": "Bo", "content": "That sounds delicious, well done."}]),
    ("2023-07-02T09:30:00", [{"role": "user", "name": "Ana", "content": "I baked bread with rosemary today."},
                             {"role": "user", "name": "Bo", "content": "Nice, I love fresh bread."}]),
]


def _dated_memory(hash_config):
    m = Memory(hash_config)
    ids = []
    for when, msgs in SESSIONS:
        ids.append([r["id"] for r in m.add(msgs, user_id="u", infer=False, timestamp=when)["results"]])
    return m, ids


def test_a_dated_query_prefers_memories_written_then(hash_config):
    m, ids = _dated_memory(hash_config)
    try:
        for text, session in (("What did Ana bake in March 2023?", 0), ("What did Ana bake in July?", 1),
                              ("What did Ana bake on 2 July 2023?", 1)):
            res = m.search(text, user_id="u", explain=True)["results"]
            assert res[0]["id"] == ids[session][0], text
            time = {r["id"]: r["explain"]["channels"]["time"] for r in res}
            assert sorted(t["raw"] for t in time.values()) == [0, 0, 1, 1]
            assert all(t["weight"] == 2.0 for t in time.values())
            assert time[ids[session][0]]["normalized"] == pytest.approx(1.0)  # z of 0/0/1/1
        # no date in the query: the channel is constant, so it moves nothing
        res = m.search("What did Ana bake?", user_id="u", explain=True)["results"]
        assert {r["explain"]["channels"]["time"]["normalized"] for r in res} == {0.0}
    finally:
        m.close()


def test_add_timestamp_sets_created_at_and_history(hash_config, tmp_path):
    cfg = {**hash_config, "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "s")}}}
    m = Memory(cfg)
    got = m.add("hello there", user_id="u", infer=False, timestamp=1700000000)["results"][0]
    assert m.get(got["id"])["created_at"] == "2023-11-14T22:13:20+00:00"  # Unix seconds, as mem0's platform
    assert m.history(got["id"])[0]["created_at"] == "2023-11-14T22:13:20+00:00"
    iso = m.add("second", user_id="u", infer=False, timestamp="2021-02-03T04:05:06-08:00")["results"][0]
    assert m.get(iso["id"])["created_at"] == "2021-02-03T04:05:06-08:00"  # kept verbatim, its own zone
    day = m.add("third", user_id="u", infer=False, timestamp=dt.date(2020, 1, 2))["results"][0]
    assert m.get(day["id"])["created_at"] == "2020-01-02T00:00:00"
    inferred = m.add("I love green tea", user_id="u", timestamp=dt.datetime(2019, 5, 6, 7, 8, 9))["results"]
    assert inferred and all(m.get(r["id"])["created_at"] == "2019-05-06T07:08:09" for r in inferred)
    now = m.add("undated", user_id="u", infer=False)["results"][0]
    assert m.get(now["id"])["created_at"] > "2026"
    m.close()
    again = Memory(cfg)  # persisted
    assert again.get(got["id"])["created_at"] == "2023-11-14T22:13:20+00:00"
    again.close()


@pytest.mark.parametrize("bad", [True, -1, float("nan"), "last tuesday", 1e20, [2023], {"t": 1}])
def test_bad_timestamp_is_refused_and_nothing_is_written(hash_config, bad):
    m = Memory(hash_config)
    with pytest.raises(ValidationError, match="timestamp"):
        m.add("hello", user_id="u", infer=False, timestamp=bad)
    assert m.get_all(user_id="u")["results"] == []
    m.close()


def test_created_days_reads_only_the_date_part():
    days = created_days(np.array(["2024-02-29T23:59:59+14:00", "2024-13-01"], dtype=object))
    assert [str(d) for d in days] == ["2024-02-29", "NaT"]


def test_memory_time_match_by_hand():
    from memlab.ranking.when import memory_time_match

    days = created_days(["2023-05-08T10:00:00", "2023-05-08T10:00:00", None, "2023-02-01T00:00:00"])
    texts = ["camping last week", "camping at the lake", "camping last week", "Two months ago I adopted a dog"]
    may3 = query_ranges("on 3 May 2023")
    assert memory_time_match(texts, days, may3).tolist() == [1.0, 0.0, 0.0, 0.0]  # NaT and no relative word: 0
    # the range is the week named (1-7 May): its edges are in, the day before is out
    assert memory_time_match(texts, days, query_ranges("on 7 May 2023")).tolist()[0] == 1.0
    assert memory_time_match(texts, days, query_ranges("on 30 April 2023")).tolist()[0] == 0.0
    assert memory_time_match(texts, days, query_ranges("on 1 May 2023")).tolist()[0] == 1.0  # the first day too
    assert memory_time_match(texts, days, query_ranges("on 8 May 2023")).tolist()[0] == 0.0  # the day written: out
    # a month without a year matches the month the memory's range falls in (December, two months before 1 Feb)
    assert memory_time_match(texts, days, query_ranges("what happened in December")).tolist() == [0.0, 0.0, 0.0, 1.0]
    assert memory_time_match(texts, days, []).tolist() == [0.0] * 4
    # "last month" written on 2 December 2022 is November only: neither December nor October
    nov = created_days(["2022-12-02T09:00:00"])
    for month, want in (("November", 1.0), ("December", 0.0), ("October", 0.0)):
        assert memory_time_match(["we moved house last month"], nov, query_ranges(f"what happened in {month}")).tolist() \
            == [want], month


@pytest.mark.parametrize("text, expected", [
    ("what did I do last week?", ("2023-05-01", "2023-05-07")),    # Monday to Sunday of the week before
    ("three weeks ago", ("2023-04-17", "2023-04-23")),
    ("two months ago", ("2023-03-01", "2023-03-31")),
    ("this month", ("2023-05-01", "2023-05-31")),
    ("hiking last year", ("2022-01-01", "2022-12-31")),
    ("earlier this year", ("2023-01-01", "2023-12-31")),
    ("yesterday at the lake", ("2023-05-09", "2023-05-09")),
    ("in May 2021 and last week", ("2023-05-01", "2023-05-07")),  # the absolute date is query_ranges' job
])
def test_relative_ranges_by_hand(text, expected):
    from memlab.ranking.when import relative_ranges

    ref = dt.datetime(2023, 5, 10, 15, 0, tzinfo=dt.timezone.utc)  # a Wednesday
    start, end = (np.datetime64(d, "D") for d in expected)
    assert relative_ranges(text, ref) == [(start, end, True)]


def test_relative_ranges_edges():
    from memlab.ranking.when import relative_ranges

    leap = dt.datetime(2024, 3, 15, 9, 0)
    assert relative_ranges("last month", leap) == [(np.datetime64("2024-02-01"), np.datetime64("2024-02-29"), True)]
    assert relative_ranges("last week", dt.datetime(2024, 1, 3)) == [  # a week across the new year
        (np.datetime64("2023-12-25"), np.datetime64("2023-12-31"), True)]
    assert relative_ranges("last week", None) == []                  # no reference: nothing is read
    assert relative_ranges("", leap) == [] and relative_ranges("a walk in the park", leap) == []
    assert relative_ranges("on 3 March 2024", leap) == []            # no relative word
