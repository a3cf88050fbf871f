"""Durable store: SQLite (truth) + in-memory table + FAISS index."""

from memlab.store.store import DB_NAME, Store, Transaction, now_iso

__all__ = ["Store", "Transaction", "DB_NAME", "now_iso"]
