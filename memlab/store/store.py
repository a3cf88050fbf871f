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
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from memlab.errors import ConfigError, StoreError, ValidationError
from memlab.store import filters as F
from memlab.store.index import VectorIndex
from memlab.store.fusion import DEFAULT_WEIGHTS
from memlab.store.keyword import check_k_rrf, check_mode, ranked_search
from memlab.store.ranking import fused_search
from memlab.store.schema import create_initial, current_revision
from memlab.store.table import COLUMNS, Table

DB_NAME = "memlab.db"
# columns of `memories` besides vid/vector/seq: the table's columns plus the context window's
# embedding (schema 0005; NULL when the memory has no context)
ROW_COLUMNS = (*COLUMNS, "context_vector")
HYBRID_DEPTH = 100  # each ranking fused by a hybrid search is at least this deep


def enable_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switch a database to WAL, retrying while another process holds the lock.

    Switching a new database to WAL needs an exclusive lock and SQLite returns "database is
    locked" at once instead of calling the busy handler, so processes opening a new database
    together would fail without the retry.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat()


class Transaction:
    """Collects row upserts and history rows of one SQLite transaction."""

    def __init__(self, store: "Store", conn: sqlite3.Connection, seq: int):
        self.store = store
        self.conn = conn
        self.seq = seq
        self.rows: list[tuple[int, dict, np.ndarray]] = []
        self.wiped = False
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

    def put_row(self, row: dict, vector: np.ndarray) -> int:
        """Insert or replace a memory row; returns its vid."""
        vec = np.ascontiguousarray(vector, dtype=np.float32)
        if vec.shape != (self.store.dims,):
            raise StoreError(f"vector has shape {vec.shape}, store expects ({self.store.dims},)")
        values = [row.get(c) for c in ROW_COLUMNS]
        values[ROW_COLUMNS.index("metadata")] = json.dumps(row.get("metadata") or {}, sort_keys=True, ensure_ascii=False)
        ctx = row.get("context_vector")
        if ctx is not None:
            ctx = np.ascontiguousarray(ctx, dtype=np.float32)
            if ctx.shape != (self.store.dims,):
                raise StoreError(f"context vector has shape {ctx.shape}, store expects ({self.store.dims},)")
            values[ROW_COLUMNS.index("context_vector")] = ctx.tobytes()
        # One statement for insert-or-replace; the vid (FAISS id) of an existing row is kept.
        sets = ", ".join(f"{c} = excluded.{c}" for c in ROW_COLUMNS if c != "id")
        vid = int(self.conn.execute(
            f"INSERT INTO memories ({', '.join(ROW_COLUMNS)}, vector, seq) VALUES "
            f"({', '.join('?' * (len(ROW_COLUMNS) + 2))}) "
            f"ON CONFLICT(id) DO UPDATE SET {sets}, vector = excluded.vector, seq = excluded.seq RETURNING vid",
            (*values, vec.tobytes(), self.seq),
        ).fetchone()[0])
        self.rows.append((vid, dict(row), vec))
        return vid

    def add_history(self, memory_id: str, old_memory: Optional[str], new_memory: Optional[str], event: str,
                    *, created_at: Optional[str] = None, updated_at: Optional[str] = None,
                    is_deleted: bool = False, actor_id: Optional[str] = None, role: Optional[str] = None,
                    history_id: Optional[str] = None) -> str:
        hid = history_id or str(uuid.uuid4())
        # Ordering key without a MAX() scan: transaction seq in the high bits, position within it in
        # the low 32 (room for 4e9 rows per transaction and 2e9 transactions in a signed int64).
        self._history_count += 1
        hseq = (self.seq << 32) + self._history_count
        self.conn.execute(
            "INSERT INTO history (id, memory_id, old_memory, new_memory, event, created_at, updated_at, "
            "is_deleted, actor_id, role, hseq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (hid, memory_id, old_memory, new_memory, event, created_at, updated_at, int(bool(is_deleted)),
             actor_id, role, hseq),
        )
        return hid

    def wipe(self) -> None:
        """Remove every memory and history row (``reset``)."""
        self.conn.execute("DELETE FROM memories")
        self.conn.execute("DELETE FROM history")
        self.conn.execute("DELETE FROM memory_categories")  # memory-linked rows (schema 0002)
        self.wiped = True


