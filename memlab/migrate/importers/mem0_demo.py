"""Write a small mem0 0.1.x-style FAISS store, drift included, for tutorials and tests.

It reproduces the on-disk format of mem0 <= 1.0.8 (``<collection>.faiss`` + pickled
``(docstore, index_to_id)`` + ``history.db``) and its delete behaviour: a delete drops the id
from the docstore and the mapping but leaves the vector in the index, and inserts number new
rows from ``len(index_to_id)``. An update (delete + insert) therefore re-points an existing
position at the new id, and the memory that position belonged to becomes unreachable.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from memlab.enums import SCOPE_FIELDS

HISTORY_DDL = """CREATE TABLE history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, new_memory TEXT,
    event TEXT, created_at DATETIME, updated_at DATETIME, is_deleted INTEGER, actor_id TEXT, role TEXT)"""


class _Mem0v01Faiss:
    """mem0 0.1.x's FAISS vector store logic (the part that drifts), plus its history table."""

    def __init__(self, embed, dims: int, seed: int):
        import faiss

        self.index = faiss.IndexFlatL2(dims)
        self.docstore: dict[str, dict] = {}
        self.index_to_id: dict[int, str] = {}
        self.history: list[tuple] = []
        self.embed = embed
        self.rng = np.random.default_rng(seed)
        self.clock = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)

    def _id(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

    def _now(self) -> str:
        self.clock += timedelta(minutes=7)
        return self.clock.isoformat()

    def _insert(self, memory_id: str, payload: dict) -> None:
        start = len(self.index_to_id)  # mem0 <= 1.0.8: may collide with a live position
        self.index.add(self.embed([payload["data"]]))
        self.docstore[memory_id] = payload
        self.index_to_id[start] = memory_id

    def _drop(self, memory_id: str) -> None:
        pos = next((p for p, i in self.index_to_id.items() if i == memory_id), None)
        if pos is not None:  # an already-unreachable id has no position left to drop
            del self.index_to_id[pos]  # the vector stays in the index
        del self.docstore[memory_id]

    def add(self, text: str, scope: dict, metadata: dict) -> str:
        memory_id, now = self._id(), self._now()
        self._insert(memory_id, {"data": text, "hash": hashlib.md5(text.encode()).hexdigest(), "created_at": now,
                                 "role": "user", **scope, **metadata})
        self.history.append((self._id(), memory_id, None, text, "ADD", now, None, 0, None, "user"))
        return memory_id

    def update(self, memory_id: str, text: str) -> None:
        old = self.docstore[memory_id]
        now = self._now()
        scope = {k: old[k] for k in SCOPE_FIELDS if k in old}
        self._drop(memory_id)  # 0.1.x update = delete + insert; custom metadata is dropped
        self._insert(memory_id, {"data": text, "hash": hashlib.md5(text.encode()).hexdigest(),
                                 "created_at": old["created_at"], "updated_at": now, "role": "user", **scope})
        self.history.append((self._id(), memory_id, old["data"], text, "UPDATE", old["created_at"], now, 0, None, "user"))

    def delete(self, memory_id: str) -> None:
        old = self.docstore[memory_id]
        now = self._now()
        self._drop(memory_id)
        self.history.append((self._id(), memory_id, old["data"], None, "DELETE", old["created_at"], now, 1, None, "user"))

    def save(self, folder: Path, collection: str) -> None:
        import faiss

        (folder / "faiss").mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(folder / "faiss" / f"{collection}.faiss"))
        with open(folder / "faiss" / f"{collection}.pkl", "wb") as fh:
            pickle.dump((self.docstore, self.index_to_id), fh)
        conn = sqlite3.connect(str(folder / "history.db"))
        with conn:
            conn.execute(HISTORY_DDL)
            conn.executemany("INSERT INTO history VALUES (?,?,?,?,?,?,?,?,?,?)", self.history)
        conn.close()


def make_demo_mem0_store(path: Any, embedder: Any, facts: Sequence[tuple[str, str, dict]], *,
                         updates: Sequence[tuple[int, str]] = (), deletes: Sequence[int] = (),
                         seed: int = 0, collection: str = "mem0") -> dict:
    """Write a mem0 0.1.x-style store at ``path`` and return what a correct import must give.

    Args:
        embedder: anything with ``embed(texts)`` (e.g. ``memlab.embedders.create_embedder("hash")``).
        facts: ``(user_id, text, metadata)`` added in order.
        updates: ``(fact index, new text)`` applied after the adds, interleaved with ``deletes``.
        deletes: fact indexes deleted.

    Returns:
        ``{"ids": [...], "texts": {id: final text}, "deleted": [...]}``
    """
    def embed(texts):
        v = np.asarray(embedder.embed(list(texts)), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    store = _Mem0v01Faiss(embed, int(embedder.dims), seed)
    ids = [store.add(text, {"user_id": user}, dict(meta)) for user, text, meta in facts]
    ops = [("u", i, t) for i, t in updates] + [("d", i, None) for i in deletes]
    ops.sort(key=lambda op: op[1])
    for kind, i, text in ops:
        if kind == "u":
            store.update(ids[i], text)
        else:
            store.delete(ids[i])
    store.save(Path(path), collection)
    return {"ids": ids, "texts": {i: p["data"] for i, p in store.docstore.items()},
            "deleted": [ids[i] for i in deletes]}
