"""Edges of the fusion channels, checked through search (the default mode, fusion) with ``explain``.

- time: a dated range matches through its last day plus the lag (``AFTER_DAYS``), inclusive at both
  ends; "in June" (no year) runs to June 30; a day outside is not matched;
- a context channel that reuses the plain channel's scores (no memory has a context) keeps its own
  weight: the ranking equals the one with the two weights added on the plain channel, and the
  explanation adds up (Σ weight × normalised == the fused value it reports);
- speaker: a two-word name (ids hold no spaces: ``Ana-Lopez``, ``ana.lopez``) matches only a query
  naming both words.

Written against behaviour (which rows match, the order) rather than fused numbers.
"""

from __future__ import annotations

import pytest

from memlab import Memory

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}


def _memory(**vs) -> Memory:
    return Memory({**HASH, "vector_store": {"provider": "faiss", "config": vs}} if vs else HASH)


def _channel(res: list[dict], name: str) -> dict[str, float]:
    return {r["memory"]: r["explain"]["channels"][name]["raw"] for r in res}


# --------------------------------------------------------------------------- time channel
DATES = ["2023-05-31", "2023-06-01", "2023-06-03", "2023-06-10", "2023-06-11", "2023-06-30", "2023-07-01",
         "2023-07-07", "2023-07-08", "2021-06-15", "2021-07-08", "2024-01-05"]


@pytest.fixture(scope="module")
def dated():
    m = _memory()
    for day in DATES:
        m.add(f"note written on {day}", user_id="u", infer=False, timestamp=f"{day}T12:00:00+00:00")
    yield m
    m.close()


def _matched(m: Memory, query: str) -> set[str]:
    res = m.search(query, user_id="u", limit=100, explain=True)["results"]
    assert len(res) == len(DATES)
    return {text.rsplit(" ", 1)[1] for text, v in _channel(res, "time").items() if v == 1.0}


def test_a_month_matches_through_its_last_day_plus_the_lag(dated):
    from memlab.ranking.when import AFTER_DAYS

    assert AFTER_DAYS == 7  # the dates above are chosen around a 7-day lag
    got = _matched(dated, "What did we note in June 2023?")
    assert got == {"2023-06-01", "2023-06-03", "2023-06-10", "2023-06-11", "2023-06-30", "2023-07-01",
                   "2023-07-07"}  # June 30 + 7 = July 7 is the last matched day; May 31 and July 8 are not


def test_a_day_matches_through_the_lag_inclusive(dated):
    assert _matched(dated, "What happened on 3 June 2023?") == {"2023-06-03", "2023-06-10"}
    assert _matched(dated, "What happened on June 3rd, 2023?") == {"2023-06-03", "2023-06-10"}


def test_a_month_without_a_year_runs_to_its_last_day_in_every_year(dated):
    got = _matched(dated, "What did we note in June?")
    assert got == {"2023-06-01", "2023-06-03", "2023-06-10", "2023-06-11", "2023-06-30", "2023-07-01",
                   "2023-07-07", "2021-06-15"}  # 2021-07-08 and 2023-07-08: one day past June 30 + 7


def test_without_lag_a_range_ends_on_its_last_day():
    """The range itself, lag 0: the last day of June is in, July 1 is out (with and without a year)."""
    import numpy as np

    from memlab.ranking.when import query_ranges, time_match

    days = np.array(["2023-05-31", "2023-06-01", "2023-06-30", "2023-07-01"], dtype="datetime64[D]")
    for query in ("in June 2023", "in June"):
        assert time_match(days, query_ranges(query), after_days=0).tolist() == [0, 1, 1, 0], query
    assert time_match(days, query_ranges("on 30 June 2023"), after_days=1).tolist() == [0, 0, 1, 1]


def test_a_query_without_a_date_leaves_the_time_channel_silent(dated):
    assert _matched(dated, "What did we note?") == set()


# --------------------------------------------------------------------------- context channels share arrays
TEXTS = ["the violin teacher lives in Berlin", "violin violin violin", "a teacher of music in Berlin",
         "Berlin is cold in winter", "my teacher plays the violin in Lyon", "music lessons every Sunday",
         "the old violin was repaired", "Lyon and Berlin are cities", "a violin concert in the park"]
QUERY = "violin teacher in Berlin"


def _order(weights: dict) -> list[str]:
    with _memory(fusion_weights=weights) as m:
        m.add_records([{"memory": t, "user_id": "u"} for t in TEXTS])  # no context window: plain = context
        return [r["memory"] for r in m.search(QUERY, user_id="u", limit=100)["results"]]


@pytest.mark.parametrize("plain,context,other", [("dense", "dense_context", "keyword"),
                                                 ("keyword", "keyword_context", "dense")])
def test_a_context_channel_reusing_the_plain_scores_keeps_its_weight(plain, context, other):
    split = _order({plain: 0.25, context: 2.0, other: 1.0})
    merged = _order({plain: 2.25, other: 1.0})
    assert split == merged
    # the test can tell: losing the context weight gives another order on these texts
    assert _order({plain: 0.25, other: 1.0}) != merged


