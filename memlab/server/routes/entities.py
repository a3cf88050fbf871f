"""Ping, entities (users / agents / runs), summary and feedback."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Path

from memlab.errors import NotFoundError, ValidationError
from memlab.server.deps import TenantDep
from memlab.server.schemas import NOT_FOUND, FeedbackRequest, SummaryRequest
from memlab.server.shaping import merged_filters, refuse_unsupported
from memlab.server.tenancy import Tenant
from memlab.validation import MAX_LIMIT

router = APIRouter(tags=["entities"])
ENTITY_TYPES = {"user": "user_id", "agent": "agent_id", "run": "run_id"}


def entity_table(tenant: Tenant) -> list[dict]:
    """One row per user / agent / run with active memories in the project."""
    df = tenant.memory.to_pandas()
    if len(df):
        df = df[df["state"] == "active"]
    out = []
    for kind, column in ENTITY_TYPES.items():
        if not len(df):
            break
        sub = df[df[column].notna()]
        for name, grp in sub.groupby(column, sort=True):
            out.append({
                "id": str(name), "name": str(name), "type": kind, "total_memories": int(len(grp)),
                "created_at": grp["created_at"].min().isoformat(), "updated_at": grp["updated_at"].max().isoformat(),
                "owner": tenant.org, "organization": tenant.org, "metadata": {},
            })
    return out


@router.get("/v1/ping/", summary="Check a key; tells the client its org and project")
def ping(tenant: Any = TenantDep):
    return {"status": "ok", "message": "pong", "org_id": tenant.org, "project_id": tenant.project,
            "user_email": None}


@router.get("/v1/entities/", summary="Users, agents and runs that have memories (MemoryClient.users)")
def entities(tenant: Any = TenantDep):
    rows = entity_table(tenant)
    return {"count": len(rows), "next": None, "previous": None, "results": rows}


@router.delete("/v2/entities/{entity_type}/{entity_id}/", summary="Delete an entity's memories (delete_users)",
               responses=NOT_FOUND)
def delete_entity(tenant: Any = TenantDep,
                  entity_type: str = Path(..., pattern=r"^(user|agent|run|app)$"),
                  entity_id: str = Path(..., min_length=1, max_length=256)):
    if entity_type == "app":
        raise ValidationError("'app' entities are not supported by memlab serve: memlab scopes memories by "
                              "user_id, agent_id and run_id.")
    column = ENTITY_TYPES[entity_type]
    if not tenant.memory.get_all(filters={column: entity_id}, limit=1)["results"]:
        raise NotFoundError(f"No {entity_type} named {entity_id!r} in this project.")
    tenant.memory.delete_all(**{column: entity_id})
    return {"message": "Entity deleted successfully!"}


@router.post("/v1/summary/", summary="Counts and dates of a project's (or a scope's) memories")
def summary(body: SummaryRequest, tenant: Any = TenantDep):
    refuse_unsupported(body)
    filters = merged_filters(body)
    items = tenant.memory.get_all(filters=filters, limit=MAX_LIMIT)["results"] if filters else tenant.all_memories()
    users = sorted({i["user_id"] for i in items if i.get("user_id")})
    agents = sorted({i["agent_id"] for i in items if i.get("agent_id")})
    runs = sorted({i["run_id"] for i in items if i.get("run_id")})
    created = sorted(i["created_at"] for i in items if i.get("created_at"))
    text = (f"{len(items)} memories for {len(users)} user(s), {len(agents)} agent(s) and {len(runs)} run(s)"
            if items else "No memories match.")
    return {"total_memories": len(items), "total_users": len(users), "total_agents": len(agents),
            "total_runs": len(runs), "first_created_at": created[0] if created else None,
            "last_created_at": created[-1] if created else None, "filters": filters or None, "summary": text}


@router.post("/v1/feedback/", summary="Feedback on one memory (MemoryClient.feedback)", responses=NOT_FOUND)
def feedback(body: FeedbackRequest, tenant: Any = TenantDep):
    if tenant.memory.get(body.memory_id) is None:
        raise NotFoundError(f"Memory with id {body.memory_id} not found.")
    record = {"id": str(uuid.uuid4()), "memory_id": body.memory_id, "feedback": body.feedback,
              "feedback_reason": body.feedback_reason, "created_at": datetime.now(timezone.utc).isoformat()}
    line = (json.dumps(record) + "\n").encode("utf-8")
    # one O_APPEND write per record: lines from several workers never interleave
    fd = os.open(tenant.dir / "feedback.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return record
