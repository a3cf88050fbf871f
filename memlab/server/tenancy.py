"""Tenancy for ``memlab serve`` / ``memlab mcp``: one memlab store per org/project.

A served directory looks like::

    DIR/keys.db                               API keys (hashed), see keys.py
    DIR/projects/<org>/<project>/store/       that project's memlab store (memlab.db, index cache)
    DIR/projects/<org>/<project>/project.json that project's settings
    DIR/projects/<org>/<project>/exports/     memory exports

Isolation is physical: a project's memories live in their own store, and the only way to
reach a store is :meth:`Tenancy.tenant` with a :class:`KeyRecord` that :meth:`Tenancy.authenticate`
returned for a valid key. Handlers get a :class:`Tenant` and nothing else, so no handler (or
filter a client sends) can read another project's rows: another project's memory id is simply
not in the store and answers 404, exactly like an id that never existed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Optional

from memlab.config import MemoryConfig
from memlab.enums import SCOPE_FIELDS
from memlab.errors import ValidationError
from memlab.memory import Memory, resolve_config
from memlab.server.keys import KeyRecord, KeyStore, check_name
from memlab.server.settings import (
    SETTINGS_FILE,
    ProjectSettings,
    load_settings,
    save_settings,
)
from memlab.validation import MAX_LIMIT


class Tenant:
    """One org/project: its Memory, its settings and its files."""

    def __init__(self, org: str, project: str, directory: Path, base: MemoryConfig, embedder: Any, llm: Any):
        self.org = org
        self.project = project
        self.dir = directory
        self._base = base
        self._lock = threading.Lock()
        self._settings_stamp: Optional[tuple] = None
        self.settings = load_settings(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.memory = Memory(self.settings.apply(base, directory), embedder=embedder, llm=llm)
        self._settings_stamp = self._stamp()

    def _stamp(self) -> Optional[tuple]:
        try:
            st = os.stat(self.dir / SETTINGS_FILE)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def refresh(self) -> None:
        """Re-read the settings if another worker (or this one) changed them."""
        stamp = self._stamp()
        if stamp == self._settings_stamp:
            return
        with self._lock:
            stamp = self._stamp()
            if stamp == self._settings_stamp:
                return
            settings = load_settings(self.dir)
            # the facade reads .config at call time: swapping the object applies the settings atomically
            self.memory.config = settings.apply(self._base, self.dir)
            self.settings = settings
            self._settings_stamp = stamp

    def update_settings(self, changes: dict) -> ProjectSettings:
        """Validate and persist changed settings (nothing is written if any value is invalid)."""
        from pydantic import ValidationError as PydanticValidationError

        with self._lock:
            current = load_settings(self.dir).model_dump()
            current.update(changes)
            try:
                settings = ProjectSettings(**current)
            except PydanticValidationError as exc:
                raise ValidationError(_describe(exc)) from None
            if len({c.type for c in settings.retrieval_criteria or [] if c.type}) > 1:
                raise ValidationError("retrieval_criteria may name one search type (vector, keyword or hybrid).")
            config = settings.apply(self._base, self.dir)
            save_settings(self.dir, settings)
            self.memory.config = config
            self.settings = settings
            self._settings_stamp = self._stamp()
        return settings

    def all_memories(self) -> list[dict]:
        """Every active memory of the project as get_all items, oldest first.

        Walks the user / agent / run values present in the project and reads each scope, so it
        needs no unscoped read (which the engine refuses by default)."""
        df = self.memory.to_pandas()
        if not len(df):
            return []
        df = df[df["state"] == "active"]
        seen: dict[str, dict] = {}
        for field in SCOPE_FIELDS:
            for value in df[field].dropna().unique():
                for item in self.memory.get_all(filters={field: str(value)}, limit=MAX_LIMIT)["results"]:
                    seen.setdefault(item["id"], item)
        return sorted(seen.values(), key=lambda i: str(i.get("created_at") or ""))

    @property
    def exports_dir(self) -> Path:
        return self.dir / "exports"

    def close(self) -> None:
        self.memory.close()


def _describe(exc) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else err.get("msg", "invalid"))
    return "; ".join(parts)


class Tenancy:
    """Every project of a served directory, opened on first use and kept open.

    Args:
        root: the served directory.
        config: the MemoryConfig (or mem0-style dict) every project starts from; its
            ``vector_store.config.path`` is replaced by the project's store.
    """

    def __init__(self, root: str | Path, config: Any = None):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValidationError(f"{str(self.root)!r} is a file; --store must be a directory.")
        self.root.mkdir(parents=True, exist_ok=True)
        self.keys = KeyStore(self.root)
        self.base = resolve_config(config)
        from memlab.embedders import create_embedder
        from memlab.llms import create_llm

        # one embedder (one model in RAM) and one LLM client for every project of this process
        self.embedder = create_embedder(self.base.embedder.provider, self.base.embedder.config)
        self.llm = create_llm(self.base.llm.provider, self.base.llm.config)
        self._tenants: dict[tuple[str, str], Tenant] = {}
        self._opening: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def authenticate(self, key: Optional[str]) -> Optional[KeyRecord]:
        return self.keys.verify(key) if key else None

    def tenant(self, record: KeyRecord) -> Tenant:
        """The project a verified key grants (opened once per process)."""
        if not isinstance(record, KeyRecord):
            raise TypeError("tenant() needs the KeyRecord of a verified key.")
        return self._open(record.org, record.project)

    def local_tenant(self, org: str, project: str) -> Tenant:
        """A project opened by name, for local tools (``memlab mcp`` on stdio) that run as the store's owner."""
        return self._open(check_name("org", org), check_name("project", project))

    def _open(self, org: str, project: str) -> Tenant:
        key = (org, project)
        tenant = self._tenants.get(key)
        if tenant is None:
            with self._lock:  # one opening lock per project: opening a big store must not stall the others
                opening = self._opening.setdefault(key, threading.Lock())
            with opening:
                tenant = self._tenants.get(key)
                if tenant is None:
                    directory = self.root / "projects" / org / project
                    tenant = Tenant(org, project, directory, self.base, self.embedder, self.llm)
                    with self._lock:
                        self._tenants[key] = tenant
        tenant.refresh()
        return tenant

    def close(self) -> None:
        with self._lock:
            for t in self._tenants.values():
                t.close()
            self._tenants.clear()
