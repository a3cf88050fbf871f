"""Data a downgrade parks in ``store_meta`` (as JSON under a per-revision key) so that the next
upgrade of the same revision can put it back: a downgrade then an upgrade loses nothing."""

from __future__ import annotations

import json
from typing import Any, Optional

from sqlalchemy import text


def park(bind: Any, key: str, value: Any) -> None:
    """Keep ``value`` (JSON-serialisable) under ``key``, replacing what was parked there."""
    bind.execute(text("INSERT OR REPLACE INTO store_meta (key, value) VALUES (:k, :v)"),
                 {"k": key, "v": json.dumps(value)})


def unpark(bind: Any, key: str) -> Optional[Any]:
    """What was parked under ``key`` (None if nothing), removed from ``store_meta`` (same transaction)."""
    row = bind.execute(text("SELECT value FROM store_meta WHERE key = :k"), {"k": key}).fetchone()
    if row is None:
        return None
    bind.execute(text("DELETE FROM store_meta WHERE key = :k"), {"k": key})
    return json.loads(row[0])
