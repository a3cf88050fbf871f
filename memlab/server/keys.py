"""API keys for ``memlab serve``: created, listed and revoked by ``memlab keys``.

Keys live in a small SQLite file (``DIR/keys.db``) next to the served projects. Only an
HMAC-SHA256 of each key's secret (with a random per-key salt) is stored, so the file does not
reveal usable keys. A key looks like ``m0-<key_id>.<secret>``: the public ``key_id`` finds the
row in one index lookup, the secret is checked in constant time. Every request re-reads the
row, so a revocation takes effect at once in every worker process.

This module needs only the standard library (``memlab keys`` works without ``memlab[serve]``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from memlab.errors import NotFoundError, ValidationError

KEYS_FILE = "keys.db"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEY_RE = re.compile(r"^m0-([0-9a-f]{16})\.([A-Za-z0-9_-]{20,128})$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    salt        BLOB NOT NULL,
    digest      TEXT NOT NULL,
    org         TEXT NOT NULL,
    project     TEXT NOT NULL,
    name        TEXT,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
"""


def check_name(kind: str, value: str) -> str:
    """An org or project name: 1-64 characters of letters, digits, '_', '.', '-' (not starting with '.')."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValidationError(
            f"{kind} must be 1-64 characters of letters, digits, '_', '.' or '-', starting with a letter "
            f"or digit; got {value!r}."
        )
    return value


@dataclass(frozen=True)
class KeyRecord:
    """What a verified key grants: one org/project."""

    key_id: str
    org: str
    project: str
    name: Optional[str]
    created_at: str
    revoked_at: Optional[str] = None

    def to_dict(self) -> dict:
        return {"key_id": self.key_id, "org": self.org, "project": self.project, "name": self.name,
                "created_at": self.created_at, "revoked_at": self.revoked_at}


def _digest(salt: bytes, secret: str) -> str:
    return hmac.new(salt, secret.encode("ascii"), hashlib.sha256).hexdigest()


class KeyStore:
    """The API keys of one served directory."""

    def __init__(self, root: str | Path, create: bool = True):
        self.root = Path(root)
        self.path = self.root / KEYS_FILE
        if not create and not self.path.exists():
            raise ValidationError(f"{str(self.root)!r} has no {KEYS_FILE}; "
                                  "create a key first with `memlab keys create`.")
        self.root.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit: one statement each
        try:
            con.execute("PRAGMA busy_timeout=30000")
            yield con
        finally:
            con.close()

    def _reader(self) -> sqlite3.Connection:
        """A connection kept per thread for verify(): opening one costs ~1 ms, a lookup ~20 us."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            con.execute("PRAGMA busy_timeout=30000")
            self._local.con = con
        return con

    def create(self, org: str, project: str, name: Optional[str] = None) -> tuple[str, KeyRecord]:
        """A new key for org/project. Returns (the key, its record); the key is not stored anywhere."""
        check_name("org", org)
        check_name("project", project)
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            raise ValidationError("name must be a string of at most 200 characters.")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        now = datetime.now(timezone.utc).isoformat()
        with self._connect() as con:
            con.execute(
                "INSERT INTO api_keys (key_id, salt, digest, org, project, name, created_at) VALUES (?,?,?,?,?,?,?)",
                (key_id, salt, _digest(salt, secret), org, project, name, now),
            )
        return f"m0-{key_id}.{secret}", KeyRecord(key_id, org, project, name, now)

    def list(self, include_revoked: bool = False) -> list[KeyRecord]:
        sql = "SELECT key_id, org, project, name, created_at, revoked_at FROM api_keys"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY created_at, key_id").fetchall()
        return [KeyRecord(*r) for r in rows]

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key by its id (the part after ``m0-`` and before the dot; a full key works too)."""
        m = _KEY_RE.match(key_id or "")
        if m:
            key_id = m.group(1)
        now = datetime.now(timezone.utc).isoformat()
        with self._connect() as con:
            cur = con.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                              (now, key_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"No active key with id {key_id!r}; see `memlab keys list`.")
            row = con.execute("SELECT key_id, org, project, name, created_at, revoked_at FROM api_keys "
                              "WHERE key_id = ?", (key_id,)).fetchone()
        return KeyRecord(*row)

    def verify(self, key: str) -> Optional[KeyRecord]:
        """The record of a valid, unrevoked key, else None (never says which part was wrong)."""
        m = _KEY_RE.match(key or "")
        if not m:
            return None
        key_id, secret = m.groups()
        # every call reads the row afresh (autocommit, no cache): a revocation applies at once
        row = self._reader().execute("SELECT salt, digest, org, project, name, created_at, revoked_at "
                                     "FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None or row[6] is not None:
            return None
        if not hmac.compare_digest(_digest(row[0], secret), row[1]):
            return None
        return KeyRecord(key_id, row[2], row[3], row[4], row[5])
