"""The keyword analyzer on hand-worked examples, and the BM25 index over it."""

from __future__ import annotations

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from memlab import Memory
from memlab.errors import ConfigError
from memlab.ranking.analyzer import Analyzer
from memlab.ranking.keyword_index import KeywordIndex


def test_english_pipeline_by_hand():
    a = Analyzer()
    # tokens: she was painting sunsets in bogotá; stop words she/was/in go; Snowball stems the rest
    assert a.analyze("She was painting sunsets in Bogotá!") == ["paint", "sunset", "bogotá"]
    # apostrophes split; "i", "m", "don", "t" are stop words
    assert a.analyze("I'm running, don't stop") == ["run", "stop"]
    assert a.tokens("Adoption agencies") == ["adoption", "agencies"]
    assert a.analyze("Adoption agencies adopted") == ["adopt", "agenc", "adopt"]
    assert a.analyze("the of and") == []  # only stop words: no terms
    assert a.analyze("") == []


def test_unicode_case_and_digits():
    a = Analyzer()
    assert a.analyze("ÉCOLE Straße 42 ÇA") == ["école", "straße", "42", "ça"]
    assert a.analyze("東京 tokyo") == ["東京", "tokyo"]


def test_options_language_and_stop_words():
    assert Analyzer(None, False).analyze("The Running dogs") == ["the", "running", "dogs"]
    assert Analyzer("english", False).analyze("The Running dogs") == ["the", "run", "dog"]
    assert Analyzer("english", ["dogs"]).analyze("The dogs run") == ["the", "run"]
    # a language without a shipped stop list stems but keeps every token
    assert Analyzer("german").analyze("die Häuser") == ["die", "haus"]
    with pytest.raises(ConfigError, match="Snowball"):
        Analyzer("klingon")


def test_index_equals_rank_bm25_with_the_same_analyzer_and_parameters():
    texts = ["I adopted two dogs", "The dog is adopting habits", "Cats are fine", "dogs dogs dogs and cats"]  # (rank_bm25 gives NaN for empty docs)
    a = Analyzer()
    for k1, b in ((1.5, 0.75), (0.9, 0.4), (1.2, 1.0)):
        index = KeywordIndex.build(texts, analyzer=a, k1=k1, b=b)
        ref = BM25Okapi([a.analyze(t) for t in texts], k1=k1, b=b)
        allowed = np.arange(len(texts))
        mask = np.ones(len(texts), dtype=bool)
        for q in ("adopted dog", "cats", "the dogs and cats"):
            pos, scores = index.score(q, allowed, mask)
            want = np.asarray(ref.get_scores(a.analyze(q)))
            got = np.zeros(len(texts))
            got[pos] = scores
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_config_reaches_the_engine():
    m = Memory({"embedder": {"provider": "hash"}, "vector_store": {"provider": "faiss", "config": {
        "keyword_language": "none", "keyword_stop_words": False, "bm25_k1": 1.2, "bm25_b": 0.75}}})
    m.add("running dogs", user_id="u", infer=False)
    assert m.search("running", user_id="u", mode="keyword")["results"]
    assert m.search("run", user_id="u", mode="keyword")["results"] == []  # no stemming configured
    idx = m.store.table.keyword_index()
    assert (idx.k1, idx.b, idx.analyzer.language) == (1.2, 0.75, None)
    m.close()
    stemmed = Memory({"embedder": {"provider": "hash"}})
    stemmed.add("running dogs", user_id="u", infer=False)
    assert stemmed.search("run", user_id="u", mode="keyword")["results"]
    stemmed.close()
    with pytest.raises(ConfigError):
        Memory({"embedder": {"provider": "hash"}, "vector_store": {"provider": "faiss", "config": {
            "keyword_language": "klingon"}}})


