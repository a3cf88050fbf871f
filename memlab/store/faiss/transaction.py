"""One write transaction of the FAISS + SQLite engine: row upserts, category links, history rows.

Nothing here touches the in-memory table or the FAISS index: :meth:`Store.transaction` applies the
collected rows to them after COMMIT.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any, Optional

import numpy as np

from memlab.errors import StoreError
from memlab.store.faiss.table import COLUMNS
from memlab.store.rows import apply_add, new_id

# columns of `memories` besides vid/vector/seq: the table's columns plus the context window's
# embedding (schema 0005; NULL when the memory has no context)
ROW_COLUMNS = (*COLUMNS, "context_vector")
# uuid5 namespace for category ids derived from names (stable across imports and stores)
CATEGORY_NS = uuid.UUID("6f1d2c3e-8a4b-4c55-9e61-4d1b0c9a7e21")


_META_AT, _CTX_AT = ROW_COLUMNS.index("metadata"), ROW_COLUMNS.index("context_vector")
_HISTORY_INSERT = ("INSERT INTO history (id, memory_id, old_memory, new_memory, event, created_at, updated_at, "
                   "is_deleted, actor_id, role, hseq) VALUES (?,?,?,?,?,?,?,?,?,?,?)")


def meta_json(metadata: Optional[dict]) -> str:
    """A row's metadata as stored: JSON with sorted keys (most memories have none: "{}")."""
    return json.dumps(metadata, sort_keys=True, ensure_ascii=False) if metadata else "{}"


