"""Fixtures for the server tests: skip cleanly without the serve/test extras."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

os.environ["MEM0_TELEMETRY"] = "False"  # mem0ai's client must never phone home from tests
# mem0ai writes a config file under MEM0_DIR (default ~/.mem0) at import: keep it out of $HOME, in a
# folder of our own that goes when the session ends (unconfigure also runs in a forked mutation run,
# which leaves through os._exit and so skips atexit)
_MEM0_HOME = None
if "MEM0_DIR" not in os.environ:
    _MEM0_HOME = tempfile.mkdtemp(prefix="mem0home-")
    os.environ["MEM0_DIR"] = _MEM0_HOME


def _remove_mem0_home() -> None:
    if _MEM0_HOME is not None:
        shutil.rmtree(_MEM0_HOME, ignore_errors=True)
        if os.environ.get("MEM0_DIR") == _MEM0_HOME:
            del os.environ["MEM0_DIR"]


atexit.register(_remove_mem0_home)


def pytest_unconfigure(config):
    _remove_mem0_home()


pytest.importorskip("fastapi", reason="memlab[serve] is not installed")
pytest.importorskip("uvicorn", reason="memlab[serve] is not installed")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.server.live import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("served")).start()
    yield srv
    srv.stop()
