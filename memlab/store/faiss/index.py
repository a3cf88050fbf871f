"""FAISS side of the store: ``IndexIDMap2(IndexFlatIP)`` over the *active* rows.

FAISS ids are SQLite ``vid`` values (int64, never reused). Inner product on L2-normalised
vectors is cosine similarity. Searches that must be restricted to a subset pass an
``IDSelectorBatch``, so FAISS scores exactly the allowed rows (no over-fetch-then-filter).
"""

from __future__ import annotations

import faiss
import numpy as np


class VectorIndex:
    def __init__(self, dims: int):
        self.dims = dims
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dims))

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def add(self, vids: np.ndarray, vecs: np.ndarray) -> None:
        if len(vids):
            x = np.ascontiguousarray(vecs, dtype=np.float32)
            ids = np.ascontiguousarray(vids, dtype=np.int64)
            if x.shape != (len(ids), self.dims):
                raise ValueError(f"expected {len(ids)} vectors of {self.dims} dims, got shape {x.shape}")
            # the C entry point: the Python wrapper's own checks cost more than adding one vector
            self.index.add_with_ids_c(len(ids), faiss.swig_ptr(x), faiss.swig_ptr(ids))

    def remove(self, vids) -> None:
        vids = np.asarray(list(vids), dtype=np.int64)
        if len(vids):
            self.index.remove_ids(faiss.IDSelectorBatch(vids))

    def reset(self) -> None:
        self.index.reset()

    def search(self, query: np.ndarray, k: int, allowed_vids: np.ndarray | None = None):
        """Top-k (scores, vids) for one query; ``allowed_vids`` restricts the candidates."""
        faiss.omp_set_num_threads(1)  # one query: threads only add overhead on small machines
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        k = int(min(k, self.ntotal))
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        if allowed_vids is None:
            scores, ids = self.index.search(q, k)
        else:
            sel = faiss.IDSelectorBatch(np.asarray(allowed_vids, dtype=np.int64))
            params = faiss.SearchParameters(sel=sel)
            scores, ids = self.index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]
