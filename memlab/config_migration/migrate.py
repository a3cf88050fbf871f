"""Migrate legacy (mem0) configurations to memlab's :class:`~memlab.config.MemoryConfig`.

``migrate_config(old)`` accepts the flat form (``{"embedder": "openai", ...}``), mem0 0.1.x /
1.x / 2.x dicts, OpenMemory's ``config.json`` and current memlab configs, as a dict, JSON/YAML
text or a file path. It returns a :class:`ConfigMigration`: a valid config plus a report of
every change (path, old value, new value, reason) and warnings. Nothing is dropped silently:
a key memlab cannot use is removed *and* reported. Migrating a migrated config changes nothing.

The mapping itself lives in :mod:`memlab.config_migration.blocks` (one function per block);
this module holds the result types, input loading and the top-level orchestration.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from memlab.config import MemoryConfig, parse_config_text
from memlab.config_migration import blocks as B
from memlab.config_migration import optional_blocks as O
from memlab.config_migration import tables as T
from memlab.config_migration.readable import parse_text
from memlab.errors import ConfigError


@dataclass(frozen=True)
class Change:
    """One reported change. ``path`` is dotted (``"a -> b"`` for a rename); secrets are masked."""

    path: str
    old: Any
    new: Any
    reason: str

    def to_dict(self) -> dict:
        return {"path": self.path, "old": self.old, "new": self.new, "reason": self.reason}


@dataclass
class ConfigMigration:
    """Result of :func:`migrate_config`.

    Attributes:
        config: the migrated, validated :class:`MemoryConfig`.
        changes: every difference between the input and ``config`` that is not a plain default.
        warnings: what the user must know or do (data to import, thresholds to re-tune, ...).
        source: the input as a dict (before migration).
    """

    config: MemoryConfig
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True when the input was not already a current memlab config."""
        return bool(self.changes)

    def to_dict(self) -> dict:
        """``{"config": ..., "changes": [...], "warnings": [...]}`` (JSON-able)."""
        return {
            "config": self.config.to_dict(),
            "changes": [c.to_dict() for c in self.changes],
            "warnings": list(self.warnings),
        }

    def changes_frame(self):
        """The changes as a pandas DataFrame (columns path, old, new, reason)."""
        import pandas as pd

        rows = [{k: (_show(v) if k in ("old", "new") else v) for k, v in c.to_dict().items()} for c in self.changes]
        return pd.DataFrame(rows, columns=["path", "old", "new", "reason"])

    def diff(self, context: int = 3) -> str:
        """Unified diff between the input and the migrated config (JSON, secrets masked).

        Untouched defaults are left out of the migrated side (see :func:`readable.diff_view`), so the
        diff shows what the migration did; ``config.to_json()`` is the whole config."""
        from memlab.config_migration.readable import diff_view

        shown = diff_view(self.config.to_dict(), self.source, [c.path for c in self.changes])
        old = _dump(redact(self.source)).splitlines(keepends=True)
        new = _dump(redact(shown)).splitlines(keepends=True)
        return "".join(difflib.unified_diff(old, new, "old config", "migrated config", n=context))

    def report(self) -> str:
        """A plain-text report: changes, then warnings."""
        lines = [f"{len(self.changes)} change(s), {len(self.warnings)} warning(s)."]
        for c in self.changes:
            lines.append(f"  ~ {c.path}: {_show(c.old)} -> {_show(c.new)}  ({c.reason})")
        for w in self.warnings:
            lines.append(f"  ! {w}")
        return "\n".join(lines)

    def save(self, path: str | Path, format: Optional[str] = None) -> Path:
        """Write the migrated config (JSON or YAML, see :meth:`MemoryConfig.save`)."""
        return self.config.save(path, format=format)