class Store:
    """SQLite + table + FAISS; see the module docstring."""

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
            with self._immediate(conn):
                if current_revision(conn) is None:
                    tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
                    if tables:
                        raise StoreError("Database has tables but no memlab schema version: it is not a memlab store, "
                                         "or one downgraded to <base> (`memlab db rollback` or `memlab db upgrade` "
                                         "brings it back).")
                    create_initial(conn)
            rev = current_revision(conn)
        from memlab.store import schema as S

        upgrade = getattr(S, "upgrade_to_head", None)
        if upgrade is not None:
            upgrade(conn, self.path, rev)

    def _check_identity(self) -> None:
        meta = dict(self.conn.execute("SELECT key, value FROM store_meta").fetchall())
        if "embedder" not in meta:
            with self._immediate(self.conn):
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

    @staticmethod
    def read_identity(path: str) -> Optional[dict]:
        """The embedder recorded in a store directory (without opening it as a Store)."""
        db = Path(path) / DB_NAME
        if not db.exists():
            return None
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM store_meta").fetchall())
        except sqlite3.DatabaseError:
            return None
        finally:
            conn.close()
        if "embedder" not in meta:
            return None
        return {"embedder": meta["embedder"], "dims": int(meta["dims"])}

    @contextmanager
    def _immediate(self, conn: sqlite3.Connection):
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"The store stayed locked by another writer for {self.busy_timeout_ms} ms; try again."
                    ) from None
                time.sleep(0.01)
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # also when COMMIT itself failed (disk full, I/O error)
                conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ loading / syncing
    def _decode(self, r) -> dict:
        row = dict(zip(("vid", *ROW_COLUMNS), r[: 1 + len(ROW_COLUMNS)]))
        try:
            row["metadata"] = json.loads(row["metadata"]) if row["metadata"] else {}
        except ValueError:  # a damaged row must not surface as a bare JSONDecodeError
            raise StoreError(f"Memory {row['id']} has unreadable metadata JSON; run `memlab doctor` on the store.") from None
        row["vector"] = np.frombuffer(r[1 + len(ROW_COLUMNS)], dtype=np.float32)
        ctx = row.get("context_vector")
        if ctx is not None:
            ctx = np.frombuffer(ctx, dtype=np.float32)
            row["context_vector"] = ctx if len(ctx) == self.dims else None  # a damaged blob: no context vector
        return row

    def _meta(self, key: str) -> Optional[str]:
        r = self.conn.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
        return r[0] if r else None

    def _load_rows(self, since_seq: int) -> None:
        cur = self.conn.execute(
            f"SELECT vid, {', '.join(ROW_COLUMNS)}, vector, seq FROM memories WHERE seq > ? ORDER BY vid",
            (since_seq,),
        )
        added_vids, added_vecs, removed = [], [], []
        max_seq = since_seq
        table = self.table
        for r in cur:
            row = self._decode(r[:-1])
            vid = row.pop("vid")
            vec = row.pop("vector")
            if len(vec) != self.dims:
                raise StoreError(f"Row {row['id']} has a {len(vec)}-d vector in a {self.dims}-d store; run `memlab doctor`.")
            pos = table.pos_by_id.get(row["id"])
            if pos is not None and table.active[pos]:
                removed.append(int(table.vids[pos]))
            _, _, is_active = table.upsert(vid, row, vec)
            if is_active:
                added_vids.append(vid)
                added_vecs.append(vec)
            max_seq = max(max_seq, r[-1])
        if removed:
            self.index.remove(removed)
        if added_vids:
            self.index.add(np.asarray(added_vids, dtype=np.int64), np.vstack(added_vecs))
        self.last_seq = max_seq

    def _load_all(self) -> None:
        with self.lock:
            self.table.clear()
            self.index.reset()
            self.last_seq = 0
            self.epoch = self._meta("epoch")
            self._data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            self._bulk_load()

    def _bulk_load(self) -> None:
        """Initial load, column by column (a 100k-memory store re-opens in about a second)."""
        rows = self.conn.execute(
            f"SELECT vid, {', '.join(ROW_COLUMNS)}, vector, seq FROM memories ORDER BY vid"
        ).fetchall()
        if not rows:
            return
        n = len(rows)
        columns = list(zip(*rows))
        blobs = columns[1 + len(ROW_COLUMNS)]
        width = self.dims * 4
        if set(map(len, blobs)) != {width}:
            bad = next(i for i, b in enumerate(blobs) if len(b) != width)
            raise StoreError(
                f"Row {columns[1][bad]} has a {len(blobs[bad]) // 4}-d vector in a {self.dims}-d store; "
                "run `memlab doctor` on it."
            )
        vecs = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(n, self.dims)
        data = {c: columns[1 + i] for i, c in enumerate(ROW_COLUMNS)}
        data["metadata"] = self._decode_metadata_column(data["id"], data["metadata"])
        vids = np.fromiter(columns[0], dtype=np.int64, count=n)
        active = self.table.bulk_load(vids, data, vecs)
        self.index.add(vids[active], vecs[active])
        self.last_seq = int(max(columns[-1]))

    @staticmethod
    def _decode_metadata_column(ids, texts) -> list:
        """Parse every row's metadata JSON in one call (one C-level parse, not 100k Python calls)."""
        try:
            metas = json.loads("[" + ",".join(t or "{}" for t in texts) + "]")
            if len(metas) == len(texts) and all(isinstance(m, dict) for m in metas):
                return metas
        except ValueError:
            pass
        metas = []  # something is off: find the row, row by row
        for memory_id, text in zip(ids, texts):
            try:
                meta = json.loads(text) if text else {}
            except ValueError:
                meta = None
            if not isinstance(meta, dict):
                raise StoreError(
                    f"Memory {memory_id} has unreadable metadata JSON; run `memlab doctor` on the store."
                ) from None
            metas.append(meta)
        return metas

    def sync(self) -> None:
        """Catch up with commits made by other connections (other processes or Memory objects)."""
        with self.lock:
            dv = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if dv == self._data_version:
                return
            self._data_version = dv
            try:
                if self._meta("epoch") != self.epoch:
                    self._load_all()
                else:
                    self._load_rows(self.last_seq)
            except BaseException:
                self._invalidate()
                raise

    def _invalidate(self) -> None:
        """Forget what was loaded: the next access reloads everything from SQLite. Used when an
        in-memory update was cut short (KeyboardInterrupt in a notebook, a damaged row), which
        would otherwise leave the table/index silently out of step with SQLite."""
        self._data_version = None
        self.epoch = None

    # ------------------------------------------------------------------ writing
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One atomic change. In-memory structures change only after COMMIT."""
        with self.lock:
            self.sync()
            with self._immediate(self.conn) as conn:
                seq = int(conn.execute(
                    "UPDATE store_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' RETURNING value"
                ).fetchone()[0])
                tx = Transaction(self, conn, seq)
                tx.epoch = self._meta("epoch")
                yield tx
                if tx.wiped:
                    conn.execute("UPDATE store_meta SET value = ? WHERE key = 'epoch'", (uuid.uuid4().hex,))
                # Read while holding the write lock: nobody else can commit before our COMMIT, so
                # this is exactly the version our commit leaves us at. Reading it after COMMIT
                # (as before) could swallow another connection's commit made in between.
                tx.data_version = conn.execute("PRAGMA data_version").fetchone()[0]
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
        for vid, row, vec in tx.rows:
            pos = table.pos_by_id.get(row["id"])
            if pos is not None and table.active[pos]:
                self.index.remove([int(table.vids[pos])])
            _, _, is_active = table.upsert(vid, row, vec)
            if is_active:
                self.index.add(np.asarray([vid], dtype=np.int64), vec[None, :])
        self.last_seq = tx.seq

    # ------------------------------------------------------------------ reading
    def get(self, memory_id: str) -> Optional[dict]:
        with self.lock:
            self.sync()
            pos = self.table.pos_by_id.get(memory_id)
            return None if pos is None else self.table.row(pos)

    def exists(self, memory_id: str) -> bool:
        return self.get(memory_id) is not None

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

    def search(self, query_vec: np.ndarray, node, limit: int, threshold: Optional[float] = None, *,
               mode: str = "dense", text: Optional[str] = None, k_rrf: int = 60,
               weights: Optional[dict] = None, normalization: str = "zscore", explain: bool = False):
        """Top-``limit`` rows among the rows allowed by ``node``, scored exactly.

        ``mode="dense"`` ranks by cosine and returns (row, score) pairs, best first; equal
        scores are ordered by insertion (older first) so results are deterministic.
        ``"keyword"`` ranks by BM25 of ``text`` over the allowed rows; ``"hybrid"`` by
        reciprocal-rank fusion (``k_rrf``) of the dense and BM25 rankings, each cut at
        ``max(limit, 100)`` (see memlab.store.keyword). Both return (row, score, extra)
        with ``extra = {"keyword_score": bm25, "rank_score": rrf}``. ``score`` is always the
        cosine similarity, and rows whose cosine is below ``threshold`` are dropped.
        ``"fusion"`` ranks by normalised CombSUM of the dense, dense-context, keyword and
        keyword-context channels (``weights``, ``normalization``; see memlab.store.ranking) and
        returns (row, cosine, extra) with ``extra["rank_score"]`` the fused score.
        """
        mode = check_mode(mode)
        k_rrf = check_k_rrf(k_rrf)
        if mode != "dense" and not isinstance(text, str):
            raise ValidationError(f"A {mode} search needs the query text (text=...).")
        with self.lock:
            self.sync()
            t = self.table
            q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
            if mode == "dense":
                positions, scores = self._dense_top(q, node, limit)
                out = []
                for pos, score in zip(positions, scores):
                    score = float(score)
                    if threshold is not None and score < threshold:
                        continue
                    out.append((t.row(int(pos)), score))
                return out
            mask = self.mask(node)
            allowed = np.flatnonzero(mask)
            if len(allowed) == 0:
                return []
            if mode == "fusion":
                hits = fused_search(t, q, text, allowed, mask, weights=weights or DEFAULT_WEIGHTS,
                                    normalization=normalization, limit=limit, threshold=threshold,
                                    explain=explain)
                return [(t.row(pos), cos, extra) for pos, cos, extra in hits]
            depth = max(limit, HYBRID_DEPTH)
            dense = self._dense_top(q, node, depth, allowed)[0] if mode == "hybrid" else None
            hits = ranked_search(t.keyword_index(), t.vecs, q, text, allowed, mask, dense, mode=mode,
                                 limit=limit, threshold=threshold, k_rrf=k_rrf, depth=depth)
            out = [(t.row(pos), cos, {"keyword_score": kw, "rank_score": rrf}) for pos, cos, kw, rrf in hits]
            if explain:  # RRF: the raw scores and the fused value (channel ranks are in the RRF terms)
                for _, cos, extra in out:
                    extra["explain"] = {"mode": mode, "fused": extra["rank_score"], "k_rrf": k_rrf, "channels": {
                        "dense": {"raw": cos}, "keyword": {"raw": extra["keyword_score"]}}}
            return out

    def _dense_top(self, q: np.ndarray, node, limit: int,
                   allowed: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions, cosines) of the best ``limit`` allowed rows, best first (lock held)."""
        t = self.table
        if node is None:
            scores, vids = self.index.search(q, limit)
            positions = np.fromiter((t.pos_by_vid[int(v)] for v in vids), dtype=np.int64, count=len(vids))
            return positions, scores
        if allowed is None:
            allowed = np.flatnonzero(self.mask(node))
        only_active = not F.mentions(node, "state")
        if len(allowed) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if len(allowed) <= self.exact_subset_max or not only_active:
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
        scores, vids = self.index.search(q, limit, allowed_vids=t.vids[allowed])
        positions = np.fromiter((t.pos_by_vid[int(v)] for v in vids), dtype=np.int64, count=len(vids))
        return positions, scores

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

    def has_history(self, memory_id: str) -> bool:
        with self.lock:
            return self.conn.execute("SELECT 1 FROM history WHERE memory_id = ? LIMIT 1", (memory_id,)).fetchone() is not None

    def vector(self, memory_id: str) -> Optional[np.ndarray]:
        with self.lock:
            self.sync()
            pos = self.table.pos_by_id.get(memory_id)
            return None if pos is None else self.table.vecs[pos].copy()

    def count(self, node=None) -> int:
        with self.lock:
            self.sync()
            return int(self.mask(node).sum())

    def close(self) -> None:
        with self.lock:
            try:
                self.conn.close()
            except sqlite3.Error:
                pass
            self.conn = _ClosedConnection()  # later calls get a StoreError, not sqlite3.ProgrammingError


class _ClosedConnection:
    """Stands in for the connection of a closed store."""

    def execute(self, *args, **kwargs):
        raise StoreError("This memory's store was closed (Memory.close()); open a new Memory to use it.")

    def close(self) -> None:
        pass
