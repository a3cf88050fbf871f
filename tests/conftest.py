"""Shared fixtures. Tests that need ../shared skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MEMLAB_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's read-only ../shared folder (skip when absent, e.g. in a user's clone)."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED} (set MEMLAB_SHARED to point at it)")
    return SHARED


@pytest.fixture
def hash_config() -> dict:
    """Config of a fast, model-free memory (deterministic hashing embedder)."""
    return {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}


@pytest.fixture
def mem(hash_config):
    """An in-memory Memory with the hashing embedder."""
    from memlab import Memory

    m = Memory(hash_config)
    yield m
    m.close()


@pytest.fixture(scope="session")
def minilm():
    """The real bundled all-MiniLM-L6-v2 embedder (loaded once per test session)."""
    from memlab.embedders import create_embedder

    emb = create_embedder("minilm", {})
    emb.embed(["warm up"])
    return emb


@pytest.fixture
def openai_server():
    """A local OpenAI-compatible server on 127.0.0.1 (see tests/openai_server.py)."""
    from tests.openai_server import OpenAICompatServer

    srv = OpenAICompatServer().start()
    yield srv
    srv.stop()


# ----------------------------------------------------------------------------- engines (faiss, pgvector)
@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL with pgvector for this test session: $MEMLAB_PG_URL, or one pgserver started in a temp
    dir (skips when the pg extra is not installed)."""
    from tests.pg.support import start_session_server

    url, data = start_session_server()
    yield url
    if data is not None:
        import shutil
        from pathlib import Path

        from memlab.store.pg import server

        server.stop(data)
        shutil.rmtree(Path(data).parent, ignore_errors=True)


@pytest.fixture
def pg_collection(pg_url):
    """A fresh collection name (its tables are dropped after the test)."""
    from tests.pg.support import drop_collection, new_collection

    name = new_collection()
    yield name
    drop_collection(pg_url, name)


@pytest.fixture(params=["faiss", "pgvector"])
def engine_config(request, hash_config):
    """The hash-embedder config on each engine (faiss: in memory; pgvector: a fresh collection)."""
    if request.param == "faiss":
        return hash_config
    url, name = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_collection")
    from tests.pg.support import pg_config

    return pg_config(url, name)


@pytest.fixture
def engine_mem(engine_config):
    """A Memory on each engine (parametrised): behavioural tests run on both."""
    from memlab import Memory

    m = Memory(engine_config)
    yield m
    m.close()