def test_explain_adds_up_when_channels_share_scores():
    with _memory(fusion_weights={"dense": 0.25, "dense_context": 2.0, "keyword": 1.0,
                                 "keyword_context": 0.5}) as m:
        m.add_records([{"memory": t, "user_id": "u"} for t in TEXTS])
        res = m.search(QUERY, user_id="u", limit=100, explain=True)["results"]
    fused = []
    for r in res:
        ex = r["explain"]
        assert ex["channels"]["dense_context"]["weight"] == 2.0
        assert ex["channels"]["dense_context"]["normalized"] == ex["channels"]["dense"]["normalized"]
        total = sum(c["weight"] * c["normalized"] for c in ex["channels"].values())
        assert total == pytest.approx(ex["fused"], abs=1e-9)
        fused.append(ex["fused"])
    assert fused == sorted(fused, reverse=True)


# --------------------------------------------------------------------------- speaker channel
def test_a_two_word_speaker_matches_only_a_query_naming_both_words():
    with _memory() as m:
        m.add_records([{"memory": f"a note by {who}", "user_id": "u", "actor_id": who}
                       for who in ("Ana-Lopez", "ana.smith", "Maria-Lopez", "Ana")])
        m.add_records([{"memory": "a note by nobody", "user_id": "u"}])

        def speakers(query: str) -> set[str]:
            res = m.search(query, user_id="u", limit=10, explain=True)["results"]
            return {t[len("a note by "):] for t, v in _channel(res, "speaker").items() if v == 1.0}

        assert speakers("What did Ana Lopez say?") == {"Ana-Lopez", "Ana"}
        assert speakers("what did ana say") == {"Ana"}
        assert speakers("What did Lopez say?") == set()
        assert speakers("Did Maria and Ana Smith agree?") == {"ana.smith", "Ana"}
        # in the ranking: the named speaker's note comes first
        top = m.search("What did Maria Lopez say?", user_id="u", limit=10)["results"][0]
        assert top["memory"] == "a note by Maria-Lopez"


# --------------------------------------------------------------------------- small edges the mutation check found
def test_impossible_dates_name_no_range_and_real_ones_do():
    from memlab.ranking.when import query_ranges

    for text in ("on 2023-13-01", "on 2023-00-10", "on 2023-02-30", "on 2023-04-31", "on 31 June 2023",
                 "on 2023-06-00"):
        assert [r for r in query_ranges(text) if r[0] == r[1]] == [], text  # no day range (the year may remain)
    for text, day in (("on 2023-12-31", "2023-12-31"), ("on 2023-01-01", "2023-01-01"),
                      ("on 2024-02-29", "2024-02-29"), ("on 30 April 2023", "2023-04-30")):
        assert [(str(a), str(b)) for a, b, _ in query_ranges(text)] == [(day, day)], text


def test_a_zero_weight_is_allowed_and_negative_ones_are_not():
    from memlab.errors import ValidationError
    from memlab.ranking.fusion import check_weights

    assert check_weights({"dense": 1, "keyword": 0}) == {"dense": 1.0, "keyword": 0.0}
    for bad in (-1e-9, float("nan"), True):
        with pytest.raises(ValidationError):
            check_weights({"dense": 1, "keyword": bad})


def test_near_constant_channels_are_constant_relative_to_their_size():
    """Float noise on a large score (BM25 in the hundreds) is not a vote: the tolerance is relative."""
    import numpy as np

    from memlab.ranking.fusion import combsum, normalize

    noisy = np.array([1000.0, 1000.0 + 1e-4, 1000.0])  # spread 1e-7 of the mean
    for how in ("zscore", "minmax"):
        assert normalize(noisy, how).tolist() == [0.0, 0.0, 0.0], how
        assert normalize(np.array([1.0, 1.0 + 1e-3, 1.0]), how).tolist() != [0.0, 0.0, 0.0], how
    fused, normed = combsum({"keyword": noisy, "dense": np.array([0.1, 0.2, 0.3])}, {"keyword": 1, "dense": 1})
    assert normed["keyword"].tolist() == [0.0, 0.0, 0.0] and fused.tolist() == normed["dense"].tolist()
    empty, parts = combsum({}, {"dense": 1})
    assert len(empty) == 0 and parts == {}


def test_a_search_computes_only_the_weighted_channels():
    conv = [{"role": "user", "content": "I adopted a dog named Rex", "name": "Ana"},
            {"role": "assistant", "content": "Rex loves the park", "name": "Bob"},
            {"role": "user", "content": "We hike in the Alps", "name": "Ana"}]
    for weights, want in (({"dense": 1.0}, {"dense"}),
                          ({"dense": 1.0, "keyword_context": 1.0}, {"dense", "keyword_context"}),
                          ({"dense": 1.0, "dense_context": 1.0}, {"dense", "dense_context"})):
        with _memory(fusion_weights=weights) as m:
            m.add(conv, user_id="u", infer=False)  # conversation turns: every memory has a context window
            res = m.search("Where does Rex play?", user_id="u", explain=True)["results"]
            assert res and all(set(r["explain"]["channels"]) == want for r in res), weights
    with _memory(fusion_weights={"dense": 1.0}) as m:  # memories without a context window
        m.add_records([{"memory": t, "user_id": "u"} for t in TEXTS])
        res = m.search(QUERY, user_id="u", explain=True)["results"]
        assert res and all(set(r["explain"]["channels"]) == {"dense"} for r in res)
