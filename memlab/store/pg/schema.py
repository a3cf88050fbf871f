"""PostgreSQL schema of a memlab store: one set of tables per ``collection_name``, versioned.

``collection_name`` names the memories table, as in mem0's pgvector store; its companions carry
it as a prefix: ``<name>_history``, ``<name>_categories``, ``<name>_memory_categories``,
``<name>_configs``, ``<name>_meta`` (key/value: ``schema_version``, ``embedder``, ``dims``) and
``<name>_scope_stats`` (per-scope BM25 statistics and versions, kept by triggers: :mod:`memlab.store.pg.stats`).
The ``tokens`` column holds the memory's keyword document (speaker + text) as memlab's keyword
analyzer analyses it (computed on write), so BM25 runs over the same terms as the FAISS engine's
index (a GIN index finds the rows holding a query term); ``context_tokens`` and
``context_embedding`` do the same for the context window (NULL when the memory has none), for
fusion search (:mod:`memlab.store.pg.candidates`).

Versioning (the PostgreSQL side of the Alembic chain of the SQLite engine, kept deliberately
simple): :data:`REVISIONS` is an ordered list of ``(revision id, [DDL...])``; ``<name>_meta``
records the newest applied id under ``schema_version``. :func:`ensure_schema` runs, in ONE
transaction under an advisory lock (so concurrent openers serialise and a failure leaves nothing
half-created, PostgreSQL DDL being transactional), every revision after the recorded one. A new
schema change appends a revision here; it never edits an old one. A revision listed in
:func:`downgrades` can also be undone (``memlab db downgrade``).
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Optional

from memlab.errors import ConfigError
from memlab.store.pg import stats

EXTENSION = "vector"  # pgvector's extension name
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64  # pgvector's (and mem0's) defaults


def check_collection(name: str) -> str:
    """``collection_name`` as a safe SQL identifier (it names tables)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(f"vector_store.config.collection_name {name!r} must be 1-40 characters of a-z, 0-9 and _ "
                          "(starting with a letter or _): it names the PostgreSQL table.")
    return name


def revisions(t: str, dims: int) -> list[tuple[str, list[str]]]:
    """The revision chain of collection ``t`` (identifiers are checked by :func:`check_collection`)."""
    return [
        ("0001_initial", [
            f"""CREATE TABLE {t} (
                vid BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                memory TEXT NOT NULL,
                hash TEXT NOT NULL,
                metadata JSONB NOT NULL DEFAULT '{{}}'::jsonb,
                user_id TEXT, agent_id TEXT, run_id TEXT, actor_id TEXT, role TEXT, memory_type TEXT,
                state TEXT NOT NULL DEFAULT 'active',
                created_at TEXT NOT NULL, updated_at TEXT, archived_at TEXT, deleted_at TEXT,
                expiration_date TEXT,
                embedding vector({int(dims)}) NOT NULL,
                tokens TEXT[] NOT NULL DEFAULT '{{}}'
            )""",
            f"CREATE INDEX {t}_user ON {t} (user_id)",
            f"CREATE INDEX {t}_agent ON {t} (agent_id)",
            f"CREATE INDEX {t}_run ON {t} (run_id)",
            f"CREATE INDEX {t}_expiry ON {t} (expiration_date) WHERE expiration_date IS NOT NULL",
            f"CREATE INDEX {t}_tokens ON {t} USING gin (tokens)",
            f"""CREATE TABLE {t}_history (
                hseq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                memory_id TEXT NOT NULL,
                old_memory TEXT, new_memory TEXT, event TEXT NOT NULL,
                created_at TEXT, updated_at TEXT, is_deleted INTEGER NOT NULL DEFAULT 0,
                actor_id TEXT, role TEXT
            )""",
            f"CREATE INDEX {t}_history_memory ON {t}_history (memory_id, hseq)",
            f"""CREATE TABLE {t}_categories (
                id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT,
                created_at TEXT, updated_at TEXT
            )""",
            f"""CREATE TABLE {t}_memory_categories (
                memory_id TEXT NOT NULL, category_id TEXT NOT NULL, PRIMARY KEY (memory_id, category_id)
            )""",
            f"CREATE INDEX {t}_memory_categories_category ON {t}_memory_categories (category_id)",
            f"""CREATE TABLE {t}_configs (
                key TEXT PRIMARY KEY, value JSONB NOT NULL, created_at TEXT, updated_at TEXT
            )""",
        ]),
        # the conversational context window of a message (issue 14): kept, exported and shown by to_pandas()
        ("0002_context", [f"ALTER TABLE {t} ADD COLUMN context TEXT"]),
        # what fusion search (memlab.store.pg.candidates) scores besides tokens/embedding: the context
        # window's embedding and its analysed terms (NULL: the memory has no context window and its
        # context channels use its own vector / tokens). Rows written before get their context_tokens
        # on upgrade (backfill_context_tokens); their context embedding stays NULL (no embedder here).
        # toast_tuple_target: keep a row's vectors in the row (up to a page) instead of moving them to
        # the TOAST table, where every vector read costs a TOAST index lookup: fusion reads two per
        # allowed row. 100k rows / 1,000 users, 384-d, same data both ways, queries interleaved:
        # scoped m.search p50 fusion 3.5 -> 3.0 ms, dense 1.04 -> 0.76 ms (fusion's statement alone
        # 2.3 -> 1.1 ms with a cold cache). The heap grows (full scans read the vectors too). Rows
        # written before keep their layout until rewritten.
        ("0003_fusion_context", [f"ALTER TABLE {t} ADD COLUMN context_embedding vector({int(dims)})",
                                 f"ALTER TABLE {t} ADD COLUMN context_tokens TEXT[]",
                                 f"ALTER TABLE {t} SET (toast_tuple_target = 8160)"]),
        # per-scope BM25 statistics and a version per scope every process sees, kept by triggers in the
        # writing transaction (memlab.store.pg.stats); backfilled from the rows already stored
        ("0004_scope_stats", stats.upgrade_ddl(t)),
    ]


