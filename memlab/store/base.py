"""The Store interface: what every engine (FAISS + SQLite today, PostgreSQL + pgvector next) provides.

Everything above ``memlab/store`` — the ``Memory`` facade, the infer pipeline, importers, export,
evaluation, comparison, the server — talks to an engine only through these two protocols. A row is a
plain dict with the columns of ``memlab.store.faiss.table.COLUMNS`` (``id, memory, hash, metadata,
user_id, agent_id, run_id, actor_id, role, memory_type, state, created_at, updated_at,
archived_at, deleted_at, expiration_date, ...``) plus ``categories`` (a list of names). Vectors are
L2-normalised ``float32`` arrays of length ``dims``. Filters are the parsed trees of
:mod:`memlab.store.filters` (``None`` = everything), built with :mod:`memlab.store.scoping`.

Semantics every engine keeps (the behavioural tests in ``tests/core`` and ``tests/reliability`` pin them):

* one :meth:`MemoryStore.transaction` is one atomic write: rows, category links, history and configs
  commit together or not at all; a collision with existing rows raises ``ConflictError``;
* reads see every committed write, also those of other processes on the same store;
* reads return active memories only unless the filter names ``state``;
* :meth:`MemoryStore.search` scores every row the filter allows, exactly: a scoped search never misses
  its scope's own memories (no over-fetch-then-filter), and equal scores keep insertion order.
"""

from __future__ import annotations

from typing import Any, ContextManager, Iterable, Optional, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class StoreTransaction(Protocol):
    """One atomic write (see :meth:`MemoryStore.transaction`)."""

    def get_row(self, memory_id: str) -> Optional[dict]:
        """The current row (with ``vector``) as this transaction sees it, or None."""

    def put_row(self, row: dict, vector: np.ndarray) -> Any:
        """Insert or replace a memory row; ``row["categories"]`` (when present) replaces its links."""

    def add_history(self, memory_id: str, old_memory: Optional[str], new_memory: Optional[str], event: str,
                    **fields: Any) -> str:
        """Append one history row (``created_at, updated_at, is_deleted, actor_id, role, history_id``)."""

    def clear_history(self, memory_id: str) -> None:
        """Drop a memory's history (an import replacing it brings its own)."""

    def ensure_category(self, category: dict) -> bool:
        """Add a category by name unless it exists; True when added."""

    def put_config(self, key: str, value: Any, *, created_at: Optional[str] = None,
                   updated_at: Optional[str] = None) -> None:
        """Insert or replace an entry of the store's configs table."""

    def wipe(self) -> None:
        """Remove every memory, history row and category link (``Memory.reset``)."""


@runtime_checkable
class MemoryStore(Protocol):
    """A memlab engine. ``dims`` is the vector size, ``path`` the store directory (None = in memory)."""

    dims: int
    path: Any
    location: str  # where it lives, for messages and reports (a directory, "in-memory", a server and database)
    # True: reads always carry the expiry condition (a SQL engine: cheaper than a round trip asking
    # has_values("expiration_date")); False: reads skip it while no row has an expiration date
    expiry_filter_always: bool

    def transaction(self) -> ContextManager[StoreTransaction]:
        """One atomic write; the engine's in-memory views change only after it commits."""

    # reads
    def get(self, memory_id: str) -> Optional[dict]:
        """A row by id (any state), or None."""

    def select(self, node: Any, limit: Optional[int] = None) -> list[dict]:
        """Rows the filter allows, in insertion order."""

    def scan(self, node: Any = None, *, include_inactive: bool = False) -> list[tuple[dict, np.ndarray]]:
        """``(row, vector)`` pairs the filter allows, in insertion order (exports, verification)."""

    def count(self, node: Any = None) -> int:
        """How many rows the filter allows."""

    def has_values(self, column: str) -> bool:
        """Does any row set ``column`` (lets reads skip filters that cannot match)?"""

    def vector(self, memory_id: str) -> Optional[np.ndarray]:
        """The stored vector of an active memory, or None."""

    def search(self, query_vec: np.ndarray, node: Any, limit: int, threshold: Optional[float] = None, *,
               mode: str = "dense", text: Optional[str] = None, **options: Any) -> list[tuple[dict, float, dict]]:
        """Exact top-``limit`` over the allowed rows: ``(row, score, extra)`` in every mode, best first
        (memlab.ranking.modes runs the modes over the engine's candidates)."""

    def to_pandas(self, *, expand_metadata: bool = False, include_deleted: bool = False) -> Any:
        """One DataFrame row per memory, in insertion order."""

    # history and the store's other tables
    def history(self, memory_id: str) -> list[dict]:
        """A memory's history rows, oldest first ([] for an unknown id)."""

    def histories(self, ids: Iterable[str]) -> dict[str, list[dict]]:
        """History rows of many memories at once (exports)."""

    def categories(self) -> list[dict]:
        """The category catalogue, by name."""

    def configs(self) -> list[dict]:
        """The configs table, by key."""

    # lifecycle
    def snapshot(self, reason: str) -> Optional[str]:
        """Take a restorable snapshot before a destructive step; its id (None where not supported)."""

    def identity(self) -> dict:
        """``{"embedder": name, "dims": n}``: what built the store's vectors (an importer or a comparison
        reopening the store needs that embedder)."""

    def sync(self) -> None:
        """Catch up with other connections' commits."""

    def close(self) -> None:
        """Release the engine; later calls raise ``StoreError``."""