class _Report:
    """Collects changes and warnings while the blocks are mapped."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.warnings: list[str] = []
        self.unexplained: list[str] = []

    def change(self, path: str, old: Any, new: Any, reason: str) -> None:
        key = path.split(" -> ")[0].rsplit(".", 1)[-1]
        self.changes.append(Change(path, redact(old, key), redact(new, key), reason))

    def removed(self, path: str, old: Any, reason: Optional[str] = None) -> None:
        """A key with no memlab equivalent: reported as a change; unexplained ones also in a warning."""
        if reason is None:
            self.unexplained.append(path)
            reason = "unknown key: not a setting of mem0 or memlab here; removed"
        self.change(path, old, None, reason)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


# ----------------------------------------------------------------------------- helpers
def _is_secret(key: str) -> bool:
    key = key.lower()
    return any(marker in key for marker in T.SECRET_MARKERS)


def redact(value: Any, key: str = "") -> Any:
    """A JSON-able copy of ``value`` with secret-looking settings masked as ``"***"``."""
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key) for v in value]
    if key and _is_secret(key) and isinstance(value, str) and value and not value.startswith("env:"):
        return "***"
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return f"<{type(value).__name__} object>"  # e.g. a client instance in a mem0 config


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=repr) + "\n"


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    text = json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


_THRESHOLD_KEYS = ("threshold", "search_threshold", "score_threshold", "similarity_threshold")
_THRESHOLD_REASON = "a search threshold is an argument of search(), not a config setting; tuned on the cosine"
_FILE_SUFFIXES = (".json", ".yaml", ".yml", ".db", ".sqlite", ".sqlite3")


def load_config_source(old: Any) -> dict:
    """Read ``old`` (dict, MemoryConfig, JSON/YAML text, bytes, a file path or an OpenMemory .db) into a dict."""
    if isinstance(old, MemoryConfig):
        return old.to_dict()
    if isinstance(old, bytes):
        try:
            old = old.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("The config bytes are not UTF-8 text; give JSON or YAML.") from None
    if isinstance(old, os.PathLike):
        return _read_file(Path(old))
    if isinstance(old, str):
        text = old.strip()
        if not text:
            raise ConfigError("The config text is empty; give a JSON or YAML mapping or a file path.")
        single_line = "\n" not in text and text[0] not in "{["
        if single_line and (Path(text).suffix.lower() in _FILE_SUFFIXES or Path(text).is_file()):
            return _read_file(Path(text))
        old = parse_text(text)
    if not isinstance(old, dict):
        raise ConfigError(
            f"A config must be a mapping (JSON object / YAML mapping), got {type(old).__name__}: {_show(old)}."
        )
    bad = [k for k in old if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"Config keys must be strings; got {bad[:3]!r}.")
    return copy.deepcopy(old)


def _read_file(path: Path) -> dict:
    if not path.exists():
        raise ConfigError(f"Config file {str(path)!r} does not exist.")
    if not path.is_file():
        raise ConfigError(f"{str(path)!r} is a directory, not a config file; "
                          "pass a .json/.yaml file or an OpenMemory .db.")
    if path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        return _read_openmemory_db(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {str(path)!r}: {exc}") from None
    if not text.strip():
        raise ConfigError(f"Config file {str(path)!r} is empty.")
    return load_config_source(parse_text(text, hint=path.suffix.lower()))


def _read_openmemory_db(path: Path) -> dict:
    """The ``main`` row of an OpenMemory database's ``configs`` table (opened read-only)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = dict(con.execute("SELECT key, value FROM configs").fetchall())
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise ConfigError(f"{str(path)!r} is not an OpenMemory database with a configs table: {exc}") from None
    if "main" not in rows:
        raise ConfigError(f"{str(path)!r} has no 'main' row in its configs table (found: {sorted(rows)}).")
    value = rows["main"]
    return load_config_source(value if isinstance(value, dict) else parse_config_text(str(value)))


