"""Store schema revisions (Alembic skips this file)."""