def test_small_scope_in_a_big_store_scores_exactly_like_rank_bm25():
    """A scope much smaller than the query terms' postings is scored from its rows' term lists
    (the scope-sized path); the numbers and ties must equal rank_bm25 over the scope alone."""
    a = Analyzer()
    mine = ["the dog chews shoes", "dog dog walk", "shoes and socks", "a cat", "dog", "walk the dog daily",
            "socks for the dog"]
    others = [f"dog walk shoes number {i}" for i in range(400)]
    texts = others + mine
    index = KeywordIndex.build(texts, analyzer=a, k1=0.9, b=0.4)
    allowed = np.arange(len(others), len(texts))
    mask = np.zeros(len(texts), dtype=bool)
    mask[allowed] = True
    ref = BM25Okapi([a.analyze(t) for t in mine], k1=0.9, b=0.4)
    for q, scope_path in (("dog shoes", True), ("dog dog walk", True), ("cat dog", True), ("socks", False),
                          ("unknown words", False)):
        terms = [index.vocab[t] for t in set(a.analyze(q)) if t in index.vocab]
        assert (len(allowed) * 16 < sum(len(index.postings[t]) for t in terms)) == scope_path
        pos, scores = index.score(q, allowed, mask)
        got = np.zeros(len(mine))
        got[pos - len(others)] = scores
        want = np.asarray(ref.get_scores(a.analyze(q)))
        np.testing.assert_array_equal(got[want != 0] if len(pos) else got, want[want != 0] if len(pos) else want)
        assert set((pos - len(others)).tolist()) == set(np.flatnonzero(want != 0).tolist())


def test_scope_cache_is_dropped_by_a_write():
    """The scope-sized path caches a scope's term lists; a write to any row must invalidate them,
    so a repeated search sees the new text and still equals rank_bm25 exactly."""
    a = Analyzer()
    mine = ["the dog chews shoes", "dog dog walk", "shoes and socks", "walk the dog daily"]
    others = [f"dog walk shoes number {i}" for i in range(400)]
    index = KeywordIndex.build(others + mine, analyzer=a, k1=0.9, b=0.4)
    allowed = np.arange(len(others), len(others) + len(mine))
    mask = np.zeros(len(others) + len(mine), dtype=bool)
    mask[allowed] = True

    def check(texts):
        ref = BM25Okapi([a.analyze(t) for t in texts], k1=0.9, b=0.4)
        pos, scores = index.score("dog shoes", allowed, mask)
        got = np.zeros(len(texts))
        got[pos - len(others)] = scores
        want = np.asarray(ref.get_scores(a.analyze("dog shoes")))
        np.testing.assert_array_equal(got, np.where(want != 0, want, 0.0))

    check(mine)
    check(mine)  # served from the scope cache: same numbers
    assert index._scope_cache
    mine[2] = "shoes shoes dog"
    index.set(len(others) + 2, mine[2])
    assert not index._scope_cache
    check(mine)


def test_scope_term_lists_gathered_from_flat_segments_after_growth_and_rewrites():
    """The scope-sized path gathers term lists from flat append-only arrays: after the arrays grow
    and rows are rewritten (a new segment each), a scattered scope must see exactly each row's
    current terms, and score exactly like rank_bm25 over that scope."""
    a = Analyzer()
    rng = np.random.default_rng(3)
    words = ["dog", "walk", "shoes", "socks", "cat", "daily", "park", "rain", "sun", "tea", "bread", "lake"]
    texts = [" ".join(rng.choice(words, rng.integers(1, 9))) for _ in range(3000)]
    index = KeywordIndex.build(texts, analyzer=a, k1=0.9, b=0.4)
    for pos in rng.choice(len(texts), 300, replace=False).tolist():  # rewrites: new segments
        texts[pos] = " ".join(rng.choice(words, rng.integers(1, 9)))
        index.set(pos, texts[pos])
    index.set(len(texts), "dog park rain")  # one more row past the initial capacity
    texts.append("dog park rain")
    allowed = np.arange(5, len(texts), 37)
    terms, rows, tfs = index._scope_terms(allowed)
    for i, pos in enumerate(allowed.tolist()):
        np.testing.assert_array_equal(terms[rows == i], index.doc_terms[pos])
        np.testing.assert_array_equal(tfs[rows == i], index.doc_tfs[pos])
    mask = np.zeros(len(texts), dtype=bool)
    mask[allowed] = True
    scope = [texts[p] for p in allowed.tolist()]
    ref = BM25Okapi([a.analyze(t) for t in scope], k1=0.9, b=0.4)
    for q in ("dog park", "rain rain sun", "bread"):
        pos, scores = index._score_forward(a.analyze(q), allowed, float(index.doc_len[allowed].mean()))
        got = np.zeros(len(scope))
        got[np.searchsorted(allowed, pos)] = scores
        np.testing.assert_allclose(got, np.asarray(ref.get_scores(a.analyze(q))), rtol=1e-12, atol=1e-12)


