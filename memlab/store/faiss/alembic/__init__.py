"""Alembic environment and revisions of the memlab store schema (package data)."""
