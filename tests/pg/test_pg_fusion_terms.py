"""Fusion's statement on PostgreSQL (memlab.store.pg.search.fusion_sql, memlab.store.pg.terms): terms sent as one
text per row and counted by substring, category names by one join, rows inline (small scopes) or read after
the ranking (large ones), the scope size of a dense search read from the statistics table. Every path must give
what the reference computations give: memlab.ranking.bm25.bm25_of_counts, get(), a recount, the FAISS engine."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from memlab import Memory
from memlab.ranking.bm25 import bm25_of_counts
from memlab.store.pg import search as Q
from memlab.store.pg import terms as T
from tests.ci import require_module
from tests.pg.support import pg_config

psycopg = require_module("psycopg", "the pg extra is not installed (psycopg missing)", "PostgreSQL")

HASH128 = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
WORDS = "the a rex park dog beach pizza lyon violin".split()


def _joined(doc: list[str]) -> str:
    """A term list as fusion's statement sends it (terms.SQL_JOIN)."""
    return T.SEP + (T.SEP + T.SEP).join(doc) + T.SEP


def _old_vocabulary(docs):  # the reference: a set per document, counted
    from collections import Counter
    from itertools import chain

    return list(Counter(chain.from_iterable(set(d) for d in docs if d is not None)).values())


@pytest.mark.parametrize("seed", range(12))
def test_bm25_channel_equals_bm25_of_counts_for_texts_and_lists(seed):
    rng = random.Random(seed)
    docs = [[rng.choice(WORDS) for _ in range(rng.randint(0, 9))] for _ in range(rng.randint(1, 30))]
    terms = [rng.choice(WORDS + ["absent"]) for _ in range(rng.randint(1, 4))]  # repeats count again
    dls = [len(d) for d in docs]
    vocab = _old_vocabulary(docs)
    hits = [(i, len(d), t, d.count(t)) for i, d in enumerate(docs) for t in set(terms).intersection(d)]
    want_stats: dict = {}
    keys, scores = bm25_of_counts(terms, len(docs), float(sum(dls)), hits, vocab, 0.9, 0.4, want_stats)
    want = np.zeros(len(docs))
    want[keys] = scores
    # as sent: texts for rows holding a query term only, None elsewhere; a row read again is a list
    sent = [(_joined(d) if i % 3 else d) if set(terms) & set(d) else None for i, d in enumerate(docs)]
    for form in ([_joined(d) for d in docs], sent, docs):
        stats: dict = {}
        got = T.bm25_channel(terms, dls, form, vocab, 0.9, 0.4, stats)
        np.testing.assert_array_equal(got, want)  # the same arithmetic: bit for bit
        assert stats["ceiling"] == want_stats["ceiling"]
    assert T.vocabulary_dfs([_joined(d) for d in docs], dls) == vocab
    assert T.bad_rows([_joined(d) for d in docs], dls) == []


def test_texts_that_do_not_check_are_found():
    docs = [["rex", "a\x1fb", "rex"], [], [""], ["park"]]
    texts = [_joined(d) for d in docs]
    assert texts[1] == texts[2] == T.SEP * 2  # an empty document and one empty term look alike ...
    assert T.bad_rows(texts, [3, 0, 1, 1]) == [0]  # ... and both check; a term holding the separator does not
    assert T.vocabulary_dfs(texts[1:], [0, 1, 1]) == [1, 1]  # the term counts tell them apart
    assert T.frequencies([texts[3], None, docs[0]], "rex") == [0, 0, 2]
    assert T.frequencies([texts[0]], "a\x1fb") == [0]  # a query term holding it matches no checked text