def test_an_add_keeps_other_scopes_cached_and_stays_exact():
    """A new row past every cached subset (an add) leaves the cached scopes valid; a rewrite of a
    cached row drops them. Either way scores equal rank_bm25 over the scope's current texts."""
    a = Analyzer()
    texts = [f"dog walk {'shoes' if i % 3 else 'socks'} number {i}" for i in range(600)]
    index = KeywordIndex.build(texts, analyzer=a, k1=0.9, b=0.4)
    scope_a = np.arange(0, 600, 50)  # a small scope: scored from the cache

    def check(allowed):
        mask = np.zeros(len(texts), dtype=bool)
        mask[allowed] = True
        pos, scores = index.score("dog socks", allowed, mask)
        ref = BM25Okapi([a.analyze(texts[p]) for p in allowed.tolist()], k1=0.9, b=0.4)
        got = np.zeros(len(allowed))
        got[np.searchsorted(allowed, pos)] = scores
        np.testing.assert_allclose(got, ref.get_scores(a.analyze("dog socks")), rtol=1e-12, atol=1e-12)

    check(scope_a)
    cached = dict(index._scope_cache)
    assert cached
    texts.append("dog socks socks")  # another user's new memory
    index.set(len(texts) - 1, texts[-1])
    assert index._scope_cache == cached  # still warm
    check(scope_a)
    check(np.append(scope_a, len(texts) - 1))  # a scope holding the new row is exact too
    texts[100] = "socks socks socks dog"  # a cached row rewritten
    index.set(100, texts[100])
    assert not index._scope_cache
    check(scope_a)


def test_interleaved_writes_and_searches_equal_a_fresh_store(hash_config, tmp_path):
    """Adds, updates and deletes across users between searches: every default (fusion) search of a
    live store equals the same search after re-opening it (indexes rebuilt from disk)."""
    from memlab import Memory

    cfg = {**hash_config, "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "s")}}}
    rng = np.random.default_rng(7)
    words = ["dog", "walk", "shoes", "socks", "cat", "park", "rain", "tea", "bread", "lake"]
    m = Memory(cfg)
    # a big other scope makes the query terms' postings long, so the small scopes below are scored
    # on the scope-sized (cached) path
    m.add_records([{"memory": " ".join(rng.choice(words, 5)), "user_id": "filler"} for _ in range(1500)])
    ids = {u: [] for u in ("ana", "bo", "cy")}
    queries = ["dog walk", "tea and bread", "rain at the lake", "socks"]
    seen = []
    cached = 0
    for step in range(60):
        user = str(rng.choice(list(ids)))
        op = rng.random()
        if op < 0.6 or not ids[user]:
            msgs = [{"role": "user", "content": " ".join(rng.choice(words, 4))} for _ in range(2)]
            ids[user] += [r["id"] for r in m.add(msgs, user_id=user, infer=False)["results"]]
        elif op < 0.8:
            m.update(str(rng.choice(ids[user])), " ".join(rng.choice(words, 3)))
        else:
            gone = str(rng.choice(ids[user]))
            m.delete(gone)
            ids[user].remove(gone)
        for u in ids:
            q = queries[step % len(queries)]
            live = [(r["id"], r["score"]) for r in m.search(q, user_id=u)["results"]]
            table = m.store.table
            cached += bool(table.keyword_index()._scope_cache)
            for index in (table.keyword_index(), table.context_keyword_index()):
                index._scope_cache.clear()  # what a cache-free search gives
                index._mean_idf_cache.clear()
                index._cached_upto = -1
            assert live == [(r["id"], r["score"]) for r in m.search(q, user_id=u)["results"]], (step, u, q)
            seen.append(live)
    final = [(u, q, [(r["id"], round(r["score"], 9)) for r in m.search(q, user_id=u)["results"]])
             for u in ids for q in queries]
    m.close()
    again = Memory(cfg)
    assert [(u, q, [(r["id"], round(r["score"], 9)) for r in again.search(q, user_id=u)["results"]])
            for u in ids for q in queries] == final
    again.close()
    assert len(seen) == 180 and cached > 150  # the cache was really used
