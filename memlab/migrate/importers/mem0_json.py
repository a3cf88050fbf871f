"""Import mem0 ``get_all()`` output or a mem0 platform export (JSON).

Accepted shapes: a list of items, ``{"results": [...]}`` (mem0 v1.1 ``get_all``) or
``{"memories": [...]}`` (platform ``get_memory_export``). Items use ``memory`` (or
``content``/``text``), ``id``, ``hash``, ``metadata``, scope fields, ``actor_id``, ``role``,
``created_at``/``updated_at`` and optionally ``categories``, ``state`` (memlab/OpenMemory items)
and ``expiration_date`` (mem0 >= 2.0.10); other top-level keys are kept in metadata and reported.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Optional

from memlab.enums import MEMORY_TYPES, SCOPE_FIELDS
from memlab.errors import MigrationError, ValidationError
from memlab.migrate.importers.base import ImportBatch, Importer, ImportOption, run_import
from memlab.migrate.importers.report import ImportReport
from memlab.migrate.importers.write import checked_identity
from memlab.validation import RESERVED_METADATA, check_expiration_date

KNOWN = {"id", "memory", "content", "text", "data", "hash", "metadata", "user_id", "agent_id", "run_id",
         "actor_id", "role", "created_at", "updated_at", "categories", "score", "event", "previous_memory",
         "state", "expiration_date"}
STATES = ("active", "paused", "archived", "deleted")


def _items(data: Any, where: str) -> list:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("results", "memories"):
            if isinstance(data.get(key), list):
                return data[key]
    raise MigrationError(f"{where}: expected a list of memories, {{'results': [...]}} or {{'memories': [...]}}.")


class Mem0JsonImporter(Importer):
    """mem0 ``get_all()`` output or a mem0 platform export (a JSON file, or the parsed object)."""

    name = "mem0-json"
    kind = "mem0 JSON"
    source_help = "get_all/platform export"
    options = (ImportOption("user_id", "scope for items without one"),)

    def read(self, source: Any, into: Any, *, user_id: Optional[str] = None) -> ImportBatch:
        where, data = _load(source)
        return _read_items(data, where, user_id)


def import_mem0_json(source: Any, into: Any, *, on_conflict: str = "error", user_id: Optional[str] = None) -> ImportReport:
    """Import mem0 ``get_all`` / platform-export JSON (a path or the parsed object) into ``into``.

    Args:
        user_id: scope for items that carry none (platform exports made per user often omit it).
    """
    return run_import(Mem0JsonImporter(), source, into, on_conflict=on_conflict, user_id=user_id)


def _load(source: Any) -> tuple[str, Any]:
    where = "mem0 JSON"
    if isinstance(source, (str, Path)):
        where = str(source)
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MigrationError(f"{source} does not exist.") from None
        except IsADirectoryError:
            raise MigrationError(
                f"{source} is a directory; pass the mem0 JSON file (get_all output or export).") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MigrationError(f"{source} is not valid JSON ({exc}); it may be truncated.") from None
    else:
        data = source
    return where, data


def _read_items(data: Any, where: str, user_id: Optional[str]) -> ImportBatch:
    report = ImportReport(source=where, kind="mem0 JSON")
    records, seen, extra = [], set(), set()
    for n, item in enumerate(_items(data, where)):
        if not isinstance(item, dict):
            report.skip(None, f"item {n} is not an object")
            continue
        text = next((item[k] for k in ("memory", "content", "text", "data") if isinstance(item.get(k), str)), None)
        memory_id = str(item.get("id") or uuid.uuid4())
        if not text or not text.strip():
            report.skip(memory_id, f"item {n} has no text")
            continue
        if memory_id in seen:
            report.skip(memory_id, f"item {n} repeats id {memory_id}")
            continue
        rec = {"id": memory_id, "memory": text, "hash": item.get("hash"), "created_at": item.get("created_at"),
               "updated_at": item.get("updated_at"), "role": item.get("role")}
        try:
            rec.update(checked_identity(memory_id, item))
        except ValidationError as exc:
            report.skip(memory_id, f"item {n}: {exc}")
            continue
        if not any(rec.get(k) for k in SCOPE_FIELDS):
            if user_id is None:
                report.skip(memory_id, f"item {n} has no user_id/agent_id/run_id (pass user_id= to assign one)")
                continue
            rec["user_id"] = user_id
            report.repair(memory_id, "scope_assigned", f"no scope in the export; user_id={user_id!r} assigned")
        meta = dict(item.get("metadata") or {}) if isinstance(item.get("metadata"), dict) else {}
        if meta.get("memory_type") in MEMORY_TYPES:
            rec["memory_type"] = meta.pop("memory_type")
        elif "memory_type" in meta:  # not one of memlab's types: keep it, under a non-reserved name
            meta["mem0_memory_type"] = meta.pop("memory_type")
            report.repair(memory_id, "metadata_key_renamed", "metadata key 'memory_type' kept as 'mem0_memory_type'")
        for key, value in item.items():
            if key in KNOWN or value is None:
                continue
            name = f"mem0_{key}" if key in RESERVED_METADATA else key
            meta.setdefault(name, value)
            extra.add(key)
        for key in [k for k in meta if k in RESERVED_METADATA]:
            meta[f"mem0_{key}"] = meta.pop(key)
            report.repair(memory_id, "metadata_key_renamed", f"metadata key {key!r} is reserved; kept as 'mem0_{key}'")
        rec["metadata"] = meta
        if item.get("state") is not None:
            if item["state"] in STATES:
                rec["state"] = item["state"]
            else:
                meta["mem0_state"] = item["state"]
                report.repair(memory_id, "state_unknown", f"state {item['state']!r} is not one of {STATES}; "
                              "imported as active, the value kept as metadata 'mem0_state'")
        if item.get("expiration_date") is not None:
            try:
                rec["expiration_date"] = check_expiration_date(item["expiration_date"])
            except ValidationError as exc:
                meta["mem0_expiration_date"] = item["expiration_date"]
                report.repair(memory_id, "expiration_date_unreadable", f"{exc} Kept as metadata 'mem0_expiration_date'")
        cats = item.get("categories")
        if isinstance(cats, list):
            rec["categories"] = [str(c) for c in cats if c]
        seen.add(memory_id)
        records.append(rec)
    if extra:
        report.warnings.append(f"extra item fields kept in metadata: {', '.join(sorted(extra))}")
    if records:
        report.warnings.append("mem0 JSON carries no history: each memory gets one ADD history row")
    report.vectors_embedded = len(records)
    return ImportBatch(report, records)
