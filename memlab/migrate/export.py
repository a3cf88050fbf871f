"""Export a memlab store to JSONL or parquet, with a field/filter schema.

The export is memlab's portable format: the first JSONL line (or the parquet schema metadata)
is a header naming the embedder, schema revision, fields, categories and configs (and, with a
graph store, the ``relations`` of the exported scopes); each record
carries a memory with its history and category names. With the default fields an export
imports back losslessly (``memlab.migrate.import_export``), hash-checked by ``verify``.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union


from memlab.errors import ValidationError
from memlab.store import filters as F
from memlab.store.faiss.schema import HEAD_REVISION

FORMAT_VERSION = 1
ROW_FIELDS = ("id", "memory", "hash", "metadata", "user_id", "agent_id", "run_id", "actor_id", "role",
              "memory_type", "state", "created_at", "updated_at", "archived_at", "deleted_at", "expiration_date",
              "context")
ALL_FIELDS = (*ROW_FIELDS, "categories", "history", "vector")
DEFAULT_FIELDS = ALL_FIELDS[:-1]
ALIASES = {"content": "memory", "text": "memory", "data": "memory"}
JSON_COLUMNS = ("metadata", "categories", "history")


def resolve_schema(schema: Any, filters: Optional[dict]) -> tuple[list[str], Optional[dict]]:
    """Fields and filters from ``schema`` (None, a field list, or the guide's ``{"memories": {...}}``)."""
    fields: Optional[Sequence[str]] = None
    if schema is None:
        pass
    elif isinstance(schema, (list, tuple)):
        fields = schema
    elif isinstance(schema, dict):
        block = schema.get("memories", schema)
        if not isinstance(block, dict):
            raise ValidationError("schema['memories'] must be a dict with 'fields' and/or 'filters'.")
        unknown = set(schema) - {"memories", "users", "fields", "filters"}
        if unknown:
            raise ValidationError(f"Unknown schema section(s) {sorted(unknown)}; use 'memories' (and 'users').")
        fields = block.get("fields")
        schema_filters = block.get("filters")
        if schema_filters is not None and filters is not None and schema_filters != filters:
            filters = {"AND": [schema_filters, filters]}
        elif schema_filters is not None:
            filters = schema_filters
    else:
        raise ValidationError(f"schema must be None, a list of fields or a dict, got {type(schema).__name__}.")
    if fields is None:
        return list(DEFAULT_FIELDS), filters
    out = []
    for f in fields:
        name = ALIASES.get(f, f)
        if name not in ALL_FIELDS:
            raise ValidationError(f"Unknown export field {f!r}; allowed: {', '.join(ALL_FIELDS)} (aliases: content, text).")
        if name not in out:
            out.append(name)
    if "id" not in out:
        out.insert(0, "id")
    return out, filters


def store_tables(memory: Any) -> dict:
    """The store's non-memory tables that travel with an export (categories, configs)."""
    return {"categories": memory.store.categories(), "configs": memory.store.configs()}


def iter_records(memory: Any, fields: Sequence[str] = DEFAULT_FIELDS, filters: Optional[dict] = None,
                 include_deleted: bool = True) -> Iterator[dict]:
    """Full records of a memlab ``Memory`` in insertion order, restricted to ``fields``."""
    store = memory.store
    rows = store.scan(F.parse(filters) if filters else None, include_inactive=True)
    if not include_deleted:
        rows = [(r, v) for r, v in rows if r.get("state") != "deleted"]
    ids = {r["id"] for r, _ in rows}
    hist = store.histories(ids) if "history" in fields else {}
    for row, vec in rows:
        rec = {}
        for f in fields:
            if f == "history":
                rec[f] = hist.get(row["id"], [])
            elif f == "categories":
                rec[f] = sorted(row.get("categories") or [])
            elif f == "vector":
                rec[f] = [float(x) for x in vec]
            elif f == "metadata":
                rec[f] = dict(row.get("metadata") or {})
            else:
                rec[f] = row.get(f)
        yield rec


def export(memory: Any, path: Union[str, Path], format: str = "jsonl", schema: Any = None,
           filters: Optional[dict] = None, *, include_deleted: bool = True) -> dict:
    """Write memories to ``path`` as JSONL or parquet; returns the header (with ``count``).

    Args:
        memory: a memlab ``Memory``.
        format: "jsonl" or "parquet".
        schema: None (every field but vectors), a list of fields (add "vector" to carry vectors),
            or the guide's ``{"memories": {"fields": [...], "filters": {...}}}``.
        filters: memlab/mem0 filter grammar (``{"user_id": "alice"}``, operators, AND/OR/NOT).
        include_deleted: also export deleted memories (default True: a full, lossless export).
    """
    if format not in ("jsonl", "parquet"):
        raise ValidationError(f"format must be 'jsonl' or 'parquet', got {format!r}.")
    fields, filters = resolve_schema(schema, filters)
    F.parse(filters) if filters else None  # fail on a bad filter before touching the file
    records = list(iter_records(memory, fields, filters, include_deleted))
    header = {
        "memlab_export": FORMAT_VERSION, "created_at": datetime.now(timezone.utc).isoformat(),
        "embedder": str(memory.embedder.name), "dims": int(memory.store.dims), "schema_revision": HEAD_REVISION,
        "fields": fields, "filters": filters, "count": len(records), **store_tables(memory),
    }
    if getattr(memory, "graph", None) is not None:  # graph memory: the relations of the exported scopes
        scopes = None if not filters else {tuple(r.get(k) or "" for k in ("user_id", "agent_id", "run_id"))
                                           for r in iter_records(memory, ["user_id", "agent_id", "run_id"],
                                                                 filters, include_deleted)}
        header["relations"] = memory.graph.export_relations(scopes)
    path = Path(path)
    if path.is_dir():
        raise ValidationError(f"Export target {str(path)!r} is a directory; pass a file path (.jsonl or .parquet).")
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh temp file in the target folder (O_EXCL: never follows a symlink planted at a fixed name).
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        if format == "jsonl":
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n")
                for rec in records:
                    fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            os.close(fd)
            _write_parquet(tmp, header, fields, records)
        tmp.replace(path)  # never leave a half-written export under the real name
    except BaseException:
        tmp.unlink(missing_ok=True)  # nor a stray .partial file next to it
        raise
    return header


def _write_parquet(path: Path, header: dict, fields: list, records: list) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {}
    for f in fields:
        values = [r.get(f) for r in records]
        if f in JSON_COLUMNS:
            cols[f] = pa.array([json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values], pa.string())
        elif f == "vector":
            cols[f] = pa.array(values, pa.list_(pa.float32()))
        else:
            cols[f] = pa.array(values, pa.string())
    table = pa.table(cols) if cols else pa.table({"id": pa.array([], pa.string())})
    table = table.replace_schema_metadata({"memlab_export": json.dumps(header, ensure_ascii=False)})
    pq.write_table(table, path)


def read_export(path: Union[str, Path]) -> tuple[dict, list[dict]]:
    """Read a memlab export (JSONL or parquet) back into (header, records)."""
    from memlab.errors import MigrationError

    path = Path(path)
    if not path.is_file():
        raise MigrationError(f"Export file {str(path)!r} does not exist.")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise MigrationError(f"{path} is not a readable parquet file ({exc}).") from None
        meta = (table.schema.metadata or {}).get(b"memlab_export")
        if meta is None:
            raise MigrationError(f"{path} has no memlab export header; it was not written by memlab.migrate.export.")
        header = json.loads(meta)
        records = table.to_pylist()
        for rec in records:
            for c in JSON_COLUMNS:
                if isinstance(rec.get(c), str):
                    rec[c] = json.loads(rec[c])
        return header, records
    lines = path.read_text(encoding="utf-8").splitlines()
    parsed = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise MigrationError(f"{path}: line {n} is not valid JSON ({exc.msg}); the file may be truncated.") from None
    header, records = (parsed[0], parsed[1:]) if parsed else ({}, [])
    if not isinstance(header, dict) or "memlab_export" not in header:
        raise MigrationError(f"{path} has no memlab export header line; it was not written by memlab.migrate.export.")
    if header.get("count") is not None and header["count"] != len(records):
        raise MigrationError(f"{path} declares {header['count']} records but holds {len(records)}; it is truncated.")
    return header, records
