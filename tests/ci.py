"""In CI a suite never drops out quietly: where a test would skip because PostgreSQL or the browser is
missing, ``CI=true`` (set by GitHub Actions, GitLab CI and most others) fails it instead, saying why.

On a developer's machine the same tests skip with the same reason (a clone without the pg extra or
Chromium still runs everything else).
"""

from __future__ import annotations

import importlib.util
import os

import pytest

TRUE = ("1", "true", "yes", "on")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in TRUE


def missing(reason: str, suite: str) -> None:
    """Skip with ``reason``; under CI=true fail instead (the ``suite`` must run in CI)."""
    if in_ci():
        pytest.fail(f"CI=true: the {suite} tests must run in CI, but {reason}. Install it (.ci/run does) "
                    f"rather than letting these tests skip.", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, reason: str, suite: str):
    """``pytest.importorskip`` that fails under CI=true."""
    if importlib.util.find_spec(name) is None:
        missing(reason, suite)
    return importlib.import_module(name)
