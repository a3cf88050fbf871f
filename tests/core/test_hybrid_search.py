"""Keyword (BM25) and hybrid (RRF) search in the engine: exactness against rank_bm25 with the same
analyzer (Snowball stems, stop words) and BM25 parameters, incremental
maintenance of the keyword index, scoped statistics, fusion order, threshold and mode validation,
and retrieval quality on LoCoMo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rank_bm25 import BM25Okapi

from memlab import Memory
from memlab.errors import ConfigError, ValidationError
from memlab.store import filters as F
from memlab.ranking.analyzer import default_analyzer
from memlab.ranking.fusion import fuse
from memlab.ranking.keyword_index import KeywordIndex

ANALYZE = default_analyzer().analyze
K1, B = 0.9, 0.4  # the config's defaults (vector_store.config.bm25_k1 / bm25_b)


def tokenize(text: str) -> list[str]:
    """The engine's index terms of a text (what 'contains a query token' means)."""
    return ANALYZE(text)

# "the" and "i" are in more than half of alice's memories: their idf is negative and gets
# rank_bm25's epsilon floor, so the floor's scoped mean idf is exercised too.
ALICE = [
    "I like the pizza at the corner",
    "The dog barks at the mailman",
    "I went hiking in the Alps last summer",
    "My sister lives in the city of Lyon",
    "I am allergic to peanuts",
    "the weather in Lyon is mild, the food is great",
    "Pizza pizza pizza: I could eat it every day",
    "I play the violin on Sundays",
    "We adopted a dog named Rex",
    "The Alps are beautiful in winter",
]
BOB = [
    "Bob repairs bikes",
    "Bob likes pizza with pineapple",
    "the bike shop opens at nine",
    "pizza night is Friday",
]
QUERIES = [
    "pizza", "Where does my sister live?", "the dog", "the the pizza", "I", "Alps winter hiking",
    "unknownword", "Rex the dog and the pizza", "peanuts allergy", "Lyon food",
]


def _hash_memory(path=None, **vs) -> Memory:
    config = {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}
    if path is not None or vs:
        config["vector_store"] = {"provider": "faiss", "config": {**vs, **({"path": str(path)} if path else {})}}
    return Memory(config)


def _fill(m: Memory) -> dict[str, str]:
    ids = {}
    for text in ALICE:
        ids[text] = m.add(text, user_id="alice", infer=False)["results"][0]["id"]
    for text in BOB:
        ids[text] = m.add(text, user_id="bob", infer=False)["results"][0]["id"]
    return ids


def _reference(texts: list[str], query: str) -> np.ndarray:
    return np.asarray(BM25Okapi([tokenize(t) for t in texts], k1=K1, b=B).get_scores(tokenize(query)), dtype=float)


def _engine_scores(m: Memory, query: str, user_id: str) -> dict[str, float]:
    """BM25 of every allowed memory (0 for memories without a query token), by text."""
    store = m.store
    mask = store.mask(F.parse({"user_id": user_id}))
    allowed = np.flatnonzero(mask)
    pos, scores = store.table.keyword_index().score(query, allowed, mask)
    out = {store.table.row(int(p))["memory"]: 0.0 for p in allowed}
    out.update({store.table.row(int(p))["memory"]: float(s) for p, s in zip(pos, scores)})
    return out


def _postings(index: KeywordIndex, n: int) -> tuple[dict, list]:
    """Comparable content of an index: token -> {position: tf} (non-empty) and row lengths."""
    post = {tok: dict(index.postings[tid]) for tok, tid in index.vocab.items() if index.postings[tid]}
    return post, index.doc_len[:n].tolist()


def _assert_matches_fresh_build(m: Memory) -> None:
    t = m.store.table
    assert t.keyword is not None, "the keyword index should be maintained, not dropped"
    fresh = KeywordIndex.build(t.column("memory"), k1=K1, b=B)
    assert _postings(t.keyword, t.n) == _postings(fresh, t.n)
    mask = m.store.mask(None)
    allowed = np.flatnonzero(mask)
    for q in QUERIES:
        a_pos, a_scores = t.keyword.score(q, allowed, mask)
        b_pos, b_scores = fresh.score(q, allowed, mask)
        assert a_pos.tolist() == b_pos.tolist()
        np.testing.assert_allclose(a_scores, b_scores, rtol=1e-12)


