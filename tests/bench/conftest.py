"""Fixtures of the bench tests: the synthetic LoCoMo-format sample (memlab.bench.sample) on disk."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ["MEM0_TELEMETRY"] = "False"  # mem0ai must never phone home from tests
os.environ.setdefault("MEM0_DIR", tempfile.mkdtemp(prefix="mem0home-"))


@pytest.fixture(scope="session")
def sample_path(tmp_path_factory):
    from memlab.bench.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("bench") / "sample.json")


HASH = "embedder=hash"  # fast, model-free systems where retrieval quality does not matter
