"""SQLite schema of a memlab store.

The schema is versioned with Alembic revisions (``memlab/store/faiss/alembic``); this module
holds the DDL of the *initial* revision so that a brand-new store can be created without
starting Alembic, and the ``alembic_version`` table is stamped exactly as Alembic would.
Opening an existing store calls :func:`memlab.store.faiss.revisions.upgrade_to_head`, which upgrades older stores (after a
snapshot) through Alembic.
"""

from __future__ import annotations

import sqlite3

DB_NAME = "memlab.db"  # the SQLite file inside a store directory
INITIAL_REVISION = "0001_initial"

INITIAL_DDL = [
    """
    CREATE TABLE IF NOT EXISTS memories (
        vid INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        memory TEXT NOT NULL,
        hash TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        user_id TEXT,
        agent_id TEXT,
        run_id TEXT,
        actor_id TEXT,
        role TEXT,
        memory_type TEXT,
        state TEXT NOT NULL DEFAULT 'active',
        created_at TEXT NOT NULL,
        updated_at TEXT,
        archived_at TEXT,
        deleted_at TEXT,
        vector BLOB NOT NULL,
        seq INTEGER NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS ix_memories_seq ON memories(seq)",
    "CREATE INDEX IF NOT EXISTS ix_memories_user ON memories(user_id)",
    "CREATE INDEX IF NOT EXISTS ix_memories_agent ON memories(agent_id)",
    "CREATE INDEX IF NOT EXISTS ix_memories_run ON memories(run_id)",
    """
    CREATE TABLE IF NOT EXISTS history (
        id TEXT PRIMARY KEY,
        memory_id TEXT NOT NULL,
        old_memory TEXT,
        new_memory TEXT,
        event TEXT NOT NULL,
        created_at TEXT,
        updated_at TEXT,
        is_deleted INTEGER NOT NULL DEFAULT 0,
        actor_id TEXT,
        role TEXT,
        hseq INTEGER NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS ix_history_memory ON history(memory_id, hseq)",
    """
    CREATE TABLE IF NOT EXISTS store_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
]


def current_revision(conn: sqlite3.Connection) -> str | None:
    """The Alembic revision a database is stamped with, or None for an empty database."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
    ).fetchone()
    if row is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


# DDL of the later revisions (frozen copies live in memlab/store/faiss/alembic/versions; the
# tests check that creating HEAD directly equals running the Alembic chain from scratch).
LATER_DDL = {
    "0002_categories": [
        """
    CREATE TABLE IF NOT EXISTS categories (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        created_at TEXT,
        updated_at TEXT
    )
    """,
        """
    CREATE TABLE IF NOT EXISTS memory_categories (
        memory_id TEXT NOT NULL,
        category_id TEXT NOT NULL,
        PRIMARY KEY (memory_id, category_id)
    )
    """,
        "CREATE INDEX IF NOT EXISTS ix_memory_categories_category ON memory_categories(category_id)",
    ],
    "0003_configs": [
        """
    CREATE TABLE IF NOT EXISTS configs (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created_at TEXT,
        updated_at TEXT
    )
    """,
    ],
    "0004_expiration": ["ALTER TABLE memories ADD COLUMN expiration_date TEXT"],
    "0005_context": [
        "ALTER TABLE memories ADD COLUMN context TEXT",
        "ALTER TABLE memories ADD COLUMN context_vector BLOB",
    ],
    # scope indexes without the NULLs: fewer pages written per add (an add sets one or two scope ids)
    "0006_scope_indexes": [ddl for name, col in (("user", "user_id"), ("agent", "agent_id"), ("run", "run_id"))
                           for ddl in (f"DROP INDEX IF EXISTS ix_memories_{name}",
                                       f"CREATE INDEX IF NOT EXISTS ix_memories_{name} ON memories({col}) "
                                       f"WHERE {col} IS NOT NULL")],
}
REVISIONS = (INITIAL_REVISION, *LATER_DDL)
HEAD_REVISION = REVISIONS[-1]


def create_initial(conn: sqlite3.Connection) -> None:
    """Create a brand-new store directly at HEAD (no Alembic start-up cost) and stamp it."""
    for ddl in INITIAL_DDL:
        conn.execute(ddl)
    for ddls in LATER_DDL.values():
        for ddl in ddls:
            conn.execute(ddl)
    conn.execute("INSERT OR IGNORE INTO store_meta(key, value) VALUES ('seq', '0')")
    conn.execute("DELETE FROM alembic_version")
    conn.execute("INSERT INTO alembic_version(version_num) VALUES (?)", (HEAD_REVISION,))
