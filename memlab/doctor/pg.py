"""``memlab doctor`` on a PostgreSQL store, examined without opening it.

``Memory.check()`` on a pgvector Memory asks its open store (:meth:`PgStore.health`); ``memlab doctor``
reaches a store that nothing has opened: by a connection string and a collection name, or by a config
file whose ``vector_store`` is pgvector. Opening a store creates or upgrades tables, so the doctor
does not: it connects once, finds the collection and runs the read-only checks of
:func:`memlab.store.pg.health.check_collection` (server and pgvector, schema revision, vector sizes,
rows, row/history consistency, indexes). Nothing is repaired on PostgreSQL: a ``--repair`` run
reports the repairs as skipped and says how to fix what it found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from memlab.doctor.report import DoctorReport, Finding
from memlab.errors import ConfigError, StoreError

URL_PREFIXES = ("postgresql://", "postgres://")


def is_pg_target(target: str) -> bool:
    """Does ``memlab doctor TARGET`` name a PostgreSQL server (a URL or a libpq ``key=value`` string)?"""
    return target.startswith(URL_PREFIXES) or ("=" in target and not Path(target).exists())


def pg_target_of_config(path: str) -> Optional[tuple[str, str, Optional[str]]]:
    """(conninfo, collection, embedder name or None) of a config file whose vector store is pgvector, else None."""
    from memlab.config import MemoryConfig

    cfg = MemoryConfig.load(path)
    if cfg.vector_store.provider != "pgvector":
        return None
    settings = cfg.vector_store.settings()
    if settings.path and not settings.connection_string:
        from memlab.store.pg import server

        conninfo = server.url(settings.path)  # the doctor does not start a stopped server: a typed error says so
    else:
        from memlab.store.pg.connection import conninfo_of

        conninfo = conninfo_of(settings)
    return conninfo, settings.collection_name, None


def check_pg(conninfo: str, collection: str = "memlab", *, repair: bool = False,
             embedder_name: Optional[str] = None) -> DoctorReport:
    """Check collection ``collection`` of the PostgreSQL database ``conninfo``.

    Raises:
        ConfigError: the server cannot be reached (what to check is in the message).
        StoreError: the database holds no memlab collection of that name (the ones it holds are listed).
    """
    from memlab.store.pg import connection as C
    from memlab.store.pg import schema as S
    from memlab.store.pg.health import check_collection

    t = S.check_collection(collection)
    conn = C.connect(C.conninfo_of(_Settings(conninfo)), timeout=10)
    try:
        if not conn.execute("SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                            (t, f"{t}_meta")).fetchone()[0]:
            here = collections(conn)
            raise StoreError(f"No memlab store {t!r} in this database ({C.describe(conninfo)}); "
                             + (f"its memlab stores: {', '.join(here)} (pass one with --collection)." if here else
                                "it holds none (a store is created by opening a Memory on it)."))
        report = DoctorReport(f"{C.describe(conninfo)} table={t}", repair)
        findings, report.stats = check_collection(conn, t, None, embedder_name)
    finally:
        conn.close()
    report.findings = [Finding(*f) for f in findings]
    if repair:
        report.findings.append(Finding("repair", "skipped", "memlab doctor repairs nothing on PostgreSQL: fix rows "
                                       "with the verbs (update/delete) or SQL in a transaction, indexes with REINDEX"))
    return report


def collections(conn: Any) -> list[str]:
    """The memlab collections of a database: tables ``X`` with a companion ``X_meta`` holding a schema_version."""
    rows = conn.execute("SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE '%%\\_meta' "
                        "AND pg_table_is_visible(c.oid) ORDER BY 1").fetchall()
    names = [r[0][: -len("_meta")] for r in rows]
    return [n for n in names if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (n,)).fetchone()[0]]


class _Settings:
    """Just enough of PgvectorStoreSettings for ``conninfo_of``: validates a connection string."""

    def __init__(self, conninfo: str):
        self.connection_string = conninfo
        self.path = None
        if not isinstance(conninfo, str) or not conninfo.strip():
            raise ConfigError("Give the PostgreSQL connection string, e.g. postgresql://USER:PASSWORD@HOST:PORT/DB.")
