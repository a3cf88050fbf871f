"""A scoped (dense) search returns EVERY memory of the scope that passes the threshold, up to the limit,
in score order — where mem0 (filter after 2*top_k nearest neighbours) loses most of them."""

from __future__ import annotations

import numpy as np
import pytest

from memlab import Memory


class TableEmbedder:
    """Returns fixed random unit vectors per text (so brute force is easy to compute)."""

    name, dims = "table-embedder", 32

    def __init__(self, texts, seed=0):
        rng = np.random.default_rng(seed)
        vecs = rng.normal(size=(len(texts), self.dims)).astype(np.float32)
        self.vectors = dict(zip(texts, vecs / np.linalg.norm(vecs, axis=1, keepdims=True)))

    def embed(self, texts, purpose="add"):
        return np.stack([self.vectors[t] for t in texts])


@pytest.fixture(scope="module")
def big():
    n_users, per_user = 1000, 12
    texts = [f"memory {i}" for i in range(n_users * per_user)] + [f"query {q}" for q in range(50)]
    emb = TableEmbedder(texts)
    m = Memory({"embedder": {"provider": "hash"}}, embedder=emb)
    recs = [{"id": f"id{i}", "memory": f"memory {i}", "user_id": f"user{i % n_users}"} for i in range(n_users * per_user)]
    m.add_records(recs)
    return m, emb, n_users, per_user


def brute_force(emb, m, user, query, limit, threshold=None):
    rows = [r for r in m.get_all(user_id=user, limit=10_000)["results"]]
    q = emb.vectors[query]
    scored = sorted(((float(emb.vectors[r["memory"]] @ q), r["id"]) for r in rows), key=lambda x: (-x[0], int(x[1][2:])))
    if threshold is not None:
        scored = [s for s in scored if s[0] >= threshold]
    return [i for _, i in scored[:limit]]


def test_every_scope_member_is_found_at_12k(big):
    m, emb, n_users, per_user = big
    assert m.store.count() == n_users * per_user
    for q in range(50):
        user = f"user{q * 17 % n_users}"
        res = m.search(f"query {q}", user_id=user, limit=per_user, mode="dense")["results"]
        assert len(res) == per_user                          # all of them, not ~2
        assert [r["id"] for r in res] == brute_force(emb, m, user, f"query {q}", per_user)
        assert all(r["user_id"] == user for r in res)


def test_threshold_and_limit_on_scope(big):
    m, emb, n_users, per_user = big
    for q in range(20):
        user = f"user{q}"
        full = m.search(f"query {q}", user_id=user, limit=5, mode="dense")["results"]
        assert [r["id"] for r in full] == brute_force(emb, m, user, f"query {q}", 5)
        cut = full[2]["score"]  # a calibrated score, increasing in the cosine
        res = m.search(f"query {q}", user_id=user, limit=5, threshold=cut, mode="dense")["results"]
        assert [r["id"] for r in res] == [r["id"] for r in full if r["score"] >= cut]
        assert all(r["score"] >= cut for r in res) and len(res) >= 3


def test_large_subset_goes_through_faiss_selector_and_agrees(big):
    m, emb, n_users, per_user = big
    old = m.store.exact_subset_max
    try:
        flt = {"user_id": {"in": [f"user{i}" for i in range(600)]}}
        m.store.exact_subset_max = 10**9
        exact = m.search("query 3", filters=flt, limit=25, mode="dense")["results"]
        m.store.exact_subset_max = 10
        via_faiss = m.search("query 3", filters=flt, limit=25, mode="dense")["results"]
    finally:
        m.store.exact_subset_max = old
    assert [r["id"] for r in exact] == [r["id"] for r in via_faiss]
    assert np.allclose([r["score"] for r in exact], [r["score"] for r in via_faiss], atol=1e-5)


def test_unscoped_search_matches_brute_force(big):
    m, emb, n_users, per_user = big
    res = m.search("query 7", limit=10, mode="dense", all_scopes=True)["results"]
    q = emb.vectors["query 7"]
    all_scores = sorted(((float(v @ q), t) for t, v in emb.vectors.items() if t.startswith("memory")), reverse=True)
    assert [r["memory"] for r in res] == [t for _, t in all_scores[:10]]


def test_semantic_scoped_search_with_real_model(minilm):
    """With the bundled model, the right memory of the right user comes first."""
    m = Memory({"embedder": {"provider": "hash"}}, embedder=minilm)
    facts = {
        "alice": ["I am allergic to peanuts", "My favourite city is Lisbon", "I play the cello on weekends"],
        "bob": ["I am allergic to cats", "I support FC Porto", "My daughter starts school in September"],
    }
    for user, texts in facts.items():
        m.add([{"role": "user", "content": t} for t in texts], user_id=user, infer=False)
    assert m.search("Which food must she avoid?", user_id="alice")["results"][0]["memory"] == "I am allergic to peanuts"
    assert m.search("musical instrument", user_id="alice")["results"][0]["memory"] == "I play the cello on weekends"
    assert m.search("football team", user_id="bob")["results"][0]["memory"] == "I support FC Porto"
    assert all(r["user_id"] == "bob" for r in m.search("allergy", user_id="bob")["results"])
