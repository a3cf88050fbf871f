"""Progress bars (tqdm.auto) for the long steps a person waits for, silent where nobody watches.

``tqdm.auto`` draws a widget bar in notebooks and a text bar in a terminal. Bars stay off in
tests and CI (``PYTEST_CURRENT_TEST`` or ``CI`` set), when stderr is not a terminal outside a
notebook (logs, pipes), and when ``MEMLAB_PROGRESS=0``; ``MEMLAB_PROGRESS=1`` forces them on.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Optional


def progress_enabled(requested: Optional[bool] = True) -> bool:
    """Whether to draw a bar: the caller asked for one and someone can see it."""
    if requested is False:
        return False
    forced = os.environ.get("MEMLAB_PROGRESS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if os.environ.get("PYTEST_CURRENT_TEST") or os.environ.get("CI"):
        return False
    if _in_notebook():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython") and getattr(sys.modules["IPython"], "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_bar(*, total: Optional[int] = None, desc: str = "", unit: str = "it", enabled: Optional[bool] = True,
                 **kwargs: Any):
    """A ``tqdm.auto.tqdm`` bar, disabled unless :func:`progress_enabled` says someone watches."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress_enabled(enabled), **kwargs)


# The bar of the enclosing `reporting(...)` block, if any: deep code (an import's embedding batches)
# reports to it without every function in between passing a callback along.
_ACTIVE: ContextVar = ContextVar("memlab_progress_bar", default=None)


@contextmanager
def reporting(desc: str, *, unit: str = "it", enabled: Optional[bool] = True) -> Iterator[Any]:
    """One bar for everything :func:`report_progress` reports inside the block."""
    with progress_bar(total=None, desc=desc, unit=unit, enabled=enabled) as bar:
        token = _ACTIVE.set(bar)
        try:
            yield bar
        finally:
            _ACTIVE.reset(token)


def report_progress(done: int = 0, *, total: Optional[int] = None) -> None:
    """Advance the enclosing :func:`reporting` bar by ``done`` (and set its total); a no-op outside one."""
    bar = _ACTIVE.get()
    if bar is None:
        return
    if total is not None:
        bar.total = (bar.total or 0) + total
        bar.refresh()
    if done:
        bar.update(done)
