"""The in-memory side of a store: a columnar table of memory rows plus their vectors.

Columns are append-friendly numpy object arrays with doubling capacity (appending a row is
O(1); pandas frames are built on demand by :meth:`Table.to_pandas`). Scope columns keep an
inverted index (value -> positions) so that a scoped search finds its rows without scanning
every row; metadata keys become columns lazily, the first time a filter names them, and are
then maintained on every write.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Iterable

import numpy as np
import pandas as pd

from memlab.ranking.context import context_document, keyword_document
from memlab.ranking.keyword_index import KeywordIndex

COLUMNS = (
    "id", "memory", "hash", "metadata", "user_id", "agent_id", "run_id", "actor_id", "role",
    "memory_type", "state", "created_at", "updated_at", "archived_at", "deleted_at", "expiration_date", "context",
)
# Columns of the in-memory table that are not columns of `memories`: the category names of a
# row come from the categories / memory_categories tables (schema 0002).
EXTRA_COLUMNS = ("categories",)
ALL_COLUMNS = (*COLUMNS, *EXTRA_COLUMNS)
INDEXED = ("user_id", "agent_id", "run_id", "actor_id", "role", "memory_type", "state", "id", "expiration_date")


class Table:
    """Rows by position; a position never changes once assigned (rows are never removed,
    only marked non-active), so positions are stable between writes."""

    def __init__(self, dims: int, capacity: int = 1024, keyword: bool = False, keyword_args: dict | None = None):
        self.dims = dims
        self.keyword_args = dict(keyword_args or {})  # analyzer, k1, b of both BM25 indexes
        self.n = 0
        self._cap = capacity
        self._cols = {c: np.empty(capacity, dtype=object) for c in ALL_COLUMNS}
        self.vids = np.zeros(capacity, dtype=np.int64)
        self.vecs = np.zeros((capacity, dims), dtype=np.float32)
        self.active = np.zeros(capacity, dtype=bool)
        self.pos_by_id: dict[str, int] = {}
        self.pos_by_vid: dict[int, int] = {}
        self._inv: dict[str, dict[Any, set]] = {c: {} for c in INDEXED if c != "id"}
        self._meta_cols: dict[str, np.ndarray] = {}
        # BM25 postings of the `memory` column: None until the first keyword/hybrid search
        # (see keyword_index); from then on maintained by every write.
        self.keyword: KeywordIndex | None = KeywordIndex(capacity, **self.keyword_args) if keyword else None
        # BM25 postings of each row's context window (schema 0005), same life cycle as `keyword`
        self.context_keyword: KeywordIndex | None = (
            KeywordIndex(capacity, **self.keyword_args) if keyword else None)
        # embeddings of the context windows; a row without context has none (row_has_ctx False)
        # and its context channel falls back to the memory vector
        self.ctx_vecs: np.ndarray | None = None
        self.has_ctx = np.zeros(capacity, dtype=bool)

    # ------------------------------------------------------------------ writes
    def _grow(self) -> None:
        new_cap = self._cap * 2
        for c in ALL_COLUMNS:
            arr = np.empty(new_cap, dtype=object)
            arr[: self.n] = self._cols[c][: self.n]
            self._cols[c] = arr
        for key, col in list(self._meta_cols.items()):
            arr = np.empty(new_cap, dtype=object)
            arr[: self.n] = col[: self.n]
            self._meta_cols[key] = arr
        vids = np.zeros(new_cap, dtype=np.int64)
        vids[: self.n] = self.vids[: self.n]
        self.vids = vids
        vecs = np.zeros((new_cap, self.dims), dtype=np.float32)
        vecs[: self.n] = self.vecs[: self.n]
        self.vecs = vecs
        active = np.zeros(new_cap, dtype=bool)
        active[: self.n] = self.active[: self.n]
        self.active = active
        has_ctx = np.zeros(new_cap, dtype=bool)
        has_ctx[: self.n] = self.has_ctx[: self.n]
        self.has_ctx = has_ctx
        if self.ctx_vecs is not None:
            ctx = np.zeros((new_cap, self.dims), dtype=np.float32)
            ctx[: self.n] = self.ctx_vecs[: self.n]
            self.ctx_vecs = ctx
        self._cap = new_cap

    def upsert(self, vid: int, row: dict, vector: np.ndarray) -> tuple[int, bool, bool]:
        """Insert or replace a row. Returns (position, was_active, is_active)."""
        pos = self.pos_by_id.get(row["id"])
        was_active = False
        was_new = pos is None
        old_doc = old_ctx = None
        if pos is None:
            if self.n == self._cap:
                self._grow()
            pos = self.n
            self.n += 1
            self.pos_by_id[row["id"]] = pos
        else:
            was_active = bool(self.active[pos])
            if self.keyword is not None:
                old_doc, old_ctx = self._docs(pos)
            for col, inv in self._inv.items():
                old = self._cols[col][pos]
                if old is not None and (old != row.get(col)):
                    inv[old].discard(pos)
            old_vid = int(self.vids[pos])
            if old_vid != vid:
                self.pos_by_vid.pop(old_vid, None)
        for c in COLUMNS:
            self._cols[c][pos] = row.get(c)
        if "categories" in row or was_new:  # a write that does not name categories keeps them
            cats = row.get("categories")
            self._cols["categories"][pos] = tuple(cats) if cats else ()
        if self.keyword is not None:  # dense-only stores keep no postings
            doc, ctx = self._docs(pos)
            if doc != old_doc:
                self.keyword.set(pos, doc)  # replaces the row's old postings
            if self.context_keyword is not None and ctx != old_ctx:
                self.context_keyword.set(pos, ctx)
        self._set_ctx_vec(pos, row.get("context_vector"))
        for col, inv in self._inv.items():
            value = row.get(col)
            if value is not None:
                inv.setdefault(value, set()).add(pos)
        meta = row.get("metadata") or {}
        for key, col in self._meta_cols.items():
            col[pos] = meta.get(key)
        self.vids[pos] = vid
        self.pos_by_vid[vid] = pos
        self.vecs[pos] = vector
        is_active = row.get("state") == "active"
        self.active[pos] = is_active
        return pos, was_active, is_active

    def bulk_load(self, vids: np.ndarray, data: dict, vecs: np.ndarray) -> np.ndarray:
        """Fill an EMPTY table from whole columns (the fast path of opening a store).

        Returns the boolean mask of active rows.
        """
        if self.n:
            raise RuntimeError("bulk_load needs an empty table")
        n = len(vids)
        cap = max(1024, 1 << (n - 1).bit_length())
        self.__init__(self.dims, capacity=cap, keyword=self.keyword is not None, keyword_args=self.keyword_args)
        for c in COLUMNS:
            self._cols[c][:n] = data[c]
        self._cols["categories"][:n].fill(())  # tuples: immutable, so one shared empty value is safe
        for i, names in (data.get("categories") or {}).items():
            self._cols["categories"][i] = tuple(names)
        for pos, blob in enumerate(data.get("context_vector") or ()):
            if blob is not None:
                self._set_ctx_vec(pos, blob)
        self.vids[:n] = vids
        self.vecs[:n] = vecs
        self.n = n
        ids = data["id"]
        self.pos_by_id = dict(zip(ids, range(n)))
        self.pos_by_vid = dict(zip(vids.tolist(), range(n)))
        for col, inv in self._inv.items():
            values = pd.Series(data[col], dtype=object)
            present = values.notna()
            if present.any():
                # pandas groups in C; a Python loop over 100k rows per column is the slow alternative
                where = np.flatnonzero(present.to_numpy())
                for value, positions in values[present].groupby(values[present], sort=False).indices.items():
                    inv[value] = set(where[positions].tolist())
        active = np.asarray(pd.Series(data["state"], dtype=object).eq("active"), dtype=bool)
        self.active[:n] = active
        if self.keyword is not None:
            self.keyword = self.context_keyword = None
            self.keyword_index()
        return active

    def clear(self) -> None:
        self.__init__(self.dims, keyword=self.keyword is not None, keyword_args=self.keyword_args)

    # ------------------------------------------------------------------ keyword / context channels
    def _docs(self, pos: int) -> tuple[str, str]:
        """(keyword document, context document) of a row (see memlab.ranking.context)."""
        memory, actor, context = (self._cols[c][pos] for c in ("memory", "actor_id", "context"))
        return keyword_document(memory, actor), context_document(memory, actor, context)

    def _set_ctx_vec(self, pos: int, vec) -> None:
        if vec is None:
            self.has_ctx[pos] = False
            return
        if self.ctx_vecs is None:
            self.ctx_vecs = np.zeros((self._cap, self.dims), dtype=np.float32)
        v = np.frombuffer(vec, dtype=np.float32) if isinstance(vec, (bytes, bytearray, memoryview)) else vec
        self.ctx_vecs[pos] = v
        self.has_ctx[pos] = True

    def context_vectors(self, positions: np.ndarray) -> np.ndarray:
        """Context-window embeddings of ``positions`` (the memory vector where a row has none)."""
        vecs = self.vecs[positions]
        if self.ctx_vecs is not None:
            has = self.has_ctx[positions]
            if has.any():
                vecs = vecs.copy()
                vecs[has] = self.ctx_vecs[positions[has]]
        return vecs

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index of the rows, built on first use and maintained on writes from then on."""
        if self.keyword is None:
            docs = [self._docs(p) for p in range(self.n)]
            self.keyword = KeywordIndex.build([d for d, _ in docs], **self.keyword_args)
            self.context_keyword = KeywordIndex.build([c for _, c in docs], **self.keyword_args)
        return self.keyword

    def context_keyword_index(self) -> KeywordIndex:
        """The BM25 index of the rows' context documents (built with :meth:`keyword_index`)."""
        self.keyword_index()
        return self.context_keyword

    # ------------------------------------------------------------------ reads
    def column(self, name: str) -> np.ndarray:
        return self._cols[name][: self.n]

    def is_indexed(self, field: str) -> bool:
        return field in self._inv

    def indexed_values(self, field: str) -> list:
        """Distinct values of an indexed column that some row holds."""
        return [v for v, pos in self._inv[field].items() if pos]

    def has_values(self, field: str) -> bool:
        return any(self._inv[field].values())

    def positions_for(self, field: str, value: Any) -> np.ndarray:
        pos = self._inv[field].get(value)
        if not pos:
            return np.empty(0, dtype=np.int64)
        return np.fromiter(pos, dtype=np.int64, count=len(pos))

    def values(self, field: str) -> np.ndarray:
        """Values of a top-level column or a metadata key (None where absent)."""
        if field in self._cols and field != "metadata":
            return self._cols[field][: self.n]
        key = field[len("metadata."):] if field.startswith("metadata.") else field
        col = self._meta_cols.get(key)
        if col is None:
            col = np.empty(self._cap, dtype=object)
            metas = self._cols["metadata"]
            for i in range(self.n):
                m = metas[i]
                col[i] = m.get(key) if m else None
            self._meta_cols[key] = col
        return col[: self.n]

    def row(self, pos: int) -> dict:
        row = {c: self._cols[c][pos] for c in COLUMNS}
        row["categories"] = list(self._cols["categories"][pos] or [])
        return row

    def iter_rows(self, positions: Iterable[int]):
        for pos in positions:
            yield self.row(int(pos))

    def to_pandas(self, positions: np.ndarray | None = None, expand_metadata: bool = False) -> pd.DataFrame:
        """One row per memory, in insertion order."""
        if positions is None:
            positions = np.arange(self.n)
        data = {c: pd.Series(self._cols[c][positions], dtype=object) for c in COLUMNS}
        data["categories"] = pd.Series([list(c or []) for c in self._cols["categories"][positions]], dtype=object)
        # deep copies: editing a metadata dict in the frame must not silently change the store
        data["metadata"] = pd.Series([copy.deepcopy(m) for m in self._cols["metadata"][positions]], dtype=object)
        df = pd.DataFrame(data)
        for c in ("created_at", "updated_at", "archived_at", "deleted_at"):
            df[c] = pd.to_datetime(df[c], utc=True, errors="coerce", format="ISO8601")
        for c in ("id", "memory", "hash", "user_id", "agent_id", "run_id", "actor_id", "role", "memory_type", "state",
                  "expiration_date", "context"):
            df[c] = df[c].astype("string")
        if expand_metadata and len(df):
            meta = pd.json_normalize([m or {} for m in df["metadata"]], max_level=0)
            meta.index = df.index
            meta.columns = [f"metadata.{c}" for c in meta.columns]
            df = pd.concat([df, meta], axis=1)
        return df


def decode_metadata(text: str | None) -> dict:
    if not text:
        return {}
    return json.loads(text)
