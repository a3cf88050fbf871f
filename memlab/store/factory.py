"""Which engine a config runs on: the explicit factory behind ``Memory``.

``faiss`` (default): SQLite + pandas + FAISS in this process (:class:`memlab.store.faiss.engine.Store`).
``pgvector``: PostgreSQL + pgvector (:class:`memlab.store.pg.engine.PgStore`, needs ``memlab[pg]``;
imported only when asked for, so ``import memlab`` never needs psycopg).
"""

from __future__ import annotations

from typing import Any, Optional

from memlab.errors import ConfigError
from memlab.store.base import MemoryStore

ENGINES = ("faiss", "pgvector")


def open_store(provider: str, settings: Any, dims: int, embedder_name: str, *,
               keyword_args: Optional[dict] = None) -> MemoryStore:
    """Open the engine ``provider`` with its typed settings (``VectorStoreConfig.settings()``);
    ``keyword_args`` (analyzer, BM25 k1/b) configure keyword search."""
    if provider == "faiss":
        from memlab.store.faiss.engine import Store

        return Store(settings.path, dims, embedder_name, busy_timeout_ms=settings.busy_timeout_ms,
                     exact_subset_max=settings.exact_subset_max, keyword_args=keyword_args)
    if provider == "pgvector":
        from memlab.store.pg.engine import PgStore

        return PgStore.from_settings(settings, dims, embedder_name, keyword_args=keyword_args)
    raise ConfigError(f"vector_store.provider {provider!r} has no engine; memlab runs: {', '.join(ENGINES)}.")
