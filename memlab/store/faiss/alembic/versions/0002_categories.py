"""Categories of memories (OpenMemory's categories / memory_categories).

Revision ID: 0002_categories
Revises: 0001_initial

Downgrade keeps the rows: they are parked as JSON in ``store_meta`` and put back by the next
upgrade, so upgrade -> downgrade -> upgrade loses nothing.
"""


from alembic import op
from sqlalchemy import text

from memlab.store.faiss.alembic.stash import park, unpark

revision = "0002_categories"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

STASH_KEY = "stash:0002_categories"
DDL = [
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
]
CATEGORY_COLUMNS = ("id", "name", "description", "created_at", "updated_at")


def upgrade() -> None:
    for ddl in DDL:
        op.execute(ddl)
    bind = op.get_bind()
    stash = unpark(bind, STASH_KEY)
    if stash is None:
        return
    for cat in stash["categories"]:
        bind.execute(text("INSERT INTO categories (id, name, description, created_at, updated_at) "
                          "VALUES (:id, :name, :description, :created_at, :updated_at)"), cat)
    for memory_id, category_id in stash["memory_categories"]:
        bind.execute(text("INSERT INTO memory_categories (memory_id, category_id) VALUES (:m, :c)"),
                     {"m": memory_id, "c": category_id})


def downgrade() -> None:
    bind = op.get_bind()
    cats = [dict(zip(CATEGORY_COLUMNS, r)) for r in bind.execute(
        text(f"SELECT {', '.join(CATEGORY_COLUMNS)} FROM categories ORDER BY rowid"))]
    links = [list(r) for r in bind.execute(text("SELECT memory_id, category_id FROM memory_categories ORDER BY rowid"))]
    if cats or links:
        park(bind, STASH_KEY, {"categories": cats, "memory_categories": links})
    op.execute("DROP INDEX IF EXISTS ix_memory_categories_category")
    op.execute("DROP TABLE IF EXISTS memory_categories")
    op.execute("DROP TABLE IF EXISTS categories")
