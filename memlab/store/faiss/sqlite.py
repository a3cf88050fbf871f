"""SQLite helpers of the FAISS + SQLite engine: WAL, write transactions, the closed-store stand-in."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from memlab.errors import StoreError
from memlab.store.faiss.schema import DB_NAME


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
    return datetime.now(timezone.utc).isoformat()


@contextmanager
def immediate(conn: sqlite3.Connection, busy_timeout_ms: int) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (retried while another writer holds the lock) ... ``COMMIT``, or ``ROLLBACK`` on error."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise StoreError(
                    f"The store stayed locked by another writer for {busy_timeout_ms} ms; try again."
                ) from None
            time.sleep(0.01)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # also when COMMIT itself failed (disk full, I/O error)
            conn.execute("ROLLBACK")
        raise


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


class ClosedConnection:
    """Stands in for the connection of a closed store."""

    def execute(self, *args, **kwargs):
        raise StoreError("This memory's store was closed (Memory.close()); open a new Memory to use it.")

    def close(self) -> None:
        pass
