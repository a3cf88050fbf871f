"""Fixtures for the server tests: skip cleanly without the serve/test extras."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ["MEM0_TELEMETRY"] = "False"  # mem0ai's client must never phone home from tests
# mem0ai writes a config file under MEM0_DIR (default ~/.mem0) at import: keep it out of $HOME
os.environ.setdefault("MEM0_DIR", tempfile.mkdtemp(prefix="mem0home-"))

pytest.importorskip("fastapi", reason="memlab[serve] is not installed")
pytest.importorskip("uvicorn", reason="memlab[serve] is not installed")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.server.live import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("served")).start()
    yield srv
    srv.stop()
