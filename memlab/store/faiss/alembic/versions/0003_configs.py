"""Named JSON configs kept with a store (e.g. OpenMemory's ``configs`` table on import).

Revision ID: 0003_configs
Revises: 0002_categories

Downgrade parks the rows as JSON in ``store_meta``; the next upgrade restores them.
"""


from alembic import op
from sqlalchemy import text

from memlab.store.faiss.alembic.stash import park, unpark

revision = "0003_configs"
down_revision = "0002_categories"
branch_labels = None
depends_on = None

STASH_KEY = "stash:0003_configs"
DDL = [
    """
    CREATE TABLE IF NOT EXISTS configs (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created_at TEXT,
        updated_at TEXT
    )
    """,
]
COLUMNS = ("key", "value", "created_at", "updated_at")


def upgrade() -> None:
    for ddl in DDL:
        op.execute(ddl)
    bind = op.get_bind()
    parked = unpark(bind, STASH_KEY)
    if parked is None:
        return
    for cfg in parked:
        bind.execute(text("INSERT INTO configs (key, value, created_at, updated_at) "
                          "VALUES (:key, :value, :created_at, :updated_at)"), cfg)


def downgrade() -> None:
    bind = op.get_bind()
    rows = [dict(zip(COLUMNS, r)) for r in bind.execute(text(f"SELECT {', '.join(COLUMNS)} FROM configs ORDER BY rowid"))]
    if rows:
        park(bind, STASH_KEY, rows)
    op.execute("DROP TABLE IF EXISTS configs")
