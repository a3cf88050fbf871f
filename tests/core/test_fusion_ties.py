"""Tie-breaking of every ranking, on cases where the possible rules disagree.

Documented rules (memlab.ranking.fusion.fuse, Store.search; evaluation calls the engine, so they hold there too):
- hybrid: equal RRF values are ordered by the dense rank, then the keyword rank, then position
  (insertion order);
- keyword: equal BM25 scores are ordered by position (older first);
- dense: equal cosines are ordered by position (older first);
- fusion (the default): equal fused scores are ordered by position (older first).

The hybrid cases are built so that position order and dense order *differ*: the memory the
dense channel ranks first is inserted last. Written against the current fusion (RRF, k=60); if
the fusion changes, the expected order here changes with its documented tie rule.
"""

from __future__ import annotations

import numpy as np

from memlab import Memory
from memlab.ranking.fusion import fuse


class TableEmbedder:
    """Fixed vectors per text: the dense ranking is chosen by the test, not by a model."""

    name = "table-embedder"
    dims = 4

    def __init__(self, table: dict[str, list[float]]):
        self.table = table

    def embed(self, texts, purpose="add"):
        return np.asarray([self.table[t] for t in texts], dtype=np.float32)


# B is inserted first and wins BM25 (two "apple"s); A is inserted second and wins the cosine.
B_TEXT, A_TEXT, C_TEXT, QUERY = "apple apple pie", "apple crumble dessert", "banana bread", "apple"
VECTORS = {QUERY: [1, 0, 0, 0], A_TEXT: [1, 0.1, 0, 0], B_TEXT: [1, 0, 0.5, 0], C_TEXT: [0, 0, 0, 1]}


def test_fuse_breaks_ties_by_the_first_ranking_not_by_position():
    dense = np.array([7, 3, 9])  # position 7 is dense's best, position 3 its second
    keyword = np.array([3, 7])   # keyword puts 3 first: 3 and 7 get the same RRF
    fused = fuse([dense, keyword], 60)
    assert fused[0][1] == fused[1][1]  # an exact tie
    assert [p for p, _ in fused] == [7, 3, 9]  # dense order, although position 3 < 7
    swapped = fuse([keyword, dense], 60)
    assert [p for p, _ in swapped] == [3, 7, 9]  # the first ranking decides
    # absent from the first ranking counts as last there: 5 and 8 tie, 8 is in the first ranking
    assert [p for p, _ in fuse([np.array([8]), np.array([5, 1])], 0)][:2] == [8, 5]


def test_hybrid_search_tie_follows_the_dense_ranking():
    m = Memory(embedder=TableEmbedder(VECTORS))
    b = m.add(B_TEXT, user_id="u", infer=False)["results"][0]["id"]
    a = m.add(A_TEXT, user_id="u", infer=False)["results"][0]["id"]
    c = m.add(C_TEXT, user_id="u", infer=False)["results"][0]["id"]
    dense = [r["id"] for r in m.search(QUERY, user_id="u", mode="dense")["results"]]
    keyword = [r["id"] for r in m.search(QUERY, user_id="u", mode="keyword")["results"]]
    assert dense == [a, b, c] and keyword == [b, a]  # the channels disagree on a vs b
    hybrid = m.search(QUERY, user_id="u", mode="hybrid")["results"]
    assert hybrid[0]["rank_score"] == hybrid[1]["rank_score"] == 1 / 61 + 1 / 62  # an RRF tie
    # the calibrated score breaks it on the evidence (cosine, BM25), not on insertion order
    assert {r["id"] for r in hybrid[:2]} == {a, b} and hybrid[2]["id"] == c
    assert hybrid[0]["score"] >= hybrid[1]["score"] >= hybrid[2]["score"]
    m.close()


def test_keyword_and_dense_ties_go_to_the_older_memory():
    table = {"tea": [1, 0, 0, 0], "green tea": [1, 1, 0, 0], "black tea": [1, 1, 0, 0]}
    m = Memory(embedder=TableEmbedder(table))
    first = m.add("green tea", user_id="u", infer=False)["results"][0]["id"]
    second = m.add("black tea", user_id="u", infer=False)["results"][0]["id"]
    for mode in ("dense", "keyword", "hybrid", "fusion"):
        res = m.search("tea", user_id="u", mode=mode)["results"]
        assert res[0]["score"] == res[1]["score"]
        assert [r["id"] for r in res] == [first, second], mode
    m.close()


def test_rankings_over_more_than_four_times_the_depth_keep_position_ties():
    """450 matching memories, depth 100: the partial-sort paths of the keyword and dense rankings
    (taken when candidates > 4 x depth) must give the full sort's order, ties included."""
    from rank_bm25 import BM25Okapi

    from memlab.ranking.bm25 import tokenize

    texts = ["tea note", "tea tea note", "tea tea tea note"] * 150  # three groups of exact ties
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 32}}})
    m.add_records([{"memory": t, "user_id": "u"} for t in texts])
    ids = [r["id"] for r in m.get_all(user_id="u", limit=1000)["results"]]
    ref = np.asarray(BM25Okapi([tokenize(t) for t in texts]).get_scores(tokenize("tea")))
    want = [ids[i] for i in np.lexsort((np.arange(len(texts)), -ref))[:100]]
    got = m.search("tea", user_id="u", mode="keyword", limit=100)["results"]
    assert [r["id"] for r in got] == want  # the best group is 150 tied rows: the 100 oldest of them
    dense = m.search("tea tea tea note", user_id="u", mode="dense", limit=100)["results"]
    assert [r["id"] for r in dense] == ids[2::3][:100]  # 150 identical vectors: insertion order
    m.close()
