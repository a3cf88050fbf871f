"""Durable store: SQLite (truth) + in-memory table + FAISS index."""

from memlab.store.base import MemoryStore, StoreTransaction
from memlab.store.factory import open_store
from memlab.store.schema import DB_NAME
from memlab.store.sqlite import now_iso
from memlab.store.store import Store
from memlab.store.transaction import Transaction

__all__ = ["Store", "Transaction", "MemoryStore", "StoreTransaction", "DB_NAME", "now_iso", "open_store"]
