"""Integrity check and repair of a memlab store: ``memlab doctor STORE`` and ``Memory.check()``.

Checks, in order (each yields a :class:`Finding`):

1. ``sqlite``: ``PRAGMA integrity_check`` (repair: ``REINDEX``; a damaged table is not
   repairable here: restore a snapshot).
2. ``schema``: the memlab tables and the Alembic version stamp exist.
3. ``meta``: ``store_meta`` records embedder, dims, epoch and a ``seq`` not behind any row
   (a stale ``seq`` would hide new writes from other processes; repair: raise it).
4. ``vectors``: every blob has the store's dimension, finite values, unit norm (repair:
   normalise; re-embed the text with the store's embedder when the blob is unusable).
5. ``rows``: metadata is a JSON object, the state is known, live memories have a scope,
   the hash matches the text (warnings unless unreadable).
6. ``index``: the in-memory table and the FAISS index hold exactly the active SQLite rows,
   with identical vectors (repair: rebuild both from SQLite).
7. ``embedder``: the embedder's name and output size match ``store_meta`` (when an embedder
   is at hand).

Repairs are made only with ``repair=True``, each in one ``BEGIN IMMEDIATE`` transaction that
bumps ``seq`` so that other processes reload the rewritten rows; an on-disk store is
snapshotted first (``memlab db rollback`` undoes a repair).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from memlab.doctor.checks import StoreChecks, run_sqlite_checks
from memlab.doctor.report import DoctorReport, Finding
from memlab.errors import MemlabError, StoreError
from memlab.store import Store
from memlab.store.faiss.schema import DB_NAME
from memlab.store.faiss import table_cache
from memlab.store.faiss.snapshots import take_snapshot

__all__ = ["DoctorReport", "Finding", "check_memory", "check_store"]


def check_store(path, *, repair: bool = False, embedder: Any = None) -> DoctorReport:
    """Check (and with ``repair=True`` fix) the store in directory ``path``.

    Raises:
        StoreError: ``path`` is not a store directory (no ``memlab.db``).
    """
    db = Path(path) / DB_NAME
    if not Path(path).exists():
        raise StoreError(f"{str(path)!r} does not exist: give the directory of a memlab store "
                         f"(the folder passed as Memory(path=...), holding {DB_NAME}).")
    if not Path(path).is_dir():
        raise StoreError(f"{str(path)!r} is a file, not a store directory: give the folder that holds {DB_NAME}.")
    if not db.is_file():
        raise StoreError(f"{str(path)!r} is not a memlab store: {DB_NAME} not found in it.")
    report = DoctorReport(str(path), repair)
    table_cache.discard(Path(path))  # the checks read SQLite itself, never the copy saved at the last close
    conn = sqlite3.connect(str(db), timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        doc = StoreChecks(conn, report, embedder)

        doc.before_repair = lambda: take_snapshot(path, "doctor-repair").path
        if run_sqlite_checks(doc):
            try:
                store = Store(str(path), doc.dims, doc.meta.get("embedder", ""))
            except MemlabError as exc:
                doc.add("index", "error", f"the store does not open: {exc}")
            else:
                try:
                    doc.index(store)
                finally:
                    store.close()
            doc.embedder_check()
    finally:
        conn.close()
    return report


def check_memory(memory, *, repair: bool = False) -> DoctorReport:
    """``Memory.check()``: the same checks on a live Memory, through its own connection."""
    store = memory.store
    if hasattr(store, "health"):  # an engine that checks itself (PostgreSQL: memlab.store.pg.health)
        report = DoctorReport(store.location, repair)
        findings, report.stats = store.health(str(memory.embedder.name))
        report.findings = [Finding(*f) for f in findings]
        return report
    report = DoctorReport(str(store.path) if store.path else "in-memory", repair)
    with store.lock:
        doc = StoreChecks(store.conn, report, memory.embedder)
        if store.path is not None:
            doc.before_repair = lambda: take_snapshot(store.path, "doctor-repair", conn=store.conn).path
            if repair:  # a repair may change rows without a transaction: the saved copy must not outlive it
                table_cache.discard(Path(store.path))
        if run_sqlite_checks(doc):
            doc.index(store)
        doc.embedder_check()
    return report