def _unwrap_openmemory(data: dict, rep: _Report) -> dict:
    """OpenMemory's config.json: ``{"mem0": {...memory config...}, "openmemory": {...}}``."""
    if not (isinstance(data.get("mem0"), dict) and set(data) <= {"mem0", "openmemory"}):
        return data
    inner = dict(data["mem0"])
    rep.change("mem0 -> (top level)", "{...}", "{...}", "OpenMemory config.json: its mem0 section is the memory config")
    om = data.get("openmemory") or {}
    if not isinstance(om, dict):
        raise ConfigError(f"openmemory must be a mapping, got {type(om).__name__}.")
    for key, value in om.items():
        if key == "custom_instructions":
            if value is not None and inner.get("custom_instructions") is not None:
                rep.removed("openmemory.custom_instructions", value, "superseded by mem0.custom_instructions")
            elif value is not None:
                inner["custom_instructions"] = value
                rep.change("openmemory.custom_instructions -> custom_instructions", value, value,
                           "OpenMemory's extraction instructions")
        else:
            rep.removed(f"openmemory.{key}", value)
    return inner


# ----------------------------------------------------------------------------- orchestration
_PROMPTS = ("custom_fact_extraction_prompt", "custom_update_memory_prompt", "custom_instructions")


def migrate_config(old: Any, *, keep_version: bool = False) -> ConfigMigration:
    """Migrate a legacy or current config to a valid :class:`MemoryConfig`, with a full report.

    Args:
        old: a dict, a :class:`MemoryConfig`, JSON/YAML text, or a path to a JSON/YAML file.
        keep_version: keep ``version: "v1.0"`` (bare-list responses) instead of moving to the current
            ``"v1.1"``; the explicit opt-out for client code that still expects lists. Without it a
            v1.0 config becomes v1.1 and the report says which client code must change.

    Returns:
        A :class:`ConfigMigration` (``config``, ``changes``, ``warnings``, ``diff()``).

    Raises:
        ConfigError: the input cannot be read, or a value is invalid in a way no migration can
            fix (the message names the field and the allowed values).

    Example:
        >>> m = migrate_config({"embedder": "huggingface", "vector_store": "chroma", "llm": "ollama"})
        >>> m.config.embedder.provider, m.config.vector_store.provider, m.config.llm.provider
        ('minilm', 'faiss', 'openai')
    """
    source = load_config_source(old)
    rep = _Report()
    data = _unwrap_openmemory(copy.deepcopy(source), rep)
    out: dict[str, Any] = {}

    if not isinstance(keep_version, bool):
        raise ConfigError(f"keep_version must be True or False, got {keep_version!r}.")
    version = B.version(data, rep, keep_version)
    if version is not None:
        out["version"] = version

    embedder, dims = B.embedder(data.get("embedder"), rep)
    llm = B.llm(data.get("llm"), "llm", rep)
    vector_store = B.vector_store(data.get("vector_store"), rep)
    graph = O.graph_store(data.get("graph_store"), rep)
    reranker = O.reranker(data.get("reranker"), rep)
    for key, value in (("embedder", embedder), ("llm", llm), ("vector_store", vector_store),
                       ("graph_store", graph), ("reranker", reranker)):
        if value is not None:
            out[key] = value

    B.prompts(data, out, rep)
    if data.get("history_db_path") is not None:
        if not isinstance(data["history_db_path"], str):
            raise ConfigError(f"history_db_path must be a file path string, got {_show(data['history_db_path'])}.")
        out["history_db_path"] = data["history_db_path"]
        rep.warn("history_db_path is kept for mem0 compatibility, but memlab records history inside the store "
                 "(memlab.db); bring an old history.db over with `memlab import`.")

    handled = {"version", "api_version", "embedder", "llm", "vector_store", "graph_store", "reranker",
               "history_db_path", "custom_prompt", *_PROMPTS}
    for key, value in data.items():
        if key not in handled:
            rep.removed(key, value, _THRESHOLD_REASON if key in _THRESHOLD_KEYS else T.TOP_LEVEL_REASONS.get(key))
            if key in _THRESHOLD_KEYS:
                rep.warn(f"{key}={_show(value)} was a search threshold tuned on the old score (the cosine in memlab "
                         "before the calibrated score, or mem0's normalised sum): today's score is a calibrated "
                         "P(relevant) in [0, 1] and the old number does not carry over. Pass search(threshold=...) "
                         "with a value from `memlab eval` (its recommended threshold) or `memlab calibrate`.")

    legacy = bool(rep.changes)
    if legacy and "embedder" not in data:
        rep.warn("No embedder was given: mem0 defaulted to openai text-embedding-3-small, memlab uses its offline "
                 "all-MiniLM-L6-v2. Set embedder to openai to keep the model that embedded the old data.")
    if legacy and "llm" not in data:
        rep.warn("No llm was given: mem0 defaulted to openai gpt-4o-mini, memlab uses its offline 'rules' LLM.")
    _reconcile_dims(out, dims, legacy, rep)
    _store_path_notice(out, legacy, rep)
    if rep.unexplained:
        rep.warn("Removed keys memlab does not know (see changes): " + ", ".join(rep.unexplained) + ".")

    try:
        config = MemoryConfig.from_dict(out)
    except ConfigError as exc:
        raise ConfigError(f"Cannot migrate this config: {str(exc).removeprefix('Invalid memlab config: ')}") from None
    return ConfigMigration(config=config, changes=rep.changes, warnings=rep.warnings, source=source)


