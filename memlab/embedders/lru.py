"""A small in-process LRU of query vectors: a repeated search text is embedded once.

Agents and evaluation loops ask the same questions again and again ("what does the user like?");
the embedder runs once per distinct text, later searches read the vector from memory. Only
``purpose="search"`` goes through it (texts being stored are rarely repeated and would evict the
queries). Thread-safe; vectors are returned as copies, so a caller cannot change a cached one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np


class QueryCache:
    """``maxsize`` most recently used (text -> vector) pairs; ``maxsize=0`` disables it."""

    def __init__(self, maxsize: int = 1024):
        self.maxsize = max(0, int(maxsize))
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def embed(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts``: cached ones from memory, the others from ``compute(missing texts)``."""
        texts = list(texts)
        if not self.maxsize or not texts:
            return np.asarray(compute(texts), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                v = self._items.get(t)
                if v is not None:
                    self._items.move_to_end(t)
                    found[t] = v
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        self.hits += len(texts) - sum(1 for t in texts if t not in found)
        self.misses += len(missing)
        if missing:
            vecs = np.asarray(compute(missing), dtype=np.float32)
            if vecs.ndim != 2 or vecs.shape[0] != len(missing):
                return vecs  # malformed output: let the caller's checks report it, cache nothing
            with self._lock:
                for t, v in zip(missing, vecs):
                    v = v.copy()
                    v.flags.writeable = False
                    found[t] = v
                    self._items[t] = v
                    self._items.move_to_end(t)
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
        return np.stack([found[t] for t in texts])  # a new array: cached vectors stay untouched
