"""The PostgreSQL + pgvector engine (``vector_store.provider: "pgvector"``): :class:`PgStore`.

It implements :class:`memlab.store.base.MemoryStore` with PostgreSQL as the only state: no
in-memory copy, every read is one SQL statement (so it sees every committed write of every
process and machine), every write is one transaction on a pooled connection. Filters, scope,
state and expiry run in SQL (:mod:`memlab.store.pg.sql`), search too (:mod:`memlab.store.pg.search`).

Concurrency: a psycopg pool (``minconn`` / ``maxconn``) serves any number of threads; between
clients PostgreSQL's row locks serialise writers of the same memory (see
:mod:`memlab.store.pg.transaction`). A transaction waits at most ``busy_timeout_ms`` for a lock
(``lock_timeout``), then raises :class:`~memlab.errors.StoreError` and writes nothing; a deadlock
is rolled back and raised as :class:`~memlab.errors.ConflictError` (retry the call).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from memlab.enums import MemoryState
from memlab.errors import ConflictError, StoreError, ValidationError
from memlab.ranking.analyzer import default_analyzer
from memlab.ranking.bm25 import B, K1
from memlab.ranking.modes import check_search, run_search
from memlab.store.pg import connection as C
from memlab.store.pg import schema as S
from memlab.store.pg import search as Q
from memlab.store.pg.candidates import PgCandidates
from memlab.store.pg.sql import where
from memlab.store.pg.stats import ScopeCache
from memlab.store.pg.transaction import PgTransaction, decode, row_sql
from memlab.store.faiss.table import COLUMNS, Table

HISTORY_KEYS = ("id", "memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at", "is_deleted",
                "actor_id", "role")


def _public(row: dict) -> dict:
    row.pop("vid", None)
    return row


class PgStore:
    """A memlab store in PostgreSQL; see the module docstring. Build it with :meth:`from_settings`."""

    # read_filter adds the expiry condition to every read instead of first asking (one more round
    # trip per search) whether any row has an expiration_date (memlab.store.scoping)
    expiry_filter_always = True

    def __init__(self, conninfo: str, dims: int, embedder_name: str, *, collection_name: str = "memlab",
                 index: Optional[str] = None, minconn: int = 1, maxconn: int = 4, busy_timeout_ms: int = 30_000,
                 path: Any = None, keyword_args: Optional[dict] = None, exact_below: int = Q.EXACT_BELOW,
                 ef_search: int = Q.EF_SEARCH, hnsw_build: tuple[int, int] = (S.HNSW_M, S.HNSW_EF_CONSTRUCTION)):
        self.dims = int(dims)
        kw = dict(keyword_args or {})  # the analyzer and BM25 k1/b of memlab's keyword search
        self.analyzer = kw.get("analyzer") or default_analyzer()
        self.k1, self.b = float(kw.get("k1", K1)), float(kw.get("b", B))
        self.embedder_name = embedder_name
        self.table_name = S.check_collection(collection_name)
        self.path = path  # the pgserver data directory when memlab runs the server, else None
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.conninfo = conninfo
        self.location = C.describe(conninfo)
        self.pool = None
        timeout = max(1.0, self.busy_timeout_ms / 1000)
        conn = C.connect(conninfo, timeout=min(timeout, 30.0))
        try:
            self.meta = S.ensure_schema(conn, self.table_name, self.dims, embedder_name, index, self.analyzer,
                                        hnsw_build)
            # dense search's HNSW settings (memlab.store.pg.search.dense): the index is looked up once
            self.dense_opts = {"ann": Q.ann_index(conn, self.table_name), "exact_below": int(exact_below),
                                "ef_search": int(ef_search)}
            # BM25 vocabularies per scope version (memlab.store.pg.stats); fusion over this many allowed
            # rows or more ranks a candidate pool (memlab.store.pg.candidates; 0: never)
            self.scope_cache = ScopeCache()
            self.fusion_exact_below = Q.EXACT_BELOW
        finally:
            conn.close()
        self.pool = C.open_pool(conninfo, minconn, maxconn, timeout)

    @classmethod
    def from_settings(cls, settings: Any, dims: int, embedder_name: str, *,
                      keyword_args: Optional[dict] = None) -> "PgStore":
        """Open the store a :class:`memlab.config.PgvectorStoreSettings` describes."""
        index = "diskann" if settings.diskann else "hnsw" if settings.hnsw else None
        lo, hi = C.pool_size(settings.minconn, settings.maxconn)
        return cls(C.conninfo_of(settings), dims, embedder_name, collection_name=settings.collection_name,
                   index=index, minconn=lo, maxconn=hi, busy_timeout_ms=settings.busy_timeout_ms,
                   path=settings.path, keyword_args=keyword_args, exact_below=settings.hnsw_exact_below,
                   ef_search=settings.hnsw_ef_search, hnsw_build=(settings.hnsw_m, settings.hnsw_ef_construction))

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _conn(self) -> Iterator[Any]:
        if self.pool is None:
            raise StoreError("This store is closed; open a new Memory.")
        import psycopg
        from psycopg_pool import PoolTimeout

        pool = self.pool
        try:
            with pool.connection() as conn:
                try:
                    yield conn
                finally:
                    C.mark_returned(conn)
        except psycopg.errors.DataError as exc:
            raise ValidationError(f"PostgreSQL rejected a value: {str(exc).strip()}") from None
        except psycopg.errors.QueryCanceled as exc:  # the server's statement_timeout (or a cancel): rolled back
            raise StoreError(f"PostgreSQL cancelled the statement ({str(exc).splitlines()[0]}); nothing was written. "
                             "Retry, or raise the server's statement_timeout (docs/engines.md).") from None
        except PoolTimeout:
            raise StoreError(f"No PostgreSQL connection within {pool.timeout:g} s ({self.location}): is the "
                             "server running and reachable? (`memlab pg start DIR` starts memlab's own.) Nothing was "
                             "done; memlab keeps reconnecting in the background, so retry the call.") from None
        except psycopg.OperationalError as exc:
            raise StoreError(f"The connection to PostgreSQL broke during this call ({self.location}): "
                             f"{str(exc).strip()}. Is the server running? Reads can be retried; a write was rolled "
                             "back unless the break came during its COMMIT: check with get()/history() before "
                             "repeating it.") from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(f"PostgreSQL refused ({str(exc).splitlines()[0]}); nothing was written. The store's owner "
                             "grants SELECT, INSERT, UPDATE, DELETE on its tables and USAGE on their sequences "
                             "(docs/engines.md).") from None
        except psycopg.Error as exc:  # anything else the server says (e.g. a table dropped under us): still typed
            raise StoreError(f"PostgreSQL error ({self.location}, table {self.table_name!r}): "
                             f"{str(exc).splitlines()[0]}") from None

    @contextmanager
    def transaction(self) -> Iterator[PgTransaction]:
        """One atomic write: BEGIN ... COMMIT on one pooled connection; any exception rolls it back."""
        import psycopg

        with self._conn() as conn:
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL lock_timeout = {self.busy_timeout_ms}")
                    yield PgTransaction(self, conn)
            except psycopg.errors.LockNotAvailable:
                raise StoreError(f"Timed out after {self.busy_timeout_ms} ms waiting for a row lock held by another "
                                 "client; nothing was written. Retry, or raise busy_timeout_ms.") from None
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
                raise ConflictError(f"Another client's write conflicted with this one ({str(exc).strip()}); "
                                    "nothing was written: retry the call.") from None
            except psycopg.IntegrityError as exc:
                raise ConflictError(f"the write collides with rows already in the store ({str(exc).strip()}); "
                                    "nothing was written") from None

    def _rows(self, sql: str, params: Any = (), *, vector: bool = False) -> list[dict]:
        with self._conn() as conn:
            return [decode(r, vector=vector) for r in conn.execute(sql, params, binary=vector).fetchall()]

    # ------------------------------------------------------------------ reads
    def get(self, memory_id: str) -> Optional[dict]:
        rows = self._rows(f"SELECT {row_sql(self.table_name)} FROM {self.table_name} m WHERE m.id = %s", (memory_id,))
        return _public(rows[0]) if rows else None

    def has_values(self, column: str) -> bool:
        if column not in COLUMNS or column == "metadata":
            raise ValueError(f"unknown column {column!r}")
        with self._conn() as conn:
            return bool(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {self.table_name} WHERE {column} IS NOT NULL)")
                        .fetchone()[0])

    def select(self, node: Any, limit: Optional[int] = None) -> list[dict]:
        cond, params = where(self.table_name, node)
        lim = "" if limit is None else f" LIMIT {int(limit)}"
        return [_public(r) for r in self._rows(
            f"SELECT {row_sql(self.table_name)} FROM {self.table_name} m WHERE {cond} ORDER BY m.vid{lim}", params)]

    def scan(self, node: Any = None, *, include_inactive: bool = False) -> list[tuple[dict, np.ndarray]]:
        cond, params = where(self.table_name, node, include_inactive=include_inactive)
        rows = self._rows(f"SELECT {row_sql(self.table_name, vector=True)} FROM {self.table_name} m WHERE {cond} "
                          "ORDER BY m.vid", params, vector=True)
        return [(_public(r), r.pop("vector")) for r in rows]

    def count(self, node: Any = None) -> int:
        cond, params = where(self.table_name, node)
        with self._conn() as conn:
            return int(conn.execute(f"SELECT count(*) FROM {self.table_name} m WHERE {cond}", params).fetchone()[0])

    def vector(self, memory_id: str) -> Optional[np.ndarray]:
        with self._conn() as conn:
            r = conn.execute(f"SELECT embedding FROM {self.table_name} WHERE id = %s AND state = 'active'",
                             (memory_id,), binary=True).fetchone()
        return None if r is None else r[0]

    def search(self, query_vec: np.ndarray, node: Any, limit: int, threshold: Optional[float] = None, *,
               mode: str = "dense", text: Optional[str] = None, k_rrf: int = 60, weights: Optional[dict] = None,
               normalization: str = "zscore", explain: bool = False,
               calibration: Optional[Any] = None, reference_date: Any = None, **options: Any) -> list[tuple]:
        """The search contract of :meth:`memlab.store.faiss.engine.Store.search`: memlab.ranking.modes over
        this engine's candidates (:mod:`memlab.store.pg.candidates`)."""
        mode, k_rrf = check_search(mode, text, k_rrf)
        q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        with self._conn() as conn:
            source = PgCandidates(conn, self.table_name, q, node, analyzer=self.analyzer, k1=self.k1, b=self.b,
                                  dense_opts=self.dense_opts, cache=self.scope_cache,
                                  fusion_exact_below=self.fusion_exact_below)
            hits = run_search(source, mode=mode, text=text, limit=limit, threshold=threshold, k_rrf=k_rrf,
                              weights=weights, normalization=normalization, explain=explain, calibration=calibration,
                              reference_date=reference_date)
            rows = source.rows([key for key, _, _ in hits])
        # a row deleted between two statements is gone
        return [(_public(rows[key]), score, extra) for key, score, extra in hits if key in rows]

    def to_pandas(self, *, expand_metadata: bool = False, include_deleted: bool = False) -> Any:
        """The FAISS engine's DataFrame (same columns and dtypes), built from one SELECT."""
        cond = "true" if include_deleted else f"m.state <> '{MemoryState.DELETED.value}'"
        rows = self._rows(f"SELECT {row_sql(self.table_name)} FROM {self.table_name} m WHERE {cond} ORDER BY m.vid")
        table = Table(self.dims)
        if rows:
            data = {c: np.array([r[c] for r in rows] + [None], dtype=object)[:-1] for c in COLUMNS}
            data["categories"] = {i: r["categories"] for i, r in enumerate(rows) if r["categories"]}
            table.bulk_load(np.array([r["vid"] for r in rows], dtype=np.int64), data,
                            np.zeros((len(rows), self.dims), dtype=np.float32))
        return table.to_pandas(expand_metadata=expand_metadata)

    # ------------------------------------------------------------------ history and the other tables
    def history(self, memory_id: str) -> list[dict]:
        with self._conn() as conn:
            return [dict(zip(HISTORY_KEYS, r)) for r in conn.execute(
                f"SELECT {', '.join(HISTORY_KEYS)} FROM {self.table_name}_history WHERE memory_id = %s ORDER BY hseq",
                (memory_id,)).fetchall()]

    def histories(self, ids: Iterable[str]) -> dict[str, list[dict]]:
        keys = tuple(k for k in HISTORY_KEYS if k != "memory_id")
        out: dict[str, list] = {}
        with self._conn() as conn:
            for r in conn.execute(f"SELECT memory_id, {', '.join(keys)} FROM {self.table_name}_history "
                                  "WHERE memory_id = ANY(%s) ORDER BY hseq", (list(ids),)):
                out.setdefault(r[0], []).append(dict(zip(keys, r[1:])))
        return out

    def categories(self) -> list[dict]:
        keys = ("id", "name", "description", "created_at", "updated_at")
        with self._conn() as conn:
            return [dict(zip(keys, r)) for r in conn.execute(
                f"SELECT {', '.join(keys)} FROM {self.table_name}_categories ORDER BY name COLLATE \"C\"")]

    def configs(self) -> list[dict]:
        with self._conn() as conn:
            return [{"key": k, "value": v, "created_at": c, "updated_at": u} for k, v, c, u in conn.execute(
                f"SELECT key, value, created_at, updated_at FROM {self.table_name}_configs ORDER BY key COLLATE \"C\"")]

    def identity(self) -> dict:
        """The embedder that built the store and its vector size: ``{"embedder", "dims"}``."""
        return {"embedder": self.embedder_name, "dims": self.dims}

    def health(self, embedder_name: Optional[str] = None) -> tuple[list[tuple], dict]:
        """``memlab doctor`` checks of this store (:mod:`memlab.store.pg.health`)."""
        from memlab.store.pg.health import health

        return health(self, embedder_name)

    # ------------------------------------------------------------------ lifecycle
    def snapshot(self, reason: str) -> Optional[str]:
        """None: PostgreSQL has its own backups (pg_dump; docs/engines.md); destructive steps are transactions."""
        return None

    def sync(self) -> None:
        """Nothing to catch up with: every read asks the database."""

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()

    def __repr__(self) -> str:
        return f"PgStore({self.location}, table={self.table_name!r}, dims={self.dims})"