# ----------------------------------------------------------------------------- cross-block checks
def _reconcile_dims(out: dict, dims: tuple, legacy: bool, rep) -> None:
    """Make vector_store.embedding_model_dims agree with the embedder (mem0 assumed 1536 for every model)."""
    size, known, model = dims
    vs = out.get("vector_store")
    # a remote model of known size: write the size down even in a current config (no start-up probe needed)
    fill = legacy or bool(known and size and (out.get("embedder") or {}).get("provider") == "openai")
    if vs is None and fill and known and size and "embedder" in out:
        # a legacy config without a vector_store block: still write the model's size down, so an
        # import of the old vectors can check them against it
        vs = out["vector_store"] = {"provider": "faiss", "config": {}}
    if vs is None or vs["provider"] != "faiss":
        if not known and "embedder" in out:
            rep.warn(f"embedder: model {model!r} is not in memlab's table of known models; its vector size is "
                     "asked from the server once at start-up (memlab does not guess it).")
        return
    given = vs["config"].get("embedding_model_dims")
    if given is not None and (isinstance(given, bool) or not isinstance(given, int) or given < 1):
        raise ConfigError(f"vector_store.config.embedding_model_dims must be a positive integer, got {given!r}.")
    if legacy and "collection_name" not in vs["config"]:
        vs["config"]["collection_name"] = "mem0"
        rep.change("vector_store.config.collection_name", None, "mem0", "mem0's default collection name made explicit")
    if given is not None and known and given != size:
        vs["config"]["embedding_model_dims"] = size
        rep.change("vector_store.config.embedding_model_dims", given, size,
                   f"the embedder ({model}) produces {size}-d vectors"
                   + ("; 1536 is mem0's default whatever the model" if given == 1536 else ""))
        rep.warn(f"vector_store: embedding_model_dims {given} did not match the embedder ({size}-d); an old store "
                 "built with the wrong size must be re-embedded on import.")
    elif given is None and size and fill:
        vs["config"]["embedding_model_dims"] = size
        rep.change("vector_store.config.embedding_model_dims", None, size,
                   f"filled from the embedder ({model}{'' if known else ', as configured'}); "
                   "mem0 would have assumed 1536")
    if not known:
        expected = vs["config"].get("embedding_model_dims")
        rep.warn(f"embedder: model {model!r} is not in memlab's table of known models; its vector size is "
                 + (f"expected to be {expected} (checked at start-up)." if expected
                    else "asked from the server once at start-up."))


def _store_path_notice(out: dict, legacy: bool, rep) -> None:
    vs = out.get("vector_store") or {}
    path = (vs.get("config") or {}).get("path")
    if not path or not isinstance(path, str):
        return
    collection = vs["config"].get("collection_name", "mem0")
    has_mem0_files = any((Path(path) / f"{collection}{ext}").exists() for ext in (".faiss", ".pkl", ".json"))
    if legacy or has_mem0_files:
        rep.warn(f"vector_store.config.path {path!r}: memlab keeps its own store (memlab.db) there and does not "
                 "read mem0's FAISS files; bring old memories over with `memlab import`.")


__all__ = ["Change", "ConfigMigration", "migrate_config", "load_config_source", "redact"]
