"""Snapshots of a store directory's database, taken before every destructive step.

A snapshot is a consistent copy of ``memlab.db`` made with SQLite's online backup API (safe
while other connections are open), stored as ``<store>/snapshots/<id>/memlab.db`` with a
``manifest.json`` (reason, time, schema revision, row counts). :func:`restore_snapshot`
copies one back - after snapshotting the current state, so a rollback can be rolled back.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Union

from memlab.errors import MigrationError
from memlab.store.faiss.schema import DB_NAME

SNAPSHOT_DIR = "snapshots"
PathLike = Union[str, Path]


@dataclass
class Snapshot:
    """One snapshot of a store: ``id`` sorts by time; ``path`` is the copied database."""

    id: str
    path: str
    created_at: str
    reason: str
    revision: Optional[str]
    memories: int
    history: int

    def to_dict(self) -> dict:
        return asdict(self)


def _db(store_dir: PathLike) -> Path:
    db = Path(store_dir) / DB_NAME
    if not db.is_file():
        raise MigrationError(f"No memlab store at {str(store_dir)!r} (missing {DB_NAME}); pass a store directory.")
    return db


def _counts(conn: sqlite3.Connection) -> tuple[Optional[str], int, int]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    rev = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        rev = row[0] if row else None
    n_mem = conn.execute("SELECT count(*) FROM memories").fetchone()[0] if "memories" in tables else 0
    n_hist = conn.execute("SELECT count(*) FROM history").fetchone()[0] if "history" in tables else 0
    return rev, n_mem, n_hist


def take_snapshot(store_dir: PathLike, reason: str, conn: Optional[sqlite3.Connection] = None) -> Snapshot:
    """Copy the store's database into ``snapshots/<id>/`` and return its :class:`Snapshot`."""
    db = _db(store_dir)
    now = datetime.now(timezone.utc)
    safe_reason = "".join(c if c.isalnum() or c in "-_" else "-" for c in reason)[:40]
    snap_id = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:6]}-{safe_reason}"
    target_dir = Path(store_dir) / SNAPSHOT_DIR / snap_id
    target_dir.mkdir(parents=True)
    own = conn is None
    src = sqlite3.connect(str(db), timeout=30) if own else conn
    try:
        dst = sqlite3.connect(str(target_dir / DB_NAME))
        try:
            src.backup(dst)
            rev, n_mem, n_hist = _counts(dst)
        finally:
            dst.close()
    finally:
        if own:
            src.close()
    snap = Snapshot(snap_id, str(target_dir / DB_NAME), now.isoformat(), reason, rev, n_mem, n_hist)
    (target_dir / "manifest.json").write_text(json.dumps(snap.to_dict(), indent=1))
    return snap


def list_snapshots(store_dir: PathLike) -> list[Snapshot]:
    """Every snapshot of a store, oldest first."""
    root = Path(store_dir) / SNAPSHOT_DIR
    if not root.is_dir():
        return []
    out = []
    for manifest in sorted(root.glob("*/manifest.json")):
        data = json.loads(manifest.read_text())
        data["path"] = str(manifest.parent / DB_NAME)  # the store directory may have moved
        out.append(Snapshot(**data))
    return sorted(out, key=lambda s: s.id)


def restore_snapshot(store_dir: PathLike, snapshot_id: Optional[str] = None) -> tuple[Snapshot, Snapshot]:
    """Put a snapshot (default: the newest) back as the store's database.

    The current state is snapshotted first (reason ``pre-rollback``). Close ``Memory`` objects
    open on the store before rolling back; re-opening an older-revision snapshot upgrades it again.

    Returns:
        (restored snapshot, snapshot of the state that was replaced)
    """
    db = _db(store_dir)
    snaps = list_snapshots(store_dir)
    if not snaps:
        raise MigrationError(f"Store {str(store_dir)!r} has no snapshots to roll back to.")
    if snapshot_id is None:
        chosen = snaps[-1]
    else:
        matches = [s for s in snaps if s.id == snapshot_id or s.id.startswith(snapshot_id)]
        if len(matches) != 1:
            raise MigrationError(
                f"Snapshot {snapshot_id!r} {'is ambiguous' if matches else 'not found'}; "
                f"available: {', '.join(s.id for s in snaps)}."
            )
        chosen = matches[0]
    before = take_snapshot(store_dir, "pre-rollback")
    src = sqlite3.connect(f"file:{chosen.path}?mode=ro", uri=True)
    dst = sqlite3.connect(str(db), timeout=30)
    try:
        src.backup(dst)
        # A new epoch makes every open Store reload from scratch instead of catching up by seq.
        has_meta = dst.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='store_meta'").fetchone()
        if has_meta:
            with dst:
                dst.execute("UPDATE store_meta SET value = ? WHERE key = 'epoch'", (uuid.uuid4().hex,))
    finally:
        src.close()
        dst.close()
    return chosen, before
