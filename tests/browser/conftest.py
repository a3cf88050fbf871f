"""Fixtures of the browser suite: one JupyterLab server and one Chromium per test session.

The suite skips, saying why, where Debian's Chromium (/usr/bin/chromium) or the Python package
``playwright`` is missing; ``.ci/run`` installs both. With ``CI=true`` it fails instead (tests.ci):
a CI run without the browser must not pass. Playwright drives the system Chromium only
(``executable_path``): ``playwright install`` (a download) is never needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, LabServer
from tests.ci import missing

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("MEMLAB_BROWSER_REPORTS", REPO / "reports" / "browser"))


def _is_browser(item) -> bool:
    return "tests/browser/" in str(item.fspath).replace(os.sep, "/")


def pytest_collection_modifyitems(config, items):
    # Playwright's sync API keeps an asyncio loop running in the main thread while it is open, which
    # breaks asyncio.run() in any test that comes after it: the browser suite runs last, and its
    # Playwright session closes when the suite's module ends.
    items[:] = [i for i in items if not _is_browser(i)] + [i for i in items if _is_browser(i)]
    reason = None
    if not Path(CHROMIUM).exists():
        reason = (f"browser tests need Debian's Chromium at {CHROMIUM} "
                  "(apt-get install -y chromium; .ci/run installs it)")
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "browser tests need the playwright package (pip install playwright; it is in memlab[test])"
    if reason:
        for item in items:
            if _is_browser(item):
                item.stash[_MISSING] = reason


_MISSING = pytest.StashKey[str]()


def pytest_runtest_setup(item):
    reason = item.stash.get(_MISSING, None)
    if reason:
        missing(reason, "browser")  # skips; fails under CI=true


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    server = LabServer(REPO / "notebooks", tmp_path_factory.mktemp("lab")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    """Folder of screenshots (a CI artifact)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def page(browser, lab):
    """A fresh tab; its notebook's kernel is shut down afterwards."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
    lab.shutdown_kernels()