def test_a_term_holding_the_separator_is_read_again_as_an_array(pg_url, pg_collection):
    """The fallback path: fusion's keyword channel equals keyword mode's BM25 (counted in SQL from arrays)."""
    with Memory(pg_config(pg_url, pg_collection)) as m:
        for text in ("Rex at the park", "Rex Rex and the dog", "a note on pizza", "Rex likes the beach"):
            m.add(text, user_id="u1", infer=False)
        with m.store._conn() as conn:  # terms no analyzer makes; as text, the second would count as "rex" twice
            conn.execute(f"UPDATE {pg_collection} SET tokens = tokens || ARRAY['odd\x1fterm'] "
                         "WHERE memory = 'Rex Rex and the dog'")
            conn.execute(f"UPDATE {pg_collection} SET tokens = tokens || ARRAY['rex\x1f\x1frex'] "
                         "WHERE memory = 'a note on pizza'")
        for _ in range(2):  # a scope's first search (every row's terms), then from the cache (matching rows)
            fused = {r["memory"]: r["explain"]["channels"]["keyword"]["raw"]
                     for r in m.search("rex", user_id="u1", explain=True, limit=10)["results"]}
            kw = {r["memory"]: r["keyword_score"] for r in m.search("rex", user_id="u1", mode="keyword")["results"]}
            assert fused["Rex Rex and the dog"] > 0 and fused["a note on pizza"] == 0
            for memory, score in kw.items():
                assert fused[memory] == pytest.approx(score, rel=1e-12), memory


@pytest.mark.parametrize("inline", [True, False])
def test_fusion_rows_are_the_rows_categories_included(pg_url, pg_collection, monkeypatch, inline):
    """Rows come whole in fusion's statement (a small scope) or are read after the ranking (INLINE_ROWS or more
    rows): either way each result is the stored row, category names in code-point order, as on FAISS."""
    if not inline:
        monkeypatch.setattr(Q, "INLINE_ROWS", 0)
    recs = [{"memory": f"note {i} about Rex", "user_id": "u1", "metadata": {"i": i},
             **({"categories": ["zeta", "Élan", "alpha", "Zulu"][: i % 4 + 1]} if i % 2 else {})} for i in range(6)]
    with Memory(HASH128) as fm, Memory(pg_config(pg_url, pg_collection)) as pm:
        for m in (fm, pm):
            m.add_records(recs)
        want = fm.search("Rex note", user_id="u1", limit=6)["results"]
        got = pm.search("Rex note", user_id="u1", limit=6)["results"]
        assert [g["memory"] for g in got] == [w["memory"] for w in want]
        assert any(len(g["categories"]) > 1 for g in got)
        for w, g in zip(want, got):
            assert g["categories"] == w["categories"] == sorted(w["categories"])
            stored = pm.get(g["id"])
            assert {k: g[k] for k in stored if k in g} == {k: stored[k] for k in stored if k in g}


def test_dense_scope_size_is_read_from_the_statistics_unless_rows_may_have_expired(pg_url, pg_collection):
    """log_n of a dense search: the scope statistics when they are exact, else a recount (an expiring row)."""
    with Memory(pg_config(pg_url, pg_collection)) as m:
        for i in range(5):
            m.add(f"gardening note {i}", user_id="u", infer=False)
        m.add("gardening elsewhere", user_id="v", infer=False)

        def log_n(**scope):
            res = m.search("gardening", mode="dense", explain=True, limit=2, **scope)["results"]
            return res[0]["explain"]["calibration"]["features"]["log_n"]["value"]

        assert log_n(user_id="u") == pytest.approx(math.log(5))
        m.add("gardening that expired", user_id="u", infer=False, expiration_date="2000-01-01")
        m.add("gardening that will expire", user_id="u", infer=False, expiration_date="2999-01-01")
        assert log_n(user_id="u") == pytest.approx(math.log(6))  # the expired one is not allowed
        assert log_n(user_id="u", filters={"memory": {"contains": "note"}}) == pytest.approx(math.log(5))  # no scope
        with m.store._conn() as conn:  # the statistics say 7: a dense search must not have read them
            assert conn.execute(f"SELECT n_docs FROM {pg_collection}_scope_stats WHERE user_id = 'u'").fetchone()[0] == 7