# revisions that can be undone (memlab.store.pg.revisions.downgrade): id -> DDL back to the one before
def downgrades(t: str) -> dict[str, list[str]]:
    return {"0004_scope_stats": stats.downgrade_ddl(t)}


def head_revision() -> str:
    return revisions("t", 1)[-1][0]


def lock_key(t: str) -> int:
    """Advisory-lock key of a collection (schema changes of one collection serialise on it)."""
    return zlib.crc32(f"memlab:{t}".encode()) & 0x7FFFFFFF


def _table_exists(conn: Any, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def existing_dims(conn: Any, t: str) -> Optional[int]:
    """Vector size of an existing memories table ``t`` (None when there is no such table)."""
    row = conn.execute(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attname = 'embedding' AND NOT a.attisdropped", (t,)).fetchone()
    if row is None:
        return None
    m = re.match(r"vector\((\d+)\)", row[0] or "")
    return int(m.group(1)) if m else -1


def ensure_extension(conn: Any) -> None:
    """``CREATE EXTENSION vector`` unless present; typed errors saying how to get it."""
    import psycopg

    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = %s", (EXTENSION,)).fetchone():
        return
    try:
        conn.execute(f"CREATE EXTENSION IF NOT EXISTS {EXTENSION}")
    except psycopg.errors.InsufficientPrivilege:
        raise ConfigError(f"The pgvector extension is not enabled in this database and this user may not enable it: "
                          f"ask an administrator to run `CREATE EXTENSION {EXTENSION};` in it, or use a server "
                          "started by `memlab pg start DIR`.") from None
    except (psycopg.errors.UndefinedFile, psycopg.errors.FeatureNotSupported, psycopg.errors.UndefinedObject) as exc:
        raise ConfigError(f"The PostgreSQL server has no pgvector extension ({str(exc).splitlines()[0]}). Install pgvector "
                          "(https://github.com/pgvector/pgvector, e.g. the postgresql-NN-pgvector package) or run "
                          "`memlab pg start DIR` (pip install 'memlab[pg]'), which ships PostgreSQL with pgvector.") from None


def ensure_schema(conn: Any, t: str, dims: int, embedder: str, index: Optional[str],
                  analyzer: Any = None, hnsw_build: tuple[int, int] = (HNSW_M, HNSW_EF_CONSTRUCTION)) -> dict:
    """Create or upgrade collection ``t`` in one transaction; returns its meta (key -> value).

    ``analyzer`` (memlab's keyword analyzer) computes what an upgrade backfills (``context_tokens``).

    Raises ``ConfigError`` when ``t`` exists with another vector size or embedder, or is not a memlab table,
    or when the user may not create (or upgrade) the tables.
    """
    import psycopg

    try:
        meta = _ensure_schema(conn, t, dims, embedder, index, analyzer, hnsw_build)
    except psycopg.errors.InsufficientPrivilege as exc:
        user = conn.info.user
        raise ConfigError(
            f"PostgreSQL user {user!r} may not create or upgrade memlab's tables {t!r} ({str(exc).splitlines()[0]}); "
            f"nothing was created. Open the store once as a user who may (e.g. the database owner), then GRANT "
            f"SELECT, INSERT, UPDATE, DELETE on its tables and USAGE on their sequences to {user!r} (docs/engines.md); "
            f"or GRANT CREATE ON SCHEMA public TO {user!r}.") from None
    if meta["embedder"] != embedder:
        raise ConfigError(
            f"PostgreSQL table {t!r} was built with embedder {meta['embedder']!r}, but the config asks for "
            f"{embedder!r}. Vectors of different models are not comparable: configure the original embedder, use "
            "another collection_name, or migrate the memories (memlab.migrate.DataMigrator re-embeds).")
    return meta


def _ensure_schema(conn: Any, t: str, dims: int, embedder: str, index: Optional[str], analyzer: Any,
                   hnsw_build: tuple[int, int]) -> dict:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(t),))
        ensure_extension(conn)
        have = existing_dims(conn, t)
        if have is not None and have != dims:
            raise ConfigError(
                f"PostgreSQL table {t!r} already holds {have}-d vectors, but the embedder makes {dims}-d ones. "
                "Use another vector_store.config.collection_name for this embedder, or configure the embedder the "
                "table was built with (moving memories between embedders: memlab.migrate.DataMigrator re-embeds).")
        if _table_exists(conn, t) and not _table_exists(conn, f"{t}_meta"):
            raise ConfigError(f"PostgreSQL table {t!r} exists but is not a memlab store (no {t}_meta table); "
                              "choose another vector_store.config.collection_name.")
        if not _table_exists(conn, f"{t}_meta"):  # only then: a user with DML rights alone may open a store
            conn.execute(f"CREATE TABLE {t}_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        meta = dict(conn.execute(f"SELECT key, value FROM {t}_meta").fetchall())
        done = meta.get("schema_version")
        chain = revisions(t, dims)
        ids = [rid for rid, _ in chain]
        if done is not None and done not in ids:
            raise ConfigError(f"PostgreSQL table {t!r} has schema version {done!r}, newer than this memlab knows "
                              f"({ids[-1]}); upgrade memlab.")
        for rid, ddls in chain[(ids.index(done) + 1 if done else 0):]:
            for ddl in ddls:
                conn.execute(ddl)
            if rid == "0003_fusion_context" and done is not None and analyzer is not None:
                backfill_context_tokens(conn, t, analyzer)
            conn.execute(f"INSERT INTO {t}_meta VALUES ('schema_version', %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (rid,))
        if "embedder" not in meta:
            for key, value in (("embedder", embedder), ("dims", str(dims))):
                conn.execute(f"INSERT INTO {t}_meta VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, value))
        if index is not None and not _table_exists(conn, f"{t}_{index}"):  # CREATE INDEX needs the table's owner
            ensure_index(conn, t, index, hnsw_build)
        return dict(conn.execute(f"SELECT key, value FROM {t}_meta").fetchall())


def ensure_index(conn: Any, t: str, index: Optional[str],
                 hnsw_build: tuple[int, int] = (HNSW_M, HNSW_EF_CONSTRUCTION)) -> None:
    """The approximate index mem0's ``hnsw`` / ``diskann`` flags ask for (created once, inside the schema
    transaction). ``hnsw_build`` = (m, ef_construction): larger builds slower and finds more true neighbours
    (docs/engines.md); they apply when the index is created, an existing index keeps its own."""
    if index == "hnsw":
        m, efc = (int(x) for x in hnsw_build)
        if efc < 2 * m:  # pgvector's own rule, checked before anything is created
            raise ConfigError(f"vector_store.config.hnsw_ef_construction ({efc}) must be at least twice hnsw_m ({m}).")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_hnsw ON {t} USING hnsw (embedding vector_ip_ops) "
                     f"WITH (m = {m}, ef_construction = {efc})")
    elif index == "diskann":
        import psycopg

        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vectorscale CASCADE")
        except psycopg.Error:
            raise ConfigError("diskann=True needs the pgvectorscale extension (`vectorscale`), which this server lacks; "
                              "install it (https://github.com/timescale/pgvectorscale) or use hnsw=True.") from None
        conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_diskann ON {t} USING diskann (embedding vector_ip_ops)")


def backfill_context_tokens(conn: Any, t: str, analyzer: Any, batch: int = 1000) -> int:
    """``context_tokens`` of the rows that have a context window (inside the upgrade's transaction)."""
    from memlab.ranking.context import context_document

    rows = conn.execute(f"SELECT vid, memory, actor_id, context FROM {t} WHERE context <> '' ORDER BY vid").fetchall()
    with conn.cursor() as cur:
        for start in range(0, len(rows), batch):
            cur.executemany(f"UPDATE {t} SET context_tokens = %s WHERE vid = %s",
                            [(analyzer.analyze(context_document(memory, actor, context)), vid)
                             for vid, memory, actor, context in rows[start:start + batch]])
    return len(rows)