# --------------------------------------------------------------------------- BM25 exactness
@pytest.mark.parametrize("query", QUERIES)
def test_bm25_equals_rank_bm25_on_a_scope(mem, query):
    _fill(mem)
    got = _engine_scores(mem, query, "alice")
    want = _reference(ALICE, query)
    np.testing.assert_allclose([got[t] for t in ALICE], want, rtol=1e-9, atol=1e-12)


def _word(i: int) -> str:
    return "q" + "".join(chr(97 + (i // 26 ** k) % 26) for k in range(3)) + "z"


def test_bm25_floor_of_frequent_terms_equals_rank_bm25_in_small_and_large_scopes():
    """A term in more than half of a scope's rows has a negative idf, which rank_bm25 floors at 0.25 x the
    scope's mean idf. Checked on a small scope in a large vocabulary (scored from its rows' term lists)
    and on a large scope (scored from the postings), twice each (the mean idf is cached per scope), and
    again after a write changes the scope."""
    carol = ["pizza tonight with Ana", "pizza and pasta", "cold pizza for breakfast", "the best pizza in Naples",
             "a walk by the river", "pizza pizza"]
    dave = [f"pizza {_word(i)} {_word(i + 500)}" for i in range(100)]
    index = KeywordIndex.build(carol + dave, k1=K1, b=B)
    n = len(carol) + len(dave)
    queries = {"carol": ["pizza", "pizza river", "Naples pizza breakfast", "river"],
               "dave": ["pizza", f"pizza {_word(3)}", f"{_word(7)} {_word(507)}"]}
    for _ in range(2):
        for who, rows, docs in (("carol", np.arange(6), carol), ("dave", np.arange(6, n), dave)):
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            for q in queries[who]:
                want = _reference(docs, q)
                pos, scores = index.score(q, rows, mask)
                got = np.zeros(len(docs))
                got[pos - rows[0]] = scores
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"{who}: {q}")
    assert np.log((6 - 5 + 0.5) / (5 + 0.5)) < 0  # pizza's idf in carol's scope: the floor is what is tested
    index.set(n, "pizza with the river view")  # carol's scope grows: its cached mean idf must not be reused
    rows = np.append(np.arange(6), n)
    mask = np.zeros(n + 1, dtype=bool)
    mask[rows] = True
    docs = carol + ["pizza with the river view"]
    pos, scores = index.score("pizza river", rows, mask)
    got = dict(zip(pos.tolist(), scores.tolist()))
    np.testing.assert_allclose([got.get(int(r), 0.0) for r in rows], _reference(docs, "pizza river"), rtol=1e-9)


def test_bm25_ceiling_is_the_sum_of_idf_times_k1_plus_1():
    """The query's BM25 ceiling (what ``bm25_score`` divides by) is Σ idf·(k1 + 1) over the query's terms
    in query order (a repeated term counts again; a term no document holds adds nothing), and no document
    reaches it."""
    from memlab.ranking.bm25 import bm25_of_docs

    docs = [tokenize(t) for t in ALICE]
    n = len(docs)
    for q in ("pizza pizza Lyon unknownword", "Alps", "dog Rex peanuts"):
        stats: dict = {}
        scores = bm25_of_docs(tokenize(q), docs, k1=K1, b=B, stats=stats)
        dfs = [sum(t in d for d in docs) for t in tokenize(q)]
        want = sum(np.log(n - df + 0.5) - np.log(df + 0.5) for df in dfs if df) * (K1 + 1)
        assert stats["ceiling"] == pytest.approx(want, rel=1e-12) and want > 0, q
        assert 0 < scores.max() < want
        np.testing.assert_allclose(scores, _reference(ALICE, q), rtol=1e-9, atol=1e-12)


def test_keyword_search_results_carry_bm25_and_rrf(mem):
    _fill(mem)
    res = mem.search("Rex the dog and the pizza", user_id="alice", mode="keyword", limit=20)["results"]
    ref = dict(zip(ALICE, _reference(ALICE, "Rex the dog and the pizza")))
    matched = [t for t in ALICE if set(tokenize(t)) & set(tokenize("Rex the dog and the pizza"))]
    assert sorted(r["memory"] for r in res) == sorted(matched)  # only memories holding a query token
    want_order = sorted(matched, key=lambda t: (-ref[t], ALICE.index(t)))
    assert [r["memory"] for r in res] == want_order
    for r in res:
        assert r["keyword_score"] == pytest.approx(ref[r["memory"]], rel=1e-9)
        assert r["user_id"] == "alice"
    scores = [r["score"] for r in res]  # the calibrated relevance, increasing in BM25
    assert scores == sorted(scores, reverse=True) and all(0.0 <= x <= 1.0 for x in scores)
    assert mem.search("zzz qqq", user_id="alice", mode="keyword")["results"] == []


def test_every_mode_reports_the_same_bm25_and_query_ceiling(mem):
    """keyword, hybrid and fusion search look up the same BM25 per memory (the last-added memory holding a
    query term included) and the same query ceiling (``max_possible_score`` > 0), so ``bm25_score`` is the
    same share in every mode."""
    _fill(mem)
    mem.add("Rex ate the whole pizza", user_id="alice", infer=False)  # the newest row holds query terms
    q = "Rex the dog and the pizza"
    by_mode = {mode: {r["memory"]: r for r in mem.search(q, user_id="alice", mode=mode, limit=50,
                                                         explain=True)["results"]}
               for mode in ("keyword", "hybrid", "fusion")}
    ref = dict(zip(ALICE + ["Rex ate the whole pizza"], _reference(ALICE + ["Rex ate the whole pizza"], q)))
    assert "Rex ate the whole pizza" in by_mode["keyword"]
    ceilings = set()
    for mode, res in by_mode.items():
        for text, r in res.items():
            assert r["keyword_score"] == pytest.approx(ref[text], rel=1e-9), (mode, text)
            d = r["score_details"]
            ceilings.add(round(d["max_possible_score"], 9))
            assert d["bm25_score"] == pytest.approx(min(ref[text] / d["max_possible_score"], 1.0)), (mode, text)
    assert len(ceilings) == 1 and ceilings.pop() > 0
    assert by_mode["keyword"]["Rex ate the whole pizza"]["score_details"]["bm25_score"] > 0


def test_scoped_statistics(mem):
    _fill(mem)
    # "pizza" is rare for alice and frequent for bob: each scope's idf is its own
    for user, texts in (("alice", ALICE), ("bob", BOB)):
        got = _engine_scores(mem, "pizza the bike", user)
        np.testing.assert_allclose([got[t] for t in texts], _reference(texts, "pizza the bike"), rtol=1e-9)
    # a filter narrower than the scope: statistics over exactly the filtered rows
    ids = [r["id"] for r in mem.get_all(user_id="alice")["results"]][:6]
    res = mem.search("the pizza", user_id="alice", filters={"id": {"in": ids}}, mode="keyword", limit=10)["results"]
    ref = dict(zip(ALICE[:6], _reference(ALICE[:6], "the pizza")))
    assert {r["memory"]: r["keyword_score"] for r in res} == pytest.approx({t: ref[t] for t in ref if ref[t] != 0
                                                                            or "the" in tokenize(t)})
    # whole-store search (no scope): statistics over every active memory
    got = {r["memory"]: r["keyword_score"] for r in mem.search("pizza", mode="keyword", limit=50, all_scopes=True)["results"]}
    ref_all = dict(zip(ALICE + BOB, _reference(ALICE + BOB, "pizza")))
    assert got == pytest.approx({t: s for t, s in ref_all.items() if "pizza" in tokenize(t)})


# --------------------------------------------------------------------------- incremental maintenance
def test_index_is_lazy_then_maintained_on_writes(mem):
    ids = _fill(mem)
    assert mem.store.table.keyword is None  # dense-only use builds nothing
    mem.search("pizza", user_id="alice", mode="dense")
    assert mem.store.table.keyword is None
    mem.search("pizza", user_id="alice", mode="hybrid")
    _assert_matches_fresh_build(mem)
    new = mem.add("Rex loves pizza crusts", user_id="alice", infer=False)["results"][0]["id"]
    _assert_matches_fresh_build(mem)
    mem.update(ids["I am allergic to peanuts"], "I am allergic to shellfish, not peanuts")
    mem.update(ids["The dog barks at the mailman"], metadata={"k": 1})  # text unchanged
    _assert_matches_fresh_build(mem)
    mem.delete(ids["Pizza pizza pizza: I could eat it every day"])
    mem.set_state(new, "paused")
    _assert_matches_fresh_build(mem)
    texts = [r["memory"] for r in mem.search("pizza", user_id="alice", mode="keyword", limit=50)["results"]]
    assert "Pizza pizza pizza: I could eat it every day" not in texts and "Rex loves pizza crusts" not in texts
    # scoped scores after the writes still equal a BM25 built over the scope's current memories
    alive = [r["memory"] for r in mem.get_all(user_id="alice", limit=100)["results"]]
    got = _engine_scores(mem, "the peanuts pizza", "alice")
    np.testing.assert_allclose([got[t] for t in alive], _reference(alive, "the peanuts pizza"), rtol=1e-9)
    mem.reset()
    assert mem.store.table.keyword is not None and mem.store.table.n == 0
    mem.add("pizza after the reset", user_id="alice", infer=False)
    _assert_matches_fresh_build(mem)
    res = mem.search("pizza", user_id="alice", mode="keyword")["results"]
    assert [r["memory"] for r in res] == ["pizza after the reset"]


def test_reopen_and_writes_from_another_connection(tmp_path):
    m = _hash_memory(tmp_path / "s")
    ids = _fill(m)
    m.search("pizza", user_id="alice", mode="keyword")
    other = _hash_memory(tmp_path / "s")  # a second connection: its writes reach `m` through sync
    other.update(ids["I like the pizza at the corner"], "I like the sushi at the corner")
    other.add("Sushi and pizza on Friday", user_id="alice", infer=False)
    res = m.search("sushi", user_id="alice", mode="keyword")["results"]
    assert sorted(r["memory"] for r in res) == ["I like the sushi at the corner", "Sushi and pizza on Friday"]
    _assert_matches_fresh_build(m)
    m.close()
    reopened = _hash_memory(tmp_path / "s")
    assert reopened.store.table.keyword is not None  # saved at close, restored at open (memlab.store.faiss.keyword_cache)
    before = reopened.search("the sushi pizza", user_id="alice", mode="hybrid", limit=20)["results"]
    assert [r["memory"] for r in before] == [r["memory"] for r in other.search(
        "the sushi pizza", user_id="alice", mode="hybrid", limit=20)["results"]]
    reopened.add("more sushi", user_id="alice", infer=False)
    _assert_matches_fresh_build(reopened)
    other.reset()  # another connection's reset: full reload keeps the index on
    reopened.add("sushi again", user_id="alice", infer=False)
    _assert_matches_fresh_build(reopened)
    assert [r["memory"] for r in reopened.search("sushi", user_id="alice", mode="keyword")["results"]] == [
        "sushi again"]
    reopened.close()
    other.close()


# --------------------------------------------------------------------------- fusion
def test_fuse_by_hand():
    got = fuse([np.array([5, 3, 7]), np.array([3, 9])], 60)
    assert [p for p, _ in got] == [3, 5, 9, 7]
    assert [s for _, s in got] == pytest.approx([1 / 62 + 1 / 61, 1 / 61, 1 / 62, 1 / 63])
    # equal RRF values: the first ranking (dense) decides, then position
    assert [p for p, _ in fuse([np.array([10, 20]), np.array([20, 10])], 60)] == [10, 20]
    assert [p for p, _ in fuse([np.array([], dtype=np.int64), np.array([4, 2])], 0)] == [4, 2]


def test_hybrid_candidates_and_rrf_of_dense_and_keyword(mem):
    """Hybrid: the dense and BM25 rankings' candidates, ordered by the calibrated score; their reciprocal-rank
    fusion is a feature of it and shown in ``explain``."""
    _fill(mem)
    q = "Rex the dog and the pizza"
    dense_res = mem.search(q, user_id="alice", limit=100, mode="dense", explain=True)["results"]
    dense = [r["memory"] for r in dense_res]
    kw_res = mem.search(q, user_id="alice", mode="keyword", limit=100)["results"]
    kw = [r["memory"] for r in kw_res]
    cos_of = {r["memory"]: r["score_details"]["semantic_score"] for r in dense_res}
    bm_of = {r["memory"]: r["keyword_score"] for r in kw_res}

    def rank(of, t):  # equal values share the best rank
        return 1 + sum(v > of[t] for v in of.values())

    def rrf_at(k):
        return {t: 1 / (k + rank(cos_of, t)) + (1 / (k + rank(bm_of, t)) if t in kw else 0) for t in dense}

    rrf = rrf_at(60)
    res = mem.search(q, user_id="alice", mode="hybrid", limit=100, explain=True)["results"]
    assert sorted(r["memory"] for r in res) == sorted(dense)
    assert {r["memory"]: r["explain"]["fused"] for r in res} == pytest.approx(rrf)
    scores = [r["score"] for r in res]
    assert scores == sorted(scores, reverse=True)
    cos = {r["memory"]: r["score_details"]["semantic_score"] for r in dense_res}
    assert {r["memory"]: r["score_details"]["semantic_score"] for r in res} == pytest.approx(cos)
    assert all(r["keyword_score"] == 0 for r in res if r["memory"] not in kw)
    # the best of both rankings leads
    assert res[0]["memory"] in (dense[0], kw[0])
    # k_rrf through the store
    node = F.parse({"user_id": "alice"})
    vec = mem.embed([q], purpose="search")[0]
    hits = mem.store.search(vec, node, 100, mode="hybrid", text=q, k_rrf=0, explain=True)
    assert {row["memory"]: e["explain"]["fused"] for row, _, e in hits} == pytest.approx(rrf_at(0))


def test_threshold_cuts_on_the_score_in_every_mode(mem):
    _fill(mem)
    q = "the dog and the pizza"
    full = mem.search(q, user_id="alice", mode="hybrid", limit=100)["results"]
    cut = sorted(r["score"] for r in full)[len(full) // 2]
    for mode in ("hybrid", "keyword", "dense"):
        unfiltered = mem.search(q, user_id="alice", mode=mode, limit=100)["results"]
        got = mem.search(q, user_id="alice", mode=mode, limit=3, threshold=cut)["results"]
        want = [r for r in unfiltered if r["score"] >= cut][:3]
        assert [r["id"] for r in got] == [r["id"] for r in want]
        assert all(r["score"] >= cut for r in got)
        assert [r["score"] for r in got] == [r["score"] for r in want]


# --------------------------------------------------------------------------- validation
def test_mode_validation_and_config_default(tmp_path):
    m = _hash_memory()
    _fill(m)
    before = m.to_pandas()
    with pytest.raises(ValidationError, match="'dense', 'hybrid', 'keyword', 'fusion'.*'bm25'"):
        m.search("pizza", user_id="alice", mode="bm25")
    with pytest.raises(ValidationError):
        m.search("   ", user_id="alice", mode="hybrid")
    vec = m.embed(["pizza"], purpose="search")[0]
    with pytest.raises(ValidationError, match="query text"):
        m.store.search(vec, None, 5, mode="keyword")
    with pytest.raises(ValidationError, match="k_rrf"):
        m.store.search(vec, None, 5, mode="hybrid", text="pizza", k_rrf=-1)
    pd.testing.assert_frame_equal(m.to_pandas(), before)
    assert "keyword_score" in m.search("pizza", user_id="alice")["results"][0]  # default: fusion
    assert "keyword_score" not in m.search("pizza", user_id="alice", mode="dense")["results"][0]
    m.close()
    h = _hash_memory(search_mode="hybrid")
    _fill(h)
    res = h.search("pizza", user_id="alice")["results"]
    assert "keyword_score" in res[0] and "rank_score" in res[0]  # the RRF value, shown; the order is `score`
    assert "keyword_score" not in h.search("pizza", user_id="alice", mode="dense")["results"][0]
    h.close()
    with pytest.raises(ConfigError):
        _hash_memory(search_mode="bm25")


# --------------------------------------------------------------------------- LoCoMo
@pytest.fixture(scope="module")
def locomo(shared_dir):
    from memlab.evaluate import load_locomo

    path = shared_dir / "datasets" / "locomo" / "locomo-dev.json"
    if not path.is_file():
        pytest.skip(f"LoCoMo dev split not found at {path}")
    return load_locomo(path).subset(categories=[1, 2, 3, 4])


def _engine_run(ds, memory, mode: str, k: int) -> pd.DataFrame:
    """Run DataFrame of engine searches (score = rank_score; keyword_score kept alongside)."""
    rows = []
    node_of = {}
    vecs = memory.embed(ds.queries["text"].tolist(), purpose="search")
    for qid, scope, text, vec in zip(ds.queries["id"], ds.queries["scope"], ds.queries["text"], vecs):
        node = node_of.setdefault(scope, F.parse({"user_id": str(scope)}))
        hits = memory.store.search(vec, node, k, mode=mode, text=text)
        rows += [(qid, row["id"], extra["rank_score"], rank, extra["keyword_score"])
                 for rank, (row, _, extra) in enumerate(hits, 1)]
    return pd.DataFrame(rows, columns=["query_id", "memory_id", "score", "rank", "keyword_score"])


def test_locomo_keyword_ranking_equals_bm25_reference(locomo):
    """Engine keyword search ranks exactly like rank_bm25 with the same analyzer and k1/b over the
    same documents (speaker + turn text), conversation by conversation (embedder-independent)."""
    from memlab.evaluate import build_memory
    from memlab.ranking.context import keyword_document

    memory = build_memory(locomo, "hash")
    try:
        run = _engine_run(locomo, memory, "keyword", 10)
        frame = memory.to_pandas()
        dataset_id = memory.dataset_ids
    finally:
        memory.close()
    run["memory_id"] = run["memory_id"].map(dataset_id)
    rows = []
    for scope, group in locomo.queries.groupby("scope", sort=False):
        docs = frame[frame["user_id"] == scope]  # insertion order = the engine's tie order
        ids = docs["id"].map(dataset_id).to_numpy()
        bm25 = BM25Okapi([tokenize(keyword_document(t, a)) for t, a in zip(docs["memory"], docs["actor_id"])],
                         k1=K1, b=B)
        for qid, text in zip(group["id"], group["text"]):
            scores = np.asarray(bm25.get_scores(tokenize(text)), dtype=float)
            order = np.lexsort((np.arange(len(scores)), -scores))[:10]
            rows += [(qid, ids[i], scores[i], r) for r, i in enumerate(order, 1)]
    ref = pd.DataFrame(rows, columns=["query_id", "memory_id", "score", "rank"])
    ref = ref[ref["score"] != 0]  # the engine ranks only memories holding a query term
    got = run.merge(ref, on=["query_id", "rank"], how="outer", suffixes=("", "_ref"))
    assert len(got) == len(run) == len(ref) > 6000
    assert (got["memory_id"] == got["memory_id_ref"]).all()
    np.testing.assert_allclose(got["keyword_score"], got["score_ref"], rtol=1e-9)


@pytest.mark.slow
def test_locomo_engine_hybrid_beats_bm25_reference(locomo, minilm):
    """~60 s on 2 cores (embeds ~2.8k turns): measured in benchmarks/bench_locomo.py as well."""
    from memlab.evaluate import build_memory
    from memlab.evaluate.metrics import aggregate, evaluate_run

    memory = build_memory(locomo, minilm)
    try:
        run = _engine_run(locomo, memory, "hybrid", 10)
        dataset_id = memory.dataset_ids  # conversation turns get memlab ids; qrels name the dataset's
    finally:
        memory.close()
    run["memory_id"] = run["memory_id"].map(dataset_id)
    assert run["memory_id"].notna().all()
    agg = aggregate(evaluate_run(run, locomo.qrels, locomo.queries, k=10))
    assert agg["recall"] >= 0.526
