"""Initial memlab store: memories (with vector blobs), history, store_meta.

Revision ID: 0001_initial
Revises:
"""

from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of the DDL of this revision (memlab.store.faiss.schema creates the same for new stores;
# tests/data/test_schema_versions.py checks that both paths give identical schemas).
DDL = [
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
]


def upgrade() -> None:
    for ddl in DDL:
        op.execute(ddl)
    op.execute("INSERT OR IGNORE INTO store_meta(key, value) VALUES ('seq', '0')")


def downgrade() -> None:
    # Back to an empty database: every memory is dropped (the caller snapshots first).
    for table in ("memories", "history", "store_meta"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
