"""On-disk embedding cache keyed by (model name, SHA-256 of the text).

Repeated experiments (threshold sweeps, before/after comparisons, LoCoMo runs) embed the same
texts again and again; with ``cache_path`` set, each text is embedded once per model. The cache
is a small SQLite file, safe to share between processes, and never holds anything but vectors.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np


class CachedEmbedder:
    """Wraps an embedder; ``name`` and ``dims`` are the wrapped embedder's."""

    def __init__(self, inner, path: str | Path):
        self.inner = inner
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
        from memlab.store.faiss.sqlite import enable_wal

        enable_wal(self._conn, 30.0)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, text_sha256 TEXT NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256))"
        )
        self.hits = 0
        self.misses = 0

    @contextmanager
    def _conn_tx(self):
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dims(self) -> int:
        return self.inner.dims

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = self._conn.execute(
                    f"SELECT text_sha256, vector FROM embeddings WHERE model = ? AND text_sha256 IN "
                    f"({','.join('?' * len(chunk))})", (self.name, *chunk),
                ).fetchall()
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            vecs = np.asarray(self.inner.embed([texts[i] for i in missing], purpose), dtype=np.float32)
            if vecs.ndim == 2 and vecs.shape[0] == len(missing) and np.isfinite(vecs).all():
                with self._lock, self._conn_tx():
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                        [(self.name, keys[i], v.tobytes()) for i, v in zip(missing, vecs)],
                    )
            for i, v in zip(missing, vecs):
                found[keys[i]] = v
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, self.dims), np.float32)
