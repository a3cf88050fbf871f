"""``AsyncMemory``: mem0's async facade over the same engine.

Every verb runs the synchronous :class:`~memlab.Memory` call in a worker thread
(``asyncio.to_thread``), so an event loop never blocks on embedding or SQLite. The store's
lock serialises the in-memory work; SQLite WAL serialises writers across processes.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Optional

from memlab.memory import Memory


class AsyncMemory:
    """Async twin of :class:`Memory` with the same arguments and return shapes."""

    def __init__(self, config: Any = None, **kwargs: Any):
        self._memory = Memory(config, **kwargs)

    @classmethod
    def from_config(cls, config_dict: Any) -> "AsyncMemory":
        """mem0's constructor: returns the instance (not a coroutine), as mem0's AsyncMemory does."""
        return cls(config_dict)

    @property
    def sync(self) -> Memory:
        """The underlying synchronous Memory (for notebooks and to_pandas)."""
        return self._memory

    async def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(functools.partial(getattr(self._memory, name), *args, **kwargs))

    async def add(self, messages: Any, **kwargs: Any):
        return await self._run("add", messages, **kwargs)

    async def get(self, memory_id: str) -> Optional[dict]:
        return await self._run("get", memory_id)

    async def get_all(self, **kwargs: Any):
        return await self._run("get_all", **kwargs)

    async def search(self, query: str, **kwargs: Any):
        return await self._run("search", query, **kwargs)

    async def update(self, memory_id: str, data: Optional[str] = None, **kwargs: Any) -> dict:
        return await self._run("update", memory_id, data, **kwargs)

    async def delete(self, memory_id: str) -> dict:
        return await self._run("delete", memory_id)

    async def delete_all(self, **kwargs: Any) -> dict:
        return await self._run("delete_all", **kwargs)

    async def history(self, memory_id: str) -> list[dict]:
        return await self._run("history", memory_id)

    async def reset(self) -> None:
        return await self._run("reset")

    async def set_state(self, memory_id: str, state: str) -> dict:
        return await self._run("set_state", memory_id, state)

    def to_pandas(self, **kwargs: Any):
        return self._memory.to_pandas(**kwargs)

    def close(self) -> None:
        self._memory.close()
