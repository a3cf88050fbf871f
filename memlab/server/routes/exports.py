"""Memory exports: ``POST /v1/exports/`` creates one, ``POST /v1/exports/get/`` reads it back.

An export is computed at once (memlab needs no LLM for it) and kept as a JSON file in the
project's ``exports/`` folder, so any worker can answer the ``get``.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter

from memlab.errors import NotFoundError, ValidationError
from memlab.server.deps import TenantDep
from memlab.server.exporting import (
    build_sections,
    fill_json_schema,
    is_json_schema,
    parse_schema,
)
from memlab.server.routes.entities import entity_table
from memlab.server.schemas import NOT_FOUND, ExportGetRequest, ExportRequest
from memlab.server.shaping import merged_filters, refuse_unsupported
from memlab.store.scoping import is_scoped
from memlab.validation import MAX_LIMIT

router = APIRouter(tags=["exports"])
_EXPORT_ID = r"^[0-9a-f-]{36}$"


def _memories(tenant, filters: dict) -> list[dict]:
    if not filters:
        return tenant.all_memories()
    if not is_scoped(filters):  # section filters without a scope: the whole project (its own store) on purpose
        return tenant.memory.get_all(filters=filters, all_scopes=True, limit=MAX_LIMIT)["results"]
    return tenant.memory.get_all(filters=filters, limit=MAX_LIMIT)["results"]


@router.post("/v1/exports/", summary="Create a memory export with a schema (create_memory_export)")
def create_export(body: ExportRequest, tenant: Any = TenantDep):
    refuse_unsupported(body)
    schema = parse_schema(body.schema_)
    scope = merged_filters(body)
    if is_json_schema(schema):
        data = fill_json_schema(schema, _memories(tenant, scope))
    else:
        entities = entity_table(tenant)
        if scope:  # the request's scope narrows the entity sections too
            entities = [e for e in entities if scope.get(f"{e['type']}_id", e["name"]) == e["name"]]
        data = build_sections(schema, lambda extra: _memories(tenant, _and(scope, extra)), entities)
    export_id = str(uuid.uuid4())
    record = {"id": export_id, "status": "completed", "filters": scope,
              "created_at": datetime.now(timezone.utc).isoformat(), "data": data}
    _write(tenant.exports_dir, export_id, record)
    return {"message": "Memory export request received. The export will be ready in a few seconds.",
            "id": export_id, "status": "completed"}


def _and(a: dict, b: dict) -> dict:
    if not a or not b:
        return a or b
    return {"AND": [a, b]}


def _write(folder, export_id: str, record: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".export.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh, default=str)
    os.replace(tmp, folder / f"{export_id}.json")


@router.post("/v1/exports/get/", summary="Read an export back (get_memory_export)", responses=NOT_FOUND)
def get_export(body: ExportGetRequest, tenant: Any = TenantDep):
    refuse_unsupported(body)
    folder = tenant.exports_dir
    if body.memory_export_id is not None:
        import re

        if not re.match(_EXPORT_ID, body.memory_export_id):
            raise ValidationError("memory_export_id must be the id create_memory_export returned.")
        path = folder / f"{body.memory_export_id}.json"
        if not path.exists():
            raise NotFoundError(f"No export with id {body.memory_export_id}.")
        return json.loads(path.read_text(encoding="utf-8"))["data"]
    wanted = merged_filters(body)
    candidates = []
    for path in folder.glob("*.json") if folder.exists() else []:
        record = json.loads(path.read_text(encoding="utf-8"))
        if all(record["filters"].get(k) == v for k, v in wanted.items()):
            candidates.append(record)
    if not candidates:
        raise NotFoundError("No export matches these filters; create one with create_memory_export first.")
    return max(candidates, key=lambda r: r["created_at"])["data"]
