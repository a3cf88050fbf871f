"""The durable store: SQLite (source of truth) + in-memory table + FAISS index.

Write path: every change is one SQLite transaction (row + vector blob + history rows)
taken with ``BEGIN IMMEDIATE``; only after COMMIT is the in-memory table and the FAISS
index updated. Each transaction bumps a store-wide sequence number stored on every row it
writes, so a second process (or a second ``Memory`` on the same directory) catches up by
loading just the rows with a newer ``seq`` when SQLite's ``data_version`` says another
connection committed. Appending a memory writes one row; nothing is ever rewritten whole.

Concurrency model: within a process, one re-entrant lock serialises access to the SQLite
connection and the in-memory structures (embedding happens outside the lock). Between
processes, SQLite WAL serialises writers (busy timeout + retry); readers never block.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from memlab.enums import MemoryState
from memlab.errors import ConfigError, ConflictError, StoreError, ValidationError
from memlab.store import filters as F
from memlab.ranking.modes import check_search, run_search
from memlab.store.faiss.index import VectorIndex
from memlab.store.faiss.loading import StoreLoading
from memlab.store.faiss.revisions import upgrade_to_head
from memlab.store.faiss.schema import DB_NAME, create_initial, current_revision
from memlab.store.faiss.snapshots import take_snapshot
from memlab.store.faiss.sqlite import ClosedConnection, enable_wal, immediate, read_identity
from memlab.store.faiss.table import Table
from memlab.store.faiss.search import FaissCandidates
from memlab.store.faiss.transaction import Transaction


class Store(StoreLoading):
    """SQLite + table + FAISS; see the module docstring."""

    expiry_filter_always = False  # has_values() is an in-memory lookup here (memlab.store.scoping)
    read_identity = staticmethod(read_identity)

    def __init__(self, path: Optional[str], dims: int, embedder_name: str, *,
                 busy_timeout_ms: int = 30_000, exact_subset_max: int = 20_000,
                 keyword_args: Optional[dict] = None):
        self.path = Path(path) if path else None
        self.dims = int(dims)
        self.embedder_name = embedder_name
        self.busy_timeout_ms = busy_timeout_ms
        self.exact_subset_max = exact_subset_max
        self.lock = threading.RLock()
        self.conn = self._connect()
        try:
            self._check_identity()
        except BaseException:
            self.conn.close()
            raise
        self.table = Table(self.dims, keyword_args=keyword_args)  # analyzer, k1, b of keyword search
        self.index = VectorIndex(self.dims)
        self.last_seq = 0
        self.epoch = None
        self._data_version = None
        self._load_all()

    @property
    def location(self) -> str:
        """Where the store lives, for messages and reports: its directory, or "in-memory"."""
        return str(self.path) if self.path is not None else "in-memory"

    def identity(self) -> dict:
        """The embedder that built the store and its vector size: ``{"embedder", "dims"}``."""
        return {"embedder": self.embedder_name, "dims": self.dims}

    # ------------------------------------------------------------------ opening
    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            target = ":memory:"
        else:
            if self.path.exists() and not self.path.is_dir():
                raise StoreError(f"Store path {str(self.path)!r} exists and is not a directory.")
            self.path.mkdir(parents=True, exist_ok=True)
            target = str(self.path / DB_NAME)
        try:
            conn = sqlite3.connect(target, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            if self.path is not None:
                self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            # 64 MiB page cache: random-uuid index pages of a 100k store stay in memory (~20% faster adds)
            conn.execute("PRAGMA cache_size = -65536")
            self._ensure_schema(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open store {target!r}: {exc}. Run `memlab doctor` on it.") from None
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        enable_wal(conn, self.busy_timeout_ms / 1000)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        rev = current_revision(conn)
        if rev is None:
            # Check and create under the write lock: several processes may open a new store at once,
            # and one of them may commit the schema between our two reads.
            with immediate(conn, self.busy_timeout_ms):
                if current_revision(conn) is None:
                    tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
                    if tables:
                        raise StoreError("Database has tables but no memlab schema version: it is not a memlab store, "
                                         "or one downgraded to <base> (`memlab db rollback` or `memlab db upgrade` "
                                         "brings it back).")
                    create_initial(conn)
            rev = current_revision(conn)
        upgrade_to_head(conn, self.path, rev)

    def _check_identity(self) -> None:
        meta = dict(self.conn.execute("SELECT key, value FROM store_meta").fetchall())
        if "embedder" not in meta:
            with immediate(self.conn, self.busy_timeout_ms):
                # OR IGNORE: a process opening the new store at the same time may have recorded its
                # embedder first; then the comparison below decides (never silently overwrite it).
                self.conn.execute("INSERT OR IGNORE INTO store_meta VALUES ('embedder', ?)", (self.embedder_name,))
                self.conn.execute("INSERT OR IGNORE INTO store_meta VALUES ('dims', ?)", (str(self.dims),))
                self.conn.execute("INSERT OR IGNORE INTO store_meta VALUES ('epoch', ?)", (uuid.uuid4().hex,))
            meta = dict(self.conn.execute("SELECT key, value FROM store_meta").fetchall())
        if int(meta.get("dims", self.dims)) != self.dims or meta["embedder"] != self.embedder_name:
            raise ConfigError(
                f"This store was built with embedder {meta['embedder']!r} ({meta.get('dims')}-d vectors), "
                f"but the config asks for {self.embedder_name!r} ({self.dims}-d). Vectors of different models "
                "are not comparable: configure the original embedder, or migrate the store into a new one "
                "(memlab.migrate.DataMigrator re-embeds every memory)."
            )

    # ------------------------------------------------------------------ writing
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One atomic change. In-memory structures change only after COMMIT."""
        with self.lock:
            self.sync()
            try:
                with immediate(self.conn, self.busy_timeout_ms) as conn:
                    seq, epoch = conn.execute(  # the epoch seen inside the write lock, in the same statement
                        "UPDATE store_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' "
                        "RETURNING value, (SELECT value FROM store_meta WHERE key = 'epoch')"
                    ).fetchone()
                    tx = Transaction(self, conn, int(seq))
                    tx.epoch = epoch
                    yield tx
                    if tx.wiped:
                        conn.execute("UPDATE store_meta SET value = ? WHERE key = 'epoch'", (uuid.uuid4().hex,))
                    # Read while holding the write lock: nobody else can commit before our COMMIT, so
                    # this is exactly the version our commit leaves us at. Reading it after COMMIT
                    # (as before) could swallow another connection's commit made in between.
                    tx.data_version = conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.IntegrityError as exc:  # rolled back: callers above the store see a typed error
                raise ConflictError(f"the write collides with rows already in the store ({exc}); nothing was written") from None
            try:
                self._apply(tx)
            except BaseException:  # committed, but not (fully) applied in memory
                self._invalidate()
                raise

    def _apply(self, tx: Transaction) -> None:
        self._data_version = tx.data_version
        if tx.wiped or tx.epoch != self.epoch:
            # We wiped, or another connection reset the store since our last sync: full reload.
            self._load_all()
            return
        if tx.seq != self.last_seq + 1:
            # Someone else committed in between: catch up from the truth (includes our rows).
            self._load_rows(self.last_seq)
            return
        table = self.table
        added: list[tuple[int, np.ndarray]] = []  # consecutive additions to FAISS, added together in order
        for vid, row, vec in tx.rows:
            pos = table.pos_by_id.get(row["id"])
            if pos is not None and table.active[pos]:
                self._add_vectors(added)
                self.index.remove([int(table.vids[pos])])
            _, _, is_active = table.upsert(vid, row, vec)
            if is_active:
                added.append((vid, vec))
        self._add_vectors(added)
        self.last_seq = tx.seq

    def _add_vectors(self, added: list) -> None:
        """Add the pending (vid, vector) pairs to FAISS in one call, in order, and empty the list."""
        if added:
            vecs = added[0][1][None, :] if len(added) == 1 else np.stack([vec for _, vec in added])
            self.index.add(np.asarray([v for v, _ in added], dtype=np.int64), vecs)
            added.clear()

    # ------------------------------------------------------------------ reading
    def get(self, memory_id: str) -> Optional[dict]:
        with self.lock:
            self.sync()
            pos = self.table.pos_by_id.get(memory_id)
            return None if pos is None else self.table.row(pos)

    def has_values(self, column: str) -> bool:
        """Whether any row holds a value in an indexed column (e.g. an expiration date); cheap."""
        with self.lock:
            self.sync()
            return self.table.has_values(column)

    def mask(self, node, include_inactive: bool = False) -> np.ndarray:
        """Positions allowed by a parsed filter (active rows unless the filter names ``state``)."""
        t = self.table
        mask = F.evaluate(node, t) if node is not None else np.ones(t.n, dtype=bool)
        if not include_inactive and not F.mentions(node, "state"):
            mask &= t.active[: t.n]
        return mask

    def select(self, node, limit: Optional[int] = None) -> list[dict]:
        with self.lock:
            self.sync()
            positions = np.flatnonzero(self.mask(node))
            if limit is not None:
                positions = positions[:limit]
            return list(self.table.iter_rows(positions))

    def scan(self, node=None, *, include_inactive: bool = False) -> list[tuple[dict, np.ndarray]]:
        """``(row, vector)`` of every memory the filter allows, in insertion order (copies)."""
        with self.lock:
            self.sync()
            positions = np.flatnonzero(self.mask(node, include_inactive=include_inactive))
            return [(self.table.row(int(p)), self.table.vecs[int(p)].copy()) for p in positions]

    def to_pandas(self, *, expand_metadata: bool = False, include_deleted: bool = False):
        """A DataFrame of memories, one row each, in insertion order."""
        with self.lock:
            self.sync()
            t = self.table
            positions = np.arange(t.n)
            if not include_deleted and t.n:
                positions = positions[t.column("state") != MemoryState.DELETED.value]
            return t.to_pandas(positions, expand_metadata=expand_metadata)

    def search(self, query_vec: np.ndarray, node, limit: int, threshold: Optional[float] = None, *,
               mode: str = "dense", text: Optional[str] = None, k_rrf: int = 60,
               weights: Optional[dict] = None, normalization: str = "zscore", explain: bool = False,
               calibration: Optional[Any] = None, reference_date: Any = None):
        """Top-``limit`` rows among the rows allowed by ``node``, scored exactly: ``(row, score, extra)``
        triples, best first, in every mode (memlab.ranking.modes; this engine supplies the candidates,
        memlab.store.faiss.search)."""
        mode, k_rrf = check_search(mode, text, k_rrf)
        with self.lock:
            self.sync()
            q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
            hits = run_search(FaissCandidates(self, q, node), mode=mode, text=text, limit=limit, threshold=threshold,
                              k_rrf=k_rrf, weights=weights, normalization=normalization, explain=explain,
                              calibration=calibration,
                              reference_date=reference_date)
            return [(self.table.row(pos), score, extra) for pos, score, extra in hits]

    def history(self, memory_id: str) -> list[dict]:
        with self.lock:
            cur = self.conn.execute(
                "SELECT id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, "
                "actor_id, role FROM history WHERE memory_id = ? ORDER BY hseq",
                (memory_id,),
            )
            keys = ("id", "memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at",
                    "is_deleted", "actor_id", "role")
            return [dict(zip(keys, r)) for r in cur]

    def histories(self, ids: set) -> dict[str, list[dict]]:
        """History rows of the memories in ``ids``, in order (exports carry them)."""
        keys = ("id", "old_memory", "new_memory", "event", "created_at", "updated_at", "is_deleted", "actor_id", "role")
        out: dict[str, list] = {}
        with self.lock:
            for r in self.conn.execute(f"SELECT memory_id, {', '.join(keys)} FROM history ORDER BY hseq"):
                if r[0] in ids:
                    row = dict(zip(keys, r[1:]))
                    row["is_deleted"] = int(row["is_deleted"] or 0)
                    out.setdefault(r[0], []).append(row)
        return out

    def categories(self) -> list[dict]:
        """The category catalogue (id, name, description, timestamps), by name."""
        keys = ("id", "name", "description", "created_at", "updated_at")
        with self.lock:
            return [dict(zip(keys, r)) for r in self.conn.execute(
                "SELECT id, name, description, created_at, updated_at FROM categories ORDER BY name")]

    def configs(self) -> list[dict]:
        """The ``configs`` table (values decoded from JSON), by key."""
        with self.lock:
            return [{"key": k, "value": json.loads(v), "created_at": c, "updated_at": u} for k, v, c, u in
                    self.conn.execute("SELECT key, value, created_at, updated_at FROM configs ORDER BY key")]

    def snapshot(self, reason: str) -> Optional[str]:
        """Snapshot an on-disk store through this connection (None for an in-memory store); returns its id."""
        if self.path is None:
            return None
        with self.lock:
            return take_snapshot(self.path, reason, conn=self.conn).id

    def vector(self, memory_id: str) -> Optional[np.ndarray]:
        with self.lock:
            self.sync()
            pos = self.table.pos_by_id.get(memory_id)
            return None if pos is None else self.table.vecs[pos].copy()

    def _save_caches(self) -> bool:
        """At close: the rows and keyword indexes for the next open (table_cache, keyword_cache), when changed.
        True when the rows were saved (the cache is sealed once the connection is closed)."""
        from memlab.store.faiss import keyword_cache, table_cache

        saved = False
        try:
            self.sync()  # the table must hold what SQLite holds before it is saved as its copy
            if table_cache.stamp(self.conn, self.epoch) != getattr(self, "_table_saved", None):
                self._table_saved = table_cache.save(self.path, self.table, self.conn, self.epoch)
                saved = self._table_saved is not None
        except (sqlite3.Error, StoreError):
            return False  # caches only: the next open reads SQLite
        if self.table.keyword is not None and getattr(self, "_keyword_saved_seq", None) != self.last_seq:
            keyword_cache.save(self.path, self.table, self.epoch, self.last_seq)  # no re-analysing every text
        return saved

    def count(self, node=None) -> int:
        with self.lock:
            self.sync()
            return int(self.mask(node).sum())

    def close(self) -> None:
        with self.lock:
            saved = False
            if self.path is not None and not isinstance(self.conn, ClosedConnection):
                saved = self._save_caches()
            try:
                self.conn.close()
            except sqlite3.Error:
                pass
            self.conn = ClosedConnection()  # later calls get a StoreError, not sqlite3.ProgrammingError
            if saved:
                from memlab.store.faiss import table_cache

                table_cache.seal(self.path)


