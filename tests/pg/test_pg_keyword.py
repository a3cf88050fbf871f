"""Keyword (BM25) search on PostgreSQL scores exactly as the FAISS engine on a larger corpus: several scopes,
filters, repeated query terms, and terms in more than half the scope (negative idf: rank_bm25's floor)."""

from __future__ import annotations

import random

import pytest

from memlab import Memory
from tests.pg.support import pg_config

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
WORDS = ["pizza", "lyon", "dog", "park", "hiking", "alps", "sister", "peanuts", "coffee", "train", "paris",
         "winter", "summer", "garden", "piano", "chess", "rex", "cheese", "bread", "wine"]


def _corpus(n: int = 400) -> list[dict]:
    rng = random.Random(5)
    out = []
    for i in range(n):
        words = ["memory"] + rng.choices(WORDS[: 4 + i % 16], k=rng.randint(1, 9))  # "memory": in every row
        out.append({"id": f"00000000-0000-4000-8000-{i:012d}", "memory": " ".join(words), "user_id": f"u{i % 4}",
                    "metadata": {"n": i % 10}})
    return out


QUERIES = ["pizza", "memory", "memory pizza pizza", "lyon dog park", "wine cheese bread", "nothingmatches",
           "dog dog dog rex", "summer memory hiking"]


@pytest.mark.parametrize("scope", [{"user_id": "u1"}, {"user_id": "u2", "filters": {"n": {"gte": 5}}},
                                   {"filters": {"user_id": {"in": ["u0", "u3"]}}}])
def test_keyword_scores_equal_the_faiss_engine(pg_url, pg_collection, scope):
    records = _corpus()
    with Memory(HASH) as faiss_mem, Memory(pg_config(pg_url, pg_collection)) as pg_mem:
        for m in (faiss_mem, pg_mem):
            m.add_records(records)
        for query in QUERIES:
            want = faiss_mem.search(query, mode="keyword", limit=200, **scope)["results"]
            got = pg_mem.search(query, mode="keyword", limit=200, **scope)["results"]
            # a threshold skips rows: PostgreSQL fetches candidates page by page (10 at a time) until 5 pass
            # (e.g. "summer memory hiking" in u1: the 3rd-5th passing rows are ranked 16-20)
            kw = [(r["id"], r["keyword_score"]) for r in pg_mem.search(query, mode="keyword", limit=5, threshold=0.5,
                                                                        **scope)["results"]]
            assert kw == [(r["id"], pytest.approx(r["keyword_score"], rel=1e-9)) for r in faiss_mem.search(
                query, mode="keyword", limit=5, threshold=0.5, **scope)["results"]]
            # hybrid: the same fused scores (dense rows tied up to rounding may swap: RRF moves < 1/60 - 1/61)
            hybrid = [r["rank_score"] for r in pg_mem.search(query, mode="hybrid", limit=20, **scope)["results"]]
            assert hybrid == pytest.approx([r["rank_score"] for r in faiss_mem.search(
                query, mode="hybrid", limit=20, **scope)["results"]], abs=1e-3)
            assert len(got) == len(want)
            w_scores = {r["id"]: r["keyword_score"] for r in want}
            assert {r["id"] for r in got} == set(w_scores)
            for g in got:
                assert g["keyword_score"] == pytest.approx(w_scores[g["id"]], rel=1e-9, abs=1e-12)
            # order: by score, ties by insertion order, on both engines
            assert [round(r["keyword_score"], 9) for r in got] == [round(r["keyword_score"], 9) for r in want]
