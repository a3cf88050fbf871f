"""``memlab db`` on a PostgreSQL store: its schema revision, the chain, an explicit upgrade and downgrade.

The pgvector engine keeps its own revision chain (:func:`memlab.store.pg.schema.revisions`; forward-only
but for ``0004_scope_stats``; the applied one is ``schema_version`` in ``<collection>_meta``) and upgrades
it when a ``Memory`` opens the store. These functions let an operator look and upgrade without opening a ``Memory``
(no embedder needed: the store's vector size and embedder come from the table itself).

Snapshots and rollback are the SQLite engine's (a store directory is one file memlab can copy); a
PostgreSQL database is backed up and restored with the server's own tools, so those actions raise a
:class:`~memlab.errors.StoreError` that says how (``pg_dump`` / ``pg_restore``). :func:`downgrade`
undoes the revisions that declare how (those that only add derived tables, e.g. ``0004_scope_stats``).
"""

from __future__ import annotations

from typing import Any, Optional

from memlab.errors import StoreError

BACKUP_HINT = ("PostgreSQL stores are versioned forward only (derived tables aside): back the database up with "
               "`pg_dump -Fc -t '{t}*' DBNAME > memlab.dump` before an upgrade and restore it with `pg_restore` "
               "(a server started by `memlab pg start DIR`: `memlab pg url DIR` gives the connection string).")


def _open(conninfo: str, collection: str) -> tuple[Any, str]:
    from memlab.store.pg import connection as C
    from memlab.store.pg import schema as S

    t = S.check_collection(collection)
    conn = C.connect(conninfo, timeout=10)
    ok = conn.execute("SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL", (t, f"{t}_meta")).fetchone()
    if not ok[0]:
        conn.close()
        raise StoreError(f"No memlab store {t!r} in this database ({C.describe(conninfo)}); pass its "
                         "collection_name with --collection (a store is created by opening a Memory on it).")
    return conn, t


def history() -> list[dict]:
    """Every revision of the chain, oldest first: ``{"revision", "down_revision", "head"}``."""
    from memlab.store.pg.schema import revisions

    ids = [rid for rid, _ in revisions("t", 1)]
    return [{"revision": rid, "down_revision": ids[i - 1] if i else None, "head": i == len(ids) - 1}
            for i, rid in enumerate(ids)]


def _version(conn: Any, t: str) -> Optional[str]:
    row = conn.execute(f"SELECT value FROM {t}_meta WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


def current(conninfo: str, collection: str = "memlab") -> Optional[str]:
    """The revision collection ``collection`` is at (None: base)."""
    conn, t = _open(conninfo, collection)
    try:
        return _version(conn, t)
    finally:
        conn.close()


def upgrade(conninfo: str, collection: str = "memlab", revision: str = "head") -> tuple[Optional[str], str]:
    """Upgrade the collection to the head revision, in one transaction; returns (from, to).

    Only ``head`` is a valid target (the chain is forward-only and a Memory upgrades to head anyway).
    """
    from memlab.ranking.analyzer import default_analyzer
    from memlab.store.pg import schema as S

    if revision != "head" and revision != S.head_revision():
        raise StoreError(f"A PostgreSQL store upgrades to head ({S.head_revision()}) only, got {revision!r}.")
    conn, t = _open(conninfo, collection)
    try:
        before = _version(conn, t)
        meta = dict(conn.execute(f"SELECT key, value FROM {t}_meta").fetchall())
        dims = S.existing_dims(conn, t)
        if not meta.get("embedder") or not dims or dims < 1:
            raise StoreError(f"Store {t!r} records no embedder or vector size; open it once with a Memory "
                             "(which completes its metadata) or check it with `memlab doctor`.")
        # the store's own embedder and size: nothing about them changes; the backfill uses the default
        # analyzer (the one a Memory with default settings opens the store with)
        S.ensure_schema(conn, t, int(dims), meta.get("embedder", ""), None, default_analyzer())
    finally:
        conn.close()
    return before, S.head_revision()


def downgrade(conninfo: str, collection: str = "memlab", revision: str = "-1") -> tuple[Optional[str], str]:
    """Undo revisions down to ``revision`` (an id of the chain, or ``-1``: one step), in one transaction;
    returns (from, to). Only revisions with a downgrade (:func:`memlab.store.pg.schema.downgrades`, e.g.
    ``0004_scope_stats``: its table and triggers are dropped, no memory is touched) can be undone; the
    others raise a :class:`~memlab.errors.StoreError` saying how to go back (pg_dump / pg_restore).
    A ``Memory`` opening the store upgrades it to head again."""
    from memlab.store.pg import schema as S

    conn, t = _open(conninfo, collection)
    try:
        ids = [rid for rid, _ in S.revisions(t, 1)]
        before = _version(conn, t)
        at = ids.index(before) if before in ids else None
        if at is None:
            raise StoreError(f"Store {t!r} is at revision {before!r}, which this memlab does not know.")
        target = at - 1 if revision == "-1" else (ids.index(revision) if revision in ids else None)
        if target is None or target < 0 or target > at:
            raise StoreError(f"Cannot downgrade {t!r} from {before} to {revision!r}: give -1 or an earlier revision "
                             f"of `memlab db history`. " + BACKUP_HINT.format(t=t))
        steps, undo = ids[target + 1:at + 1][::-1], S.downgrades(t)
        if any(rid not in undo for rid in steps):
            raise unsupported(f"downgrade {revision}", collection)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (S.lock_key(t),))
            for rid in steps:
                for ddl in undo[rid]:
                    conn.execute(ddl)
            conn.execute(f"UPDATE {t}_meta SET value = %s WHERE key = 'schema_version'", (ids[target],))
    finally:
        conn.close()
    return before, ids[target]


def unsupported(action: str, collection: str = "memlab") -> StoreError:
    """The error for an action only the SQLite engine has (downgrade, rollback, snapshots)."""
    return StoreError(f"`memlab db {action}` works on store directories (the faiss engine). "
                      + BACKUP_HINT.format(t=collection))
