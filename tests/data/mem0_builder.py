"""Build small mem0 FAISS stores on disk for tests, with known damage and the ground truth.

Written from mem0's on-disk formats (see ../shared/fixtures/mem0/README.md, which describes the
real stores this mirrors), independent of ../shared and of memlab's own demo writer:

- layout ``"pkl"`` (mem0 <= 1.0.x): ``faiss/<collection>.faiss`` and ``faiss/<collection>.pkl``
  holding the tuple ``(docstore: {id: payload}, index_to_id: {int position: id})``;
- layout ``"json"`` (mem0 >= 2.0): ``faiss/<collection>.json`` holding
  ``{"docstore": {...}, "index_to_id": {"0": id, ...}}``;
- ``history.db`` with mem0's ``history`` table.

``drift=True`` replays mem0 <= 1.0.8's delete bug (the vector stays in the index, inserts number
rows from ``len(index_to_id)``), so updates and deletes leave mis-mapped and unreachable memories.
The builder then *measures* the damage itself (which id's mapped row holds which text's vector),
so the truth does not depend on the importer under test.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HISTORY_DDL = """CREATE TABLE history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, new_memory TEXT,
    event TEXT, created_at DATETIME, updated_at DATETIME, is_deleted INTEGER, actor_id TEXT, role TEXT)"""


@dataclass
class Truth:
    """What a correct import of the built store must give."""

    texts: dict = field(default_factory=dict)          # live id -> final text
    scopes: dict = field(default_factory=dict)         # live id -> {"user_id": ...}
    metadata: dict = field(default_factory=dict)       # live id -> custom metadata left in the payload
    deleted: list = field(default_factory=list)        # ids deleted in mem0 (history only)
    mis_mapped: set = field(default_factory=set)       # mapped to a row holding another text's vector
    unreachable: set = field(default_factory=set)      # no index row maps to it
    orphan_rows: list = field(default_factory=list)    # index rows no id maps to
    history_events: dict = field(default_factory=dict)  # id -> [event, ...]


class Mem0StoreBuilder:
    """A minimal mem0 FAISS vector store + history table, as mem0 writes them."""

    def __init__(self, embedder, *, drift: bool, seed: int = 0):
        self.embedder = embedder
        self.drift = drift
        self.rng = np.random.default_rng(seed)
        self.vectors: list[np.ndarray] = []      # the FAISS rows, in order
        self.row_text: list[str] = []            # which text each row's vector embeds
        self.docstore: dict[str, dict] = {}
        self.index_to_id: dict[int, str] = {}
        self.history: list[tuple] = []
        self.tick = 0

    # ------------------------------------------------------------------ mem0 operations
    def _uuid(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

    def _now(self) -> str:
        self.tick += 1
        return f"2024-06-01T10:{self.tick // 60:02d}:{self.tick % 60:02d}+00:00"

    def _embed(self, text: str) -> np.ndarray:
        v = np.asarray(self.embedder.embed([text]), dtype=np.float32)[0]
        return v / np.linalg.norm(v)

    def _insert(self, memory_id: str, payload: dict) -> None:
        pos = len(self.index_to_id) if self.drift else len(self.vectors)
        self.vectors.append(self._embed(payload["data"]))
        self.row_text.append(payload["data"])
        self.docstore[memory_id] = payload
        self.index_to_id[pos] = memory_id

    def _drop(self, memory_id: str) -> None:
        pos = next((p for p, i in self.index_to_id.items() if i == memory_id), None)
        if pos is not None:
            del self.index_to_id[pos]
            if not self.drift:  # mem0 >= 1.0.9 removes the row and renumbers the mapping
                del self.vectors[pos], self.row_text[pos]
                self.index_to_id = {(p - 1 if p > pos else p): i for p, i in sorted(self.index_to_id.items())}
        del self.docstore[memory_id]

    def add(self, text: str, user_id: str, **metadata) -> str:
        memory_id, now = self._uuid(), self._now()
        self._insert(memory_id, {"data": text, "hash": hashlib.md5(text.encode()).hexdigest(),
                                 "created_at": now, "updated_at": now, "user_id": user_id, "role": "user",
                                 **metadata})
        self.history.append((self._uuid(), memory_id, None, text, "ADD", now, None, 0, None, "user"))
        return memory_id

    def update(self, memory_id: str, text: str) -> None:
        old = self.docstore[memory_id]
        now = self._now()
        self._drop(memory_id)  # mem0's update: delete + insert (custom metadata kept here)
        self._insert(memory_id, {**old, "data": text, "hash": hashlib.md5(text.encode()).hexdigest(),
                                 "updated_at": now})
        self.history.append((self._uuid(), memory_id, old["data"], text, "UPDATE", old["created_at"], now, 0,
                             None, "user"))

    def delete(self, memory_id: str) -> None:
        old = self.docstore[memory_id]
        now = self._now()
        self._drop(memory_id)
        self.history.append((self._uuid(), memory_id, old["data"], None, "DELETE", old["created_at"], now, 1,
                             None, "user"))

    def position_of(self, memory_id: str) -> int:
        """The index row ``index_to_id`` maps ``memory_id`` to."""
        return next(p for p, i in self.index_to_id.items() if i == memory_id)

    # ------------------------------------------------------------------ writing and truth
    def save(self, folder: Path, layout: str, *, collection: str = "mem0", metric: str = "ip",
             index: bool = True) -> Path:
        import faiss

        folder = Path(folder)
        (folder / "faiss").mkdir(parents=True, exist_ok=True)
        if index:
            dims = int(self.embedder.dims)
            idx = faiss.IndexFlatIP(dims) if metric == "ip" else faiss.IndexFlatL2(dims)
            if self.vectors:
                idx.add(np.vstack(self.vectors).astype(np.float32))
            faiss.write_index(idx, str(folder / "faiss" / f"{collection}.faiss"))
        if layout == "pkl":
            with open(folder / "faiss" / f"{collection}.pkl", "wb") as fh:
                pickle.dump((self.docstore, self.index_to_id), fh)
        elif layout == "json":
            data = {"docstore": self.docstore, "index_to_id": {str(p): i for p, i in self.index_to_id.items()}}
            (folder / "faiss" / f"{collection}.json").write_text(json.dumps(data), encoding="utf-8")
        else:
            raise ValueError(layout)
        conn = sqlite3.connect(str(folder / "history.db"))
        with conn:
            conn.execute(HISTORY_DDL)
            conn.executemany("INSERT INTO history VALUES (?,?,?,?,?,?,?,?,?,?)", self.history)
        conn.close()
        return folder

    def truth(self) -> Truth:
        t = Truth()
        pos_of = {}
        for pos, memory_id in self.index_to_id.items():
            pos_of.setdefault(memory_id, []).append(pos)
        for memory_id, payload in self.docstore.items():
            t.texts[memory_id] = payload["data"]
            t.scopes[memory_id] = {"user_id": payload["user_id"]}
            t.metadata[memory_id] = {k: v for k, v in payload.items()
                                     if k not in ("data", "hash", "created_at", "updated_at", "user_id", "role")}
            positions = pos_of.get(memory_id, [])
            if not positions:
                t.unreachable.add(memory_id)
            elif self.row_text[positions[0]] != payload["data"]:
                t.mis_mapped.add(memory_id)
        t.orphan_rows = sorted(set(range(len(self.vectors))) - set(self.index_to_id))
        live = set(self.docstore)
        for row in self.history:
            t.history_events.setdefault(row[1], []).append(row[4])
        t.deleted = [i for i, ev in t.history_events.items() if i not in live and ev[-1] == "DELETE"]
        return t


def drifted_store(embedder, *, n: int = 40, seed: int = 0) -> Mem0StoreBuilder:
    """``n`` memories of three users, then interleaved updates and deletes with mem0's drift.

    Large enough (n > 2 x the importer's 16-vector sample) that most damaged memories are not
    in any sample: only checking *every* vector finds them.
    """
    b = Mem0StoreBuilder(embedder, drift=True, seed=seed)
    users = ("maya", "oren", "kiri")
    topics = ("tea", "trains", "violins", "rivers", "peanuts", "tennis", "Lyon", "Berlin", "dogs", "chess")
    ids = [b.add(f"{users[i % 3]} note {i}: likes {topics[i % 10]} and {topics[(i * 7 + 3) % 10]}",
                 users[i % 3], category=topics[i % 10], n=i) for i in range(n)]
    for step, i in enumerate((3, 11, 17, 24, 30, 36, 8, 21)):
        b.update(ids[i], f"{users[i % 3]} note {i} (revised {step}): now prefers {topics[(i + step) % 10]}")
        if step in (1, 4, 6):
            b.delete(ids[(i + 5) % n])
    return b