def test_keyword_and_hybrid_read_the_scope_statistics_and_cached_vocabulary(pg_url, pg_collection):
    """Keyword and hybrid BM25 with N / total length from the statistics (a recount when a row may have
    expired) and the idf floor's vocabulary from fusion's cache equal the FAISS engine's."""
    texts = ["dog and park", "park beach with Rex", "park violin lesson", "pizza in Lyon", "Rex park park"]
    with Memory(HASH128) as fm, Memory(pg_config(pg_url, pg_collection)) as pm:
        for m in (fm, pm):
            for t in texts:
                m.add(t, user_id="u1", infer=False)
                m.add(t + " again", user_id="u2", infer=False)
            m.add("park park Lyon", user_id="u2", infer=False, expiration_date="2000-01-01")  # expired

        def same(query, **scope):
            for mode in ("keyword", "hybrid"):
                want = fm.search(query, mode=mode, **scope)["results"]
                got = pm.search(query, mode=mode, **scope)["results"]
                assert [g["memory"] for g in got] == [w["memory"] for w in want], (query, mode)
                for w, g in zip(want, got):
                    assert g["keyword_score"] == pytest.approx(w["keyword_score"], rel=1e-12)
                    assert g["score"] == pytest.approx(w["score"], abs=1e-5)  # cosines: float rounding
            return got

        for _ in range(2):  # "park" is in most rows: a negative idf, floored by the vocabulary's mean idf
            for user in ("u1", "u2"):
                same("park Lyon", user_id=user)
                same("Rex", user_id=user)
            pm.search("park", user_id="u1")  # fusion: caches u1's vocabularies at its version
        cache = pm.store.scope_cache
        key = next(k for k in cache._d if k[0] == (("user_id", "u1"),))
        version, payload = cache.peek(key)

        def scores():
            return {r["memory"]: r["keyword_score"] for r in pm.search("park Lyon", user_id="u1", mode="keyword")["results"]}

        before = scores()
        cache.put(key, version, {**payload, "keyword": [1] * 50})  # a wrong vocabulary at the current version ...
        assert scores()["Rex park park"] != before["Rex park park"]
        pm.add("the end", user_id="u1", infer=False)  # ... is not read once the scope moved
        fm.add("the end", user_id="u1", infer=False)
        same("park Lyon", user_id="u1")


def test_a_vocabulary_is_counted_only_when_a_search_needs_it(pg_url, pg_collection):
    """A scope's first fusion search counts a BM25 vocabulary only for a negative idf; a later search at the same
    version that needs one gets every row's terms again, counts it and keeps what was counted before."""
    texts = ["dog and park", "park beach with Rex", "park violin lesson", "pizza in Lyon", "Rex park park"]
    with Memory(HASH128) as fm, Memory(pg_config(pg_url, pg_collection)) as pm:
        for m in (fm, pm):
            for t in texts:  # no context windows: the context channels are the plain ones
                m.add(t, user_id="u1", infer=False)
        cache = pm.store.scope_cache

        def same(query):
            want = fm.search(query, user_id="u1", explain=True)["results"]
            got = pm.search(query, user_id="u1", explain=True)["results"]
            assert [g["memory"] for g in got] == [w["memory"] for w in want], query
            for w, g in zip(want, got):
                for ch, nums in w["explain"]["channels"].items():
                    assert g["explain"]["channels"][ch]["raw"] == pytest.approx(nums["raw"], abs=1e-6), (query, ch)
            (_, payload), = cache._d.values()
            return set(payload)

        assert same("violin lesson") == set()  # rare terms only: nothing counted, nothing needed
        assert cache.misses == 1 and cache.hits == 0
        assert same("pizza") == set()
        assert same("park") == {"keyword", "keyword_context"}  # in most rows: the idf floor needs it
        assert same("park Lyon") == {"keyword", "keyword_context"}
        assert (cache.misses, cache.hits) == (3, 1)  # the last one from the cache


