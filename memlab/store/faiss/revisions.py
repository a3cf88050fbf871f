"""Store schema versions: current / history / upgrade / downgrade / rollback on a store directory.

Each schema change is an Alembic revision in ``memlab/store/faiss/alembic/versions`` with an
upgrade and a downgrade. Every step that changes a schema takes a snapshot first
(:mod:`memlab.store.faiss.snapshots`), and each upgrade/downgrade runs as one SQLite transaction.
Brand-new stores are created directly at HEAD by :mod:`memlab.store.faiss.schema` (no Alembic start-up);
opening an older store calls :func:`upgrade_open_store`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from memlab.errors import MigrationError, StoreError
from memlab.store.faiss.schema import DB_NAME, HEAD_REVISION, REVISIONS
from memlab.store.faiss.snapshots import Snapshot, restore_snapshot, take_snapshot

ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"
PathLike = Union[str, Path]


@dataclass
class SchemaChange:
    """What an upgrade/downgrade did."""

    store: str
    from_revision: Optional[str]
    to_revision: Optional[str]
    snapshot: Optional[Snapshot]

    def __str__(self) -> str:
        snap = f" (snapshot {self.snapshot.id})" if self.snapshot else ""
        return f"{self.store}: {self.from_revision or '<base>'} -> {self.to_revision or '<base>'}{snap}"


def alembic_config(store_dir: Optional[PathLike] = None):
    """An Alembic ``Config`` pointing at memlab's revisions (and at a store's database)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    if store_dir is not None:
        cfg.set_main_option("sqlalchemy.url", f"sqlite:///{Path(store_dir) / DB_NAME}")
    return cfg


def _db(store_dir: PathLike) -> Path:
    db = Path(store_dir) / DB_NAME
    if not db.is_file():
        raise MigrationError(f"No memlab store at {str(store_dir)!r} (missing {DB_NAME}); pass a store directory.")
    return db


def current(store_dir: PathLike) -> Optional[str]:
    """The revision a store is at (None = empty/base). Read-only."""
    conn = sqlite3.connect(f"file:{_db(store_dir)}?mode=ro", uri=True)
    try:
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()
        if not has:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.DatabaseError as exc:
        raise MigrationError(f"{store_dir}: not a readable SQLite database ({exc}).") from None
    finally:
        conn.close()


def history() -> list[dict]:
    """Every revision, oldest first: ``revision``, ``down_revision``, ``doc``, ``head``."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    revs = list(script.walk_revisions())[::-1]
    return [{"revision": r.revision, "down_revision": r.down_revision, "doc": (r.doc or "").strip(),
             "head": r.is_head} for r in revs]


def _resolve(target: str, rev: Optional[str]) -> Optional[str]:
    """A concrete revision id for ``head``/``base``/``-N``/``+N``/an id (prefixes allowed)."""
    order = list(REVISIONS)
    if target == "head":
        return HEAD_REVISION
    if target == "base":
        return None
    pos = order.index(rev) if rev in order else -1
    if target[:1] in "+-" and target[1:].isdigit():
        new = pos + int(target)
        if new < -1 or new >= len(order):
            raise MigrationError(f"{target} from {rev or '<base>'} is outside the revisions {', '.join(order)}.")
        return None if new == -1 else order[new]
    matches = [r for r in order if r == target or r.startswith(target)]
    if len(matches) != 1:
        raise MigrationError(f"Unknown revision {target!r}; known: {', '.join(order)} (or head, base, -1, +1).")
    return matches[0]


def _run(store_dir: PathLike, direction: str, target: str, snapshot: bool) -> SchemaChange:
    from alembic import command

    before = current(store_dir)
    if before is not None and before not in REVISIONS:
        raise MigrationError(f"Store is at unknown revision {before!r} (written by a newer memlab?).")
    resolved = _resolve(target, before)
    pos = {r: i for i, r in enumerate(REVISIONS)}
    here, there = pos.get(before, -1), pos.get(resolved, -1)
    if (direction == "upgrade" and there < here) or (direction == "downgrade" and there > here):
        raise MigrationError(
            f"Cannot {direction} from {before or '<base>'} to {resolved or '<base>'}; use "
            f"`memlab db {'downgrade' if direction == 'upgrade' else 'upgrade'}` instead."
        )
    if there == here:
        return SchemaChange(str(store_dir), before, before, None)
    snap = take_snapshot(store_dir, f"pre-{direction}-{before or 'base'}") if snapshot else None
    cfg = alembic_config(store_dir)
    try:
        getattr(command, direction)(cfg, resolved or "base")
    except Exception as exc:  # the transaction was rolled back; the store is unchanged
        raise MigrationError(f"{direction} to {resolved or 'base'} failed and was rolled back: {exc}") from exc
    return SchemaChange(str(store_dir), before, current(store_dir), snap)


def upgrade(store_dir: PathLike, revision: str = "head", *, snapshot: bool = True) -> SchemaChange:
    """Upgrade a store to ``revision`` (default head), after a snapshot."""
    return _run(store_dir, "upgrade", revision, snapshot)


def downgrade(store_dir: PathLike, revision: str, *, snapshot: bool = True) -> SchemaChange:
    """Downgrade a store to ``revision`` (an id, ``-1`` or ``base``), after a snapshot."""
    return _run(store_dir, "downgrade", revision, snapshot)


def rollback(store_dir: PathLike, snapshot_id: Optional[str] = None) -> Snapshot:
    """Restore a snapshot (default: the newest). The replaced state is snapshotted first."""
    restored, _ = restore_snapshot(store_dir, snapshot_id)
    return restored


def upgrade_open_store(conn: sqlite3.Connection, path: PathLike) -> SchemaChange:
    """Called by ``Store`` when it opens an older store: snapshot through the open connection, upgrade."""
    from alembic import command

    before = current(path)
    snap = take_snapshot(path, f"pre-upgrade-{before or 'base'}", conn=conn)
    try:
        command.upgrade(alembic_config(path), "head")
    except Exception as exc:
        raise MigrationError(f"Upgrading store {str(path)!r} from {before} failed and was rolled back: {exc}. "
                             f"A snapshot is in {snap.path}.") from exc
    return SchemaChange(str(path), before, HEAD_REVISION, snap)


def upgrade_to_head(conn: sqlite3.Connection, path, rev: str | None) -> None:
    """Bring an opened store to HEAD: nothing to do at HEAD, else snapshot + Alembic upgrade."""
    if rev == HEAD_REVISION:
        return
    if rev not in REVISIONS:
        raise StoreError(
            f"This store is at schema revision {rev!r}, which this memlab does not know (known: "
            f"{', '.join(REVISIONS)}); it was written by a newer memlab. Upgrade memlab, or downgrade the "
            "store with the newer version (`memlab db downgrade`)."
        )
    if path is None:
        raise StoreError(f"An in-memory database at revision {rev!r} cannot be upgraded; open it from a directory.")
    upgrade_open_store(conn, path)
