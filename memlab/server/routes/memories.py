"""Memories: add, get_all (paginated), search, get / update / delete one, delete_all, history."""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Query, Request

from memlab.errors import NotFoundError, ValidationError
from memlab.server.deps import TenantDep
from memlab.server.routes import MemoryIdPath
from memlab.server.schemas import NOT_FOUND, AddRequest, GetAllRequest, SearchRequest, UpdateRequest
from memlab.server.shaping import (add_scope, page, project_fields, read_filters, refuse_unsupported,
                                   versioned)
from memlab.server.tenancy import Tenant
from memlab.validation import MAX_LIMIT

router = APIRouter(tags=["memories"])


def _found(tenant: Tenant, memory_id: str) -> dict:
    item = tenant.memory.get(memory_id)
    if item is None:
        raise NotFoundError(f"Memory with id {memory_id} not found.")
    return item


@router.post("/v3/memories/add/", summary="Add memories (MemoryClient.add)")
@router.post("/v1/memories/", summary="Add memories (older clients)", include_in_schema=False)
def add(body: AddRequest, tenant: Any = TenantDep):
    refuse_unsupported(body)
    scope = add_scope(body)
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    result = tenant.memory.add(messages, **scope, metadata=body.metadata, infer=body.infer,
                               memory_type=body.memory_type, prompt=body.prompt, timestamp=body.timestamp)
    return versioned(result, tenant.settings.version)


@router.post("/v3/memories/", summary="All memories of a scope, paginated (MemoryClient.get_all)")
def get_all(body: GetAllRequest, request: Request, tenant: Any = TenantDep,
            page_no: int = Query(1, alias="page", ge=1, le=1_000_000),
            page_size: int = Query(100, ge=1, le=1000)):
    refuse_unsupported(body)
    result = tenant.memory.get_all(filters=read_filters(body), limit=MAX_LIMIT)
    items = project_fields(result["results"], body.fields)
    if tenant.settings.version == "v1.0":
        return items[(page_no - 1) * page_size: page_no * page_size]
    out = page(items, request.url, page_no, page_size)
    if "relations" in result:
        out["relations"] = result["relations"]
    return out


@router.post("/v3/memories/search/", summary="Search memories (MemoryClient.search)")
def search(body: SearchRequest, tenant: Any = TenantDep):
    refuse_unsupported(body)
    settings = tenant.settings
    top_k = body.limit if body.limit is not None and "top_k" not in body.model_fields_set else body.top_k
    mode = "hybrid" if body.keyword_search else settings.default_mode()
    threshold = body.threshold if body.threshold is not None else settings.default_threshold()
    result = tenant.memory.search(body.query, filters=read_filters(body), limit=top_k, threshold=threshold,
                                  mode=mode)
    result["results"] = project_fields(result["results"], body.fields)
    return versioned(result, settings.version)


@router.get("/v1/memories/{memory_id}/", summary="One memory (MemoryClient.get)", responses=NOT_FOUND)
def get_one(memory_id: str = MemoryIdPath, tenant: Any = TenantDep):
    return _found(tenant, memory_id)


@router.put("/v1/memories/{memory_id}/", summary="Change a memory's text and/or metadata (MemoryClient.update)",
            responses=NOT_FOUND)
def update(body: UpdateRequest, memory_id: str = MemoryIdPath, tenant: Any = TenantDep):
    refuse_unsupported(body)
    if body.text is None and body.metadata is None:
        raise ValidationError("update needs text and/or metadata.")
    _found(tenant, memory_id)
    tenant.memory.update(memory_id, text=body.text, metadata=body.metadata)
    return {"message": "Memory updated successfully!", **_found(tenant, memory_id)}


@router.delete("/v1/memories/{memory_id}/", summary="Delete one memory (MemoryClient.delete)",
               responses=NOT_FOUND)
def delete_one(memory_id: str = MemoryIdPath, tenant: Any = TenantDep,
               delete_linked: Optional[bool] = Query(None, description="Accepted; memlab keeps no linked chains.")):
    return tenant.memory.delete(memory_id)


@router.delete("/v1/memories/", summary="Delete every memory of a scope (MemoryClient.delete_all)")
def delete_all(tenant: Any = TenantDep,
               user_id: Optional[str] = Query(None, min_length=1, max_length=256),
               agent_id: Optional[str] = Query(None, min_length=1, max_length=256),
               run_id: Optional[str] = Query(None, min_length=1, max_length=256),
               app_id: Optional[str] = Query(None, min_length=1, max_length=256)):
    if app_id is not None:
        raise ValidationError("'app_id' is not supported by memlab serve: memlab scopes memories by user_id, "
                              "agent_id and run_id.")
    return tenant.memory.delete_all(user_id=user_id, agent_id=agent_id, run_id=run_id)


@router.get("/v1/memories/{memory_id}/history/", summary="Changes of one memory (MemoryClient.history)",
            responses=NOT_FOUND)
def history(memory_id: str = MemoryIdPath, tenant: Any = TenantDep):
    rows = tenant.memory.history(memory_id)
    if not rows:  # the library returns [] for an unknown id (as mem0's Memory); the platform answers 404
        raise NotFoundError(f"Memory with id {memory_id} not found.")
    return rows