def test_a_vocabulary_counted_before_is_kept_at_the_same_version(pg_url, pg_collection):
    """With context windows a query may need only the context vocabulary; a later one needing the other
    counts it and keeps the first (then both come from the cache)."""
    texts = ["dog and park", "park beach with Rex", "park violin lesson", "pizza in Lyon", "Rex park park"]
    with Memory(HASH128) as fm, Memory(pg_config(pg_url, pg_collection)) as pm:
        for m in (fm, pm):
            m.add([{"role": "user", "content": t, "name": "Ana"} for t in texts], user_id="u1", infer=False)
        cache = pm.store.scope_cache
        seen = []
        for query in ("violin lesson", "park", "violin park"):
            want = fm.search(query, user_id="u1")["results"]
            got = pm.search(query, user_id="u1")["results"]
            assert [g["memory"] for g in got] == [w["memory"] for w in want], query
            assert [g["score"] for g in got] == pytest.approx([w["score"] for w in want], abs=1e-6)
            (_, payload), = cache._d.values()
            seen.append((set(payload), cache.hits))
        assert seen == [({"keyword_context"}, 0), ({"keyword", "keyword_context"}, 0),
                        ({"keyword", "keyword_context"}, 1)]


def test_a_context_window_holding_the_separator_is_read_again_as_an_array(pg_url, pg_collection):
    """The fallback path for context documents: a row whose context terms do not check as text is read again,
    and its context BM25 is what it would be with an ordinary term of the same length in that place."""
    msgs = [{"role": "user", "content": "Rex ran to the park"}, {"role": "assistant", "content": "a note on pizza"},
            {"role": "user", "content": "Rex and the dog at the beach"}, {"role": "assistant", "content": "violin"}]
    with Memory(pg_config(pg_url, pg_collection)) as m:
        m.add(msgs, user_id="u1", infer=False)

        def context_scores(term: str) -> dict:
            with m.store._conn() as conn:
                conn.execute(f"UPDATE {pg_collection} SET context_tokens = context_tokens[1:cardinality(context_tokens) - 1]"
                             " || ARRAY[%s] WHERE memory = 'a note on pizza'", (term,))
            res = m.search("rex beach", user_id="u1", explain=True, limit=10)["results"]
            return {r["memory"]: r["explain"]["channels"]["keyword_context"]["raw"] for r in res}

        with m.store._conn() as conn:  # one extra term in the row's context, replaced below
            conn.execute(f"UPDATE {pg_collection} SET context_tokens = context_tokens || ARRAY['placeholder'] "
                         "WHERE memory = 'a note on pizza'")
        plain = context_scores("oddxterm")
        odd = context_scores("odd\x1fterm")
        assert plain["a note on pizza"] != 0  # its window holds "rex" and "beach" from its neighbours
        assert odd == pytest.approx(plain, rel=1e-12)


def test_search_statements_are_prepared_once_per_connection(pg_url, pg_collection):
    """Fusion (scoped, and with another filter), keyword BM25 and a dense search's scope size run as server-side
    prepared statements (planning costs 0.2-0.4 ms a search otherwise): after one search of each, the pool's one
    connection holds each of them prepared."""
    with Memory(pg_config(pg_url, pg_collection, minconn=1, maxconn=1)) as m:
        for i in range(4):
            m.add(f"Rex note {i} about the park", user_id="u1", infer=False, metadata={"i": i})
        for mode in ("fusion", "keyword", "dense"):
            assert m.search("Rex park", user_id="u1", mode=mode)["results"]
        assert m.search("Rex park", user_id="u1", filters={"i": {"gte": 1}})["results"]  # not a bare scope
        with m.store._conn() as conn:
            prepared = [r[0] for r in conn.execute("SELECT statement FROM pg_prepared_statements").fetchall()]
    scoped_fusion = [s for s in prepared if "<#>" in s and "_scope_stats" in s]
    other_fusion = [s for s in prepared if "<#>" in s and "_scope_stats" not in s]
    bm25 = [s for s in prepared if "unnest" in s and "_scope_stats" in s and "<#>" not in s]
    size = [s for s in prepared if s.lstrip().startswith("SELECT coalesce((SELECT s.n")]
    assert (len(scoped_fusion), len(other_fusion), len(bm25), len(size)) == (1, 1, 1, 1), prepared
