"""Scope indexes hold only the memories that have the scope: ``ix_memories_user``, ``ix_memories_agent`` and
``ix_memories_run`` become partial indexes (``WHERE <column> IS NOT NULL``).

Revision ID: 0006_scope_indexes
Revises: 0005_context

Most memories set one or two of ``user_id`` / ``agent_id`` / ``run_id``; a full index still gets an entry, and a
dirty page in every write, for each NULL. A partial index answers the same ``<column> = ?`` / ``IN`` / range
lookups (SQLite knows they imply ``IS NOT NULL``) and an add with two scope ids unset writes 2 pages fewer of
about 13. Nothing is stored in the indexes but what the table holds, so downgrade (full indexes again) and
upgrade lose nothing.
"""

from alembic import op

revision = "0006_scope_indexes"
down_revision = "0005_context"
branch_labels = None
depends_on = None

COLUMNS = (("user", "user_id"), ("agent", "agent_id"), ("run", "run_id"))
DDL = [ddl for name, col in COLUMNS for ddl in (
    f"DROP INDEX IF EXISTS ix_memories_{name}",
    f"CREATE INDEX IF NOT EXISTS ix_memories_{name} ON memories({col}) WHERE {col} IS NOT NULL")]
DOWN = [ddl for name, col in COLUMNS for ddl in (
    f"DROP INDEX IF EXISTS ix_memories_{name}",
    f"CREATE INDEX IF NOT EXISTS ix_memories_{name} ON memories({col})")]


def upgrade() -> None:
    for ddl in DDL:
        op.execute(ddl)


def downgrade() -> None:
    for ddl in DOWN:
        op.execute(ddl)
