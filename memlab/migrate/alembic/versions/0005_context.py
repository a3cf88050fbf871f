"""Conversational context of raw messages: ``memories.context`` and ``memories.context_vector``.

Revision ID: 0005_context
Revises: 0003_configs

``context`` holds a memory's context window (the ``"<speaker>: <text>"`` lines around it in the
``add()`` call that stored it) and ``context_vector`` its embedding; both NULL for memories
without a context (every memory of a store written before this revision). Downgrade drops both
columns: the windows are lost (re-adding the conversations rebuilds them).
"""

from alembic import op

revision = "0005_context"
down_revision = "0003_configs"
branch_labels = None
depends_on = None

DDL = [
    "ALTER TABLE memories ADD COLUMN context TEXT",
    "ALTER TABLE memories ADD COLUMN context_vector BLOB",
]


def upgrade() -> None:
    for ddl in DDL:
        op.execute(ddl)


def downgrade() -> None:
    op.execute("ALTER TABLE memories DROP COLUMN context_vector")
    op.execute("ALTER TABLE memories DROP COLUMN context")
