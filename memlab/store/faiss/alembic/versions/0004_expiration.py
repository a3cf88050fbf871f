"""Expiration dates of memories (mem0 >= 2.0.10's ``expiration_date``).

Revision ID: 0004_expiration
Revises: 0003_configs

Adds ``memories.expiration_date`` (TEXT, ``YYYY-MM-DD`` or NULL). Downgrade parks the set dates
as JSON in ``store_meta`` before dropping the column; the next upgrade puts them back, so
upgrade -> downgrade -> upgrade loses nothing.
"""


from alembic import op
from sqlalchemy import text

from memlab.store.faiss.alembic.stash import park, unpark

revision = "0004_expiration"
down_revision = "0003_configs"
branch_labels = None
depends_on = None

STASH_KEY = "stash:0004_expiration"
DDL = ["ALTER TABLE memories ADD COLUMN expiration_date TEXT"]


def upgrade() -> None:
    for ddl in DDL:
        op.execute(ddl)
    bind = op.get_bind()
    parked = unpark(bind, STASH_KEY)
    if parked is None:
        return
    for memory_id, date in parked.items():
        bind.execute(text("UPDATE memories SET expiration_date = :d WHERE id = :i"), {"d": date, "i": memory_id})


def downgrade() -> None:
    bind = op.get_bind()
    dates = {i: d for i, d in bind.execute(
        text("SELECT id, expiration_date FROM memories WHERE expiration_date IS NOT NULL ORDER BY vid"))}
    if dates:
        park(bind, STASH_KEY, dates)
    # plain DROP COLUMN (SQLite >= 3.35): a batch table rebuild would renumber nothing but is slower
    op.execute("ALTER TABLE memories DROP COLUMN expiration_date")
