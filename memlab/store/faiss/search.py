"""The FAISS engine's side of a search: raw channel values over the rows a filter allows.

:class:`FaissCandidates` implements :class:`memlab.ranking.modes.Candidates` over the in-memory
table (keys are table positions, in insertion order): dense scores by numpy over the allowed
subset (FAISS with an id selector for large scopes and the whole store), BM25 through the table's
keyword indexes, the context vectors, speakers and dates. The modes, fusion, thresholds and
explain are :mod:`memlab.ranking.modes`'.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from memlab.ranking.channels import channel_values
from memlab.ranking.keyword_index import KeywordIndex
from memlab.store import filters as F


class FaissCandidates:
    """The allowed rows of one search (the store's lock is held while it is used)."""

    def __init__(self, store: Any, q: np.ndarray, node: Any):
        self.store, self.table, self.q, self.node = store, store.table, q, node
        self._mask: Optional[np.ndarray] = None
        self._allowed: Optional[np.ndarray] = None
        self.ceilings: dict[str, float] = {}
        self.reference_date = None  # datetime that relative dates in the query are read against

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            self._mask = self.store.mask(self.node)
        return self._mask

    @property
    def allowed(self) -> np.ndarray:
        if self._allowed is None:
            self._allowed = np.flatnonzero(self.mask)
        return self._allowed

    def scope_size(self) -> int:
        return len(self.allowed)

    def dense_top(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        t, q, node = self.table, self.q, self.node
        if node is None:
            return self._by_index(limit)
        allowed = self.allowed
        if len(allowed) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if len(allowed) <= self.store.exact_subset_max or F.mentions(node, "state"):
            sub = t.vecs[allowed] @ q
            k = min(limit, len(allowed))
            if k < len(allowed) and len(allowed) > 4 * k:
                top = np.argpartition(-sub, k - 1)[:k]
                # include every row tied with the k-th score so tie-breaking stays deterministic
                kth = sub[top].min()
                top = np.flatnonzero(sub >= kth)
            else:
                top = np.arange(len(allowed))
            order = np.lexsort((allowed[top], -sub[top]))[:k]
            return allowed[top][order], sub[top][order]
        return self._by_index(limit, t.vids[allowed])

    def _by_index(self, limit: int, allowed_vids: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
        t = self.table
        scores, vids = self.store.index.search(self.q, limit, allowed_vids=allowed_vids)
        positions = np.fromiter((t.pos_by_vid[int(v)] for v in vids), dtype=np.int64, count=len(vids))
        return positions, scores

    def bm25(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        stats: dict = {}
        got = self.table.keyword_index().score(text, self.allowed, self.mask, stats)
        self.ceilings["keyword"] = stats["ceiling"]
        return got

    def cosines(self, keys: np.ndarray) -> np.ndarray:
        return self.table.vecs[keys] @ self.q

    def channels(self, text: str, names: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        t, allowed = self.table, self.allowed
        if len(allowed) == 0:
            return allowed, {}
        return allowed, channel_values(
            names, text, any_ctx=bool(t.has_ctx[allowed].any()),
            dense=lambda: t.vecs[allowed] @ self.q,
            dense_context=lambda: t.context_vectors(allowed) @ self.q,
            keyword=lambda: self._bm25_over(t.keyword_index(), text, "keyword"),
            keyword_context=lambda: self._bm25_over(t.context_keyword_index(), text, "keyword_context"),
            actors=lambda: t.column("actor_id")[allowed],
            created_at=lambda: t.column("created_at")[allowed], reference_date=self.reference_date,
            texts=lambda: t.column("memory")[allowed])

    def _bm25_over(self, index: KeywordIndex, text: str, channel: str) -> np.ndarray:
        """BM25 of every allowed row (0 where no query term occurs), in ``allowed`` order."""
        out = np.zeros(len(self.allowed))
        stats: dict = {}
        pos, scores = index.score(text, self.allowed, self.mask, stats)
        self.ceilings[channel] = stats["ceiling"]
        if len(pos):  # both sorted: place matched positions by binary search
            out[np.searchsorted(self.allowed, pos)] = scores
        return out
