"""One write transaction of the PostgreSQL engine (:class:`memlab.store.base.StoreTransaction`).

Everything runs on the transaction's own connection between ``BEGIN`` and ``COMMIT`` (see
:meth:`PgStore.transaction`). :meth:`PgTransaction.get_row` locks the row (``SELECT ... FOR UPDATE``):
a second client updating the same memory waits for the first to commit and then reads its result,
so read-modify-write verbs (update, delete, set_state) never lose an update. An id it finds absent
is inserted without ``ON CONFLICT``: two clients adding the same new id cannot overwrite each other.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

import numpy as np

from memlab.errors import StoreError
from memlab.ranking.context import context_document, keyword_document
from memlab.store.faiss.table import COLUMNS
from memlab.store.rows import new_id
from memlab.store.faiss.transaction import CATEGORY_NS

COPY_MIN_ROWS = 8  # bulk writes of fewer rows use INSERTs


def row_sql(t: str, *, vector: bool = False) -> str:
    """The SELECT list of a memory row (alias ``m``): vid, the columns, categories (by name)[, embedding]."""
    cats = (f"ARRAY(SELECT c.name FROM {t}_memory_categories mc JOIN {t}_categories c ON c.id = mc.category_id "
            f"WHERE mc.memory_id = m.id ORDER BY c.name COLLATE \"C\")")
    cols = ", ".join(f"m.{c}" for c in COLUMNS)
    return f"m.vid, {cols}, {cats}" + (", m.embedding" if vector else "")


def decode(r: tuple, *, vector: bool = False) -> dict:
    """A row dict from a :func:`row_sql` tuple (``vid`` and, when asked, ``vector`` included)."""
    row = dict(zip(("vid", *COLUMNS), r))
    row["metadata"] = row["metadata"] if isinstance(row["metadata"], dict) else {}
    row["categories"] = list(r[1 + len(COLUMNS)] or [])
    if vector:
        row["vector"] = r[2 + len(COLUMNS)]
    return row


def search_terms(analyzer: Any, row: dict) -> tuple[list[str], Optional[list[str]]]:
    """(``tokens``, ``context_tokens``) of a row: its keyword and context documents analysed as the FAISS
    engine indexes them (memlab.ranking.context); ``context_tokens`` is None when the row has no context."""
    memory, actor, context = row.get("memory"), row.get("actor_id"), row.get("context")
    tokens = analyzer.analyze(keyword_document(memory, actor))
    return tokens, (analyzer.analyze(context_document(memory, actor, context)) if context else None)


class PgTransaction:
    """Row upserts, category links, history and configs of one PostgreSQL transaction."""

    def __init__(self, store: Any, conn: Any):
        self.store = store
        self.conn = conn
        self.t = store.table_name
        self.category_catalog: dict[str, dict] = {}  # name -> {id, description, ...} for new categories
        self.wiped = False
        # ids get_row found absent: there is no row to lock, so another client may insert the same id
        # meanwhile; put_row then inserts them without ON CONFLICT, and a concurrent insert of that id
        # fails (unique violation -> ConflictError, nothing written) instead of being silently overwritten
        self.absent: set[str] = set()

    def get_row(self, memory_id: str) -> Optional[dict]:
        """The current row, locked until this transaction ends (vector included)."""
        r = self.conn.execute(f"SELECT {row_sql(self.t, vector=True)}, m.context_embedding FROM {self.t} m "
                              "WHERE m.id = %s FOR UPDATE OF m", (memory_id,), binary=True).fetchone()
        if r is None:
            self.absent.add(memory_id)
            return None
        self.absent.discard(memory_id)
        row = decode(r, vector=True)
        row["context_vector"] = r[-1]  # kept by writes that do not change the text (see rows.apply_update)
        return row

    def put_row(self, row: dict, vector: np.ndarray, *, new: bool = False) -> int:
        """Insert or replace a memory row (its vid, hence its insertion rank, is kept); returns the vid.
        ``new``: insert only (an existing id is a unique violation, as in :meth:`add_rows`)."""
        from psycopg.types.json import Jsonb

        vec = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        if vec.shape != (self.store.dims,):
            raise StoreError(f"vector has shape {vec.shape}, store expects ({self.store.dims},)")
        values = [row.get(c) for c in COLUMNS]
        values[COLUMNS.index("metadata")] = Jsonb(row.get("metadata") or {})
        sets = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")
        ctx_vec = row.get("context_vector")
        if ctx_vec is not None:
            ctx_vec = np.ascontiguousarray(ctx_vec, dtype=np.float32).reshape(-1)
            if ctx_vec.shape != (self.store.dims,):
                raise StoreError(f"context vector has shape {ctx_vec.shape}, store expects ({self.store.dims},)")
        # an id this transaction found absent (get_row) or a row known to be new is inserted without
        # ON CONFLICT: a concurrent insert of the same id is then a unique violation (ConflictError),
        # never a silent overwrite
        upsert = ("" if new or row["id"] in self.absent else
                  f"ON CONFLICT (id) DO UPDATE SET {sets}, tokens = excluded.tokens, "
                  "context_tokens = excluded.context_tokens, embedding = excluded.embedding, "
                  "context_embedding = excluded.context_embedding ")
        self.absent.discard(row["id"])
        vid = self.conn.execute(
            f"INSERT INTO {self.t} ({', '.join(COLUMNS)}, tokens, context_tokens, embedding, context_embedding) "
            f"VALUES ({', '.join(['%s'] * len(COLUMNS))}, %s, %s, %b, %b) {upsert}"
            "RETURNING vid",
            (*values, *search_terms(self.store.analyzer, row), vec, ctx_vec)).fetchone()[0]
        if row.get("categories") is not None:  # absent = unchanged
            self.set_categories(row["id"], row["categories"])
        return int(vid)

    def existing_ids(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are in the store, in one statement; those rows stay locked (as by :meth:`get_row`)."""
        if not ids:
            return set()
        return {r[0] for r in self.conn.execute(f"SELECT id FROM {self.t} WHERE id = ANY(%s) FOR UPDATE",
                                                (list(ids),)).fetchall()}

    def add_rows(self, pairs: list[tuple[dict, np.ndarray]], *, history: bool = True) -> None:
        """Insert NEW rows (ids not in the store) and, with ``history``, their ADD rows, by binary COPY.

        The same rows and history as :meth:`put_row` + :meth:`add_history` one by one (vids and hseqs
        follow the input order: both are serials, assigned row by row as COPY reads), in far fewer
        round trips. An id already present fails the COPY (unique violation): the transaction rolls back.
        Fewer than ``COPY_MIN_ROWS`` rows go by plain INSERTs (same result, same failure).
        """
        from psycopg.adapt import PyFormat
        from psycopg.types.json import Jsonb

        if len(pairs) < COPY_MIN_ROWS:  # a COPY costs more than a few INSERTs (a single add: ~25% slower)
            for row, vec in pairs:
                self.put_row(row, vec, new=True)
                if history:
                    self.add_history(row["id"], None, row["memory"], "ADD", created_at=row.get("created_at"),
                                     updated_at=row.get("updated_at"), actor_id=row.get("actor_id"), role=row.get("role"))
            return
        vecs = [np.ascontiguousarray(v, dtype=np.float32).reshape(-1) for _, v in pairs]
        for vec in vecs:
            if vec.shape != (self.store.dims,):
                raise StoreError(f"vector has shape {vec.shape}, store expects ({self.store.dims},)")
        ctx_vecs = []  # the context windows' embeddings (None: no context), as put_row writes them
        for row, _ in pairs:
            ctx = row.get("context_vector")
            if ctx is not None:
                ctx = np.ascontiguousarray(ctx, dtype=np.float32).reshape(-1)
                if ctx.shape != (self.store.dims,):
                    raise StoreError(f"context vector has shape {ctx.shape}, store expects ({self.store.dims},)")
            ctx_vecs.append(ctx)
        vector_oid = self.conn.adapters.get_dumper(np.ndarray, PyFormat.BINARY).oid
        types = ["jsonb" if c == "metadata" else "text" for c in COLUMNS] + ["text[]", "text[]", vector_oid, vector_oid]
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY {self.t} ({', '.join(COLUMNS)}, tokens, context_tokens, embedding, context_embedding) "
                          "FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(types)
                for (row, _), vec, ctx in zip(pairs, vecs, ctx_vecs):
                    values = [row.get(c) for c in COLUMNS]
                    values[COLUMNS.index("metadata")] = Jsonb(row.get("metadata") or {})
                    cp.write_row([*values, *search_terms(self.store.analyzer, row), vec, ctx])
            if history:
                with cur.copy(f"COPY {self.t}_history (id, memory_id, old_memory, new_memory, event, created_at, "
                              "updated_at, is_deleted, actor_id, role) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(["text"] * 7 + ["int4", "text", "text"])
                    for row, _ in pairs:
                        cp.write_row([new_id(), row["id"], None, row["memory"], "ADD", row.get("created_at"),
                                      row.get("updated_at"), 0, row.get("actor_id"), row.get("role")])
        for row, _ in pairs:
            if row.get("categories"):
                self.set_categories(row["id"], row["categories"])

    def set_categories(self, memory_id: str, names: Any) -> None:
        """Replace a memory's category links; unknown names become categories (catalogue or uuid5 ids)."""
        self.conn.execute(f"DELETE FROM {self.t}_memory_categories WHERE memory_id = %s", (memory_id,))
        for name in dict.fromkeys(names):
            cat = self.category_catalog.get(name) or {}
            self._insert_category({**cat, "name": name})
            self.conn.execute(
                f"INSERT INTO {self.t}_memory_categories (memory_id, category_id) "
                f"SELECT %s, id FROM {self.t}_categories WHERE name = %s ON CONFLICT DO NOTHING", (memory_id, name))

    def _insert_category(self, category: dict) -> bool:
        cid = category.get("id") or str(uuid.uuid5(CATEGORY_NS, category["name"]))
        cur = self.conn.execute(
            f"INSERT INTO {self.t}_categories (id, name, description, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
            (cid, category["name"], category.get("description"), category.get("created_at"), category.get("updated_at")))
        return cur.rowcount == 1

    def add_history(self, memory_id: str, old_memory: Optional[str], new_memory: Optional[str], event: str,
                    *, created_at: Optional[str] = None, updated_at: Optional[str] = None,
                    is_deleted: bool = False, actor_id: Optional[str] = None, role: Optional[str] = None,
                    history_id: Optional[str] = None) -> str:
        hid = history_id or new_id()
        self.conn.execute(
            f"INSERT INTO {self.t}_history (id, memory_id, old_memory, new_memory, event, created_at, updated_at, "
            "is_deleted, actor_id, role) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (hid, memory_id, old_memory, new_memory, event, created_at, updated_at, int(bool(is_deleted)),
             actor_id, role))
        return hid

    def clear_history(self, memory_id: str) -> None:
        self.conn.execute(f"DELETE FROM {self.t}_history WHERE memory_id = %s", (memory_id,))

    def ensure_category(self, category: dict) -> bool:
        """Add a category by name unless one of that name exists; True when added."""
        return self._insert_category(category)

    def put_config(self, key: str, value: Any, *, created_at: Optional[str] = None,
                   updated_at: Optional[str] = None) -> None:
        from psycopg.types.json import Jsonb

        self.conn.execute(
            f"INSERT INTO {self.t}_configs (key, value, created_at, updated_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at, "
            "updated_at = excluded.updated_at", (key, Jsonb(value), created_at, updated_at))

    def wipe(self) -> None:
        """Remove every memory, history row and category link (the category catalogue stays)."""
        for suffix in ("", "_history", "_memory_categories"):
            self.conn.execute(f"DELETE FROM {self.t}{suffix}")
        self.wiped = True
