"""Durable store: SQLite (truth) + in-memory table + FAISS index."""

from memlab.store.base import MemoryStore, StoreTransaction
from memlab.store.factory import open_store
from memlab.store.faiss.schema import DB_NAME
from memlab.store.faiss.sqlite import now_iso
from memlab.store.faiss.engine import Store
from memlab.store.faiss.transaction import Transaction

__all__ = ["Store", "Transaction", "MemoryStore", "StoreTransaction", "DB_NAME", "now_iso", "open_store"]