class Transaction:
    """Collects row upserts and history rows of one SQLite transaction."""

    def __init__(self, store: Any, conn: sqlite3.Connection, seq: int):
        self.store = store
        self.conn = conn
        self.seq = seq
        self.rows: list[tuple[int, dict, np.ndarray]] = []
        self.wiped = False
        self.category_catalog: dict[str, dict] = {}  # name -> {id, description, ...} for new categories
        self.epoch: Optional[str] = None  # store epoch seen inside the write lock
        self.data_version: Optional[int] = None  # PRAGMA data_version read just before COMMIT
        self._history_count = 0

    def get_row(self, memory_id: str) -> Optional[dict]:
        """Current row from SQLite (authoritative inside the transaction), vector included."""
        cur = self.conn.execute(
            f"SELECT vid, {', '.join(ROW_COLUMNS)}, vector FROM memories WHERE id = ?", (memory_id,)
        )
        r = cur.fetchone()
        if r is None:
            return None
        return self.store._decode(r)

    def _values(self, row: dict, vector: np.ndarray) -> tuple[list, np.ndarray]:
        """A row's ``memories`` values (ROW_COLUMNS order, metadata as JSON, the context vector as bytes) and
        its vector, both checked against the store's dimension."""
        vec = np.ascontiguousarray(vector, dtype=np.float32)
        if vec.shape != (self.store.dims,):
            raise StoreError(f"vector has shape {vec.shape}, store expects ({self.store.dims},)")
        values = [row.get(c) for c in ROW_COLUMNS]
        values[_META_AT] = meta_json(row.get("metadata"))
        ctx = row.get("context_vector")
        if ctx is not None:
            ctx = np.ascontiguousarray(ctx, dtype=np.float32)
            if ctx.shape != (self.store.dims,):
                raise StoreError(f"context vector has shape {ctx.shape}, store expects ({self.store.dims},)")
            values[_CTX_AT] = ctx.tobytes()
        return values, vec

    def put_row(self, row: dict, vector: np.ndarray) -> int:
        """Insert or replace a memory row; returns its vid."""
        values, vec = self._values(row, vector)
        # One statement for insert-or-replace; the vid (FAISS id) of an existing row is kept.
        sets = ", ".join(f"{c} = excluded.{c}" for c in ROW_COLUMNS if c != "id")
        vid = int(self.conn.execute(
            f"INSERT INTO memories ({', '.join(ROW_COLUMNS)}, vector, seq) VALUES "
            f"({', '.join('?' * (len(ROW_COLUMNS) + 2))}) "
            f"ON CONFLICT(id) DO UPDATE SET {sets}, vector = excluded.vector, seq = excluded.seq RETURNING vid",
            (*values, vec.tobytes(), self.seq),
        ).fetchone()[0])
        if row.get("categories") is not None:  # absent = unchanged (the links stay as they are)
            self.set_categories(row["id"], row["categories"])
        self.rows.append((vid, dict(row), vec))
        return vid

    def add_rows(self, pairs: list[tuple[dict, np.ndarray]], *, history: bool = True) -> None:
        """Insert NEW rows (ids not in the store) and, with ``history``, their ADD rows: the same rows,
        vids, history and hseqs as :meth:`put_row` + :meth:`add_history` one by one, in two ``executemany``
        statements. vids continue ``memories``' AUTOINCREMENT sequence (read under the write lock), so
        they are the ones SQLite would have assigned. An id already present fails the INSERT (unique
        constraint): the transaction rolls back and the caller gets a ConflictError."""
        if len(pairs) < 2:  # one row: put_row's single statement costs less than reading the sequence
            for row, vec in pairs:
                if history:
                    apply_add(self, row, vec)
                else:
                    self.put_row(row, vec)
            return
        found = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'memories'").fetchone()
        first_vid = (int(found[0]) if found else 0) + 1
        values, written = [], []
        for k, (row, vector) in enumerate(pairs):
            v, vec = self._values(row, vector)
            values.append((first_vid + k, *v, vec.tobytes(), self.seq))
            written.append((first_vid + k, dict(row), vec))
        self.conn.executemany(
            f"INSERT INTO memories (vid, {', '.join(ROW_COLUMNS)}, vector, seq) "
            f"VALUES ({', '.join('?' * (len(ROW_COLUMNS) + 3))})", values)
        for row, _ in pairs:
            if row.get("categories") is not None:
                self.set_categories(row["id"], row["categories"])
        self.rows.extend(written)
        if history:
            base = self.seq << 32
            hist = []
            for row, _ in pairs:
                self._history_count += 1
                hist.append((new_id(), row["id"], None, row["memory"], "ADD", row["created_at"], row["updated_at"],
                             0, row.get("actor_id"), row.get("role"), base + self._history_count))
            self.conn.executemany(_HISTORY_INSERT, hist)

    def set_categories(self, memory_id: str, names) -> None:
        """Replace a memory's category links; unknown names become categories (ids and descriptions
        from ``category_catalog`` when it names them, else a uuid5 of the name)."""
        self.conn.execute("DELETE FROM memory_categories WHERE memory_id = ?", (memory_id,))
        for name in dict.fromkeys(names):
            found = self.conn.execute("SELECT id FROM categories WHERE name = ?", (name,)).fetchone()
            if found is None:
                cat = self.category_catalog.get(name) or {}
                cid = cat.get("id") or str(uuid.uuid5(CATEGORY_NS, name))
                self.conn.execute(
                    "INSERT INTO categories (id, name, description, created_at, updated_at) VALUES (?,?,?,?,?)",
                    (cid, name, cat.get("description"), cat.get("created_at"), cat.get("updated_at")))
            else:
                cid = found[0]
            self.conn.execute("INSERT OR IGNORE INTO memory_categories (memory_id, category_id) VALUES (?, ?)",
                              (memory_id, cid))

    def add_history(self, memory_id: str, old_memory: Optional[str], new_memory: Optional[str], event: str,
                    *, created_at: Optional[str] = None, updated_at: Optional[str] = None,
                    is_deleted: bool = False, actor_id: Optional[str] = None, role: Optional[str] = None,
                    history_id: Optional[str] = None) -> str:
        hid = history_id or new_id()
        # Ordering key without a MAX() scan: transaction seq in the high bits, position within it in
        # the low 32 (room for 4e9 rows per transaction and 2e9 transactions in a signed int64).
        self._history_count += 1
        hseq = (self.seq << 32) + self._history_count
        self.conn.execute(
            _HISTORY_INSERT,
            (hid, memory_id, old_memory, new_memory, event, created_at, updated_at, int(bool(is_deleted)),
             actor_id, role, hseq),
        )
        return hid

    def clear_history(self, memory_id: str) -> None:
        """Drop a memory's history rows (an import replacing the memory brings its own)."""
        self.conn.execute("DELETE FROM history WHERE memory_id = ?", (memory_id,))

    def ensure_category(self, category: dict) -> bool:
        """Add a category (``name``; optional ``id``, ``description``, timestamps) unless one of that
        name exists. Returns True when it was added."""
        name = category["name"]
        if self.conn.execute("SELECT 1 FROM categories WHERE name = ?", (name,)).fetchone():
            return False
        cid = category.get("id") or str(uuid.uuid5(CATEGORY_NS, name))
        self.conn.execute("INSERT INTO categories (id, name, description, created_at, updated_at) VALUES (?,?,?,?,?)",
                          (cid, name, category.get("description"), category.get("created_at"),
                           category.get("updated_at")))
        return True

    def put_config(self, key: str, value, *, created_at: Optional[str] = None,
                   updated_at: Optional[str] = None) -> None:
        """Insert or replace one entry of the store's ``configs`` table (value stored as JSON)."""
        self.conn.execute("INSERT OR REPLACE INTO configs (key, value, created_at, updated_at) VALUES (?,?,?,?)",
                          (key, json.dumps(value, sort_keys=True), created_at, updated_at))

    def wipe(self) -> None:
        """Remove every memory and history row (``reset``)."""
        self.conn.execute("DELETE FROM memories")
        self.conn.execute("DELETE FROM history")
        self.conn.execute("DELETE FROM memory_categories")  # memory-linked rows (schema 0002)
        self.wiped = True
