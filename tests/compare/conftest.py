"""Fixtures shared by the comparison tests."""

import pytest

from memlab import Memory
from tests.compare.compare_data import HASH_CONFIG, records


@pytest.fixture
def hash_mem():
    """An in-memory Memory (hash embedder) holding the comparison test records."""
    m = Memory(HASH_CONFIG)
    m.add_records(records())
    yield m
    m.close()
