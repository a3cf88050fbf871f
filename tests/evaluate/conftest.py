"""Fixtures of the evaluation tests: the bundled dataset and one real minilm retrieval run over it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bundled():
    from memlab.evaluate import load_bundled

    return load_bundled()


@pytest.fixture(scope="session")
def bundled_minilm_run(bundled, minilm):
    """Dense run of the real all-MiniLM-L6-v2 over the bundled dataset (built once per session)."""
    from memlab.evaluate.retrieval import build_memory, dense_retrieve

    memory = build_memory(bundled, minilm)
    try:
        yield dense_retrieve(bundled, memory, depth=20)
    finally:
        memory.close()


@pytest.fixture(scope="session")
def locomo_path(shared_dir):
    path = shared_dir / "datasets" / "locomo" / "locomo-dev.json"
    if not path.is_file():
        pytest.skip(f"LoCoMo dev split not found at {path}")
    return path
