"""Conversational context of raw messages: ``memories.context`` and ``memories.context_vector``.

Revision ID: 0005_context
Revises: 0004_expiration

``context`` holds a memory's context window (the ``"<speaker>: <text>"`` lines around it in the
``add()`` call that stored it) and ``context_vector`` its embedding; both NULL for memories
without a context (every memory of a store written before this revision). Downgrade parks the
non-NULL values as JSON in ``store_meta`` (vectors base64-encoded) and drops the columns; the
next upgrade restores them, so a downgrade/upgrade round trip is lossless.
"""

import base64

from alembic import op
from sqlalchemy import text

from memlab.store.faiss.alembic.stash import park, unpark

revision = "0005_context"
down_revision = "0004_expiration"
branch_labels = None
depends_on = None

STASH_KEY = "stash:0005_context"
DDL = [
    "ALTER TABLE memories ADD COLUMN context TEXT",
    "ALTER TABLE memories ADD COLUMN context_vector BLOB",
]


def upgrade() -> None:
    for ddl in DDL:
        op.execute(ddl)
    bind = op.get_bind()
    parked = unpark(bind, STASH_KEY)
    if parked is None:
        return
    for memory_id, context, vector in parked:
        bind.execute(text("UPDATE memories SET context = :c, context_vector = :v WHERE id = :i"),
                     {"c": context, "v": base64.b64decode(vector) if vector else None, "i": memory_id})


def downgrade() -> None:
    bind = op.get_bind()
    rows = [[i, c, base64.b64encode(v).decode("ascii") if v is not None else None] for i, c, v in bind.execute(
        text("SELECT id, context, context_vector FROM memories WHERE context IS NOT NULL "
             "OR context_vector IS NOT NULL ORDER BY vid"))]
    if rows:
        park(bind, STASH_KEY, rows)
    op.execute("ALTER TABLE memories DROP COLUMN context_vector")
    op.execute("ALTER TABLE memories DROP COLUMN context")
