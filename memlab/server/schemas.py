"""Request bodies of the served platform API (what mem0ai's MemoryClient sends).

Every model forbids unknown fields, so a typo is a 422 with the field's name instead of a
silently ignored option. Options the platform has and memlab cannot honour are accepted as
fields but refused with a 400 that says why (see :data:`UNSUPPORTED`), never ignored.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 100_000
Id = Field(None, min_length=1, max_length=256)

UNSUPPORTED = {
    "custom_categories": "set categories on the project instead: client.project.update(custom_categories=...)",
    "custom_instructions": "set instructions on the project instead: client.project.update(custom_instructions=...)",
    "agent_custom_instructions": "set them on the project: client.project.update(agent_custom_instructions=...)",
    "timestamp": "an update keeps the memory's created_at and records the time of the call (add() takes a timestamp)",
    "expiration_date": "memlab serve does not expire memories yet",
    "structured_data_schema": "memlab serve does not extract structured data",
    "includes": "memlab serve has no include/exclude extraction filters",
    "excludes": "memlab serve has no include/exclude extraction filters",
    "categories": "memlab serve cannot filter by category yet; filter on metadata instead",
    "start_date": "use filters={'created_at': {'gte': ...}} instead",
    "end_date": "use filters={'created_at': {'lte': ...}} instead",
    "reference_date": "memlab serve has no relative-time search",
    "app_id": "memlab scopes memories by user_id, agent_id and run_id (no app_id)",
}


class ErrorBody(BaseModel):
    """Every error answer, in mem0's (Django REST framework's) shape."""

    detail: str


def _error(why: str) -> dict:
    return {"model": ErrorBody, "description": why}


# documented on every route (the app adds them); the fuzz test holds every answer to its route's list
COMMON_ERRORS = {
    400: _error("Invalid input or invalid JSON: the detail says what was wrong and how to fix it"),
    401: _error("Missing, malformed, unknown or revoked API key"),
    413: _error("Request body larger than the server's limit"),
    422: _error("The request does not match this endpoint's schema (the detail names the field)"),
    502: _error("The embedding or LLM provider failed"),
    503: _error("The store is busy or unavailable; retry after Retry-After seconds"),
}
# only on routes that name a memory, entity, export or project
NOT_FOUND = {404: _error("Not found in this key's project (another project's ids look the same)")}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    HONOURED: ClassVar[frozenset] = frozenset()  # UNSUPPORTED names this request does honour

    def unsupported(self) -> list[tuple[str, str]]:
        """(field, why) of every unsupported option this request sets."""
        return [(name, why) for name, why in UNSUPPORTED.items()
                if name in type(self).model_fields and name not in self.HONOURED
                and getattr(self, name) not in (None, False)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field(..., max_length=MAX_TEXT)
    name: Optional[str] = Field(None, min_length=1, max_length=256)


class _Scoped(_Body):
    user_id: Optional[str] = Id
    agent_id: Optional[str] = Id
    run_id: Optional[str] = Id
    app_id: Optional[str] = Id
    filters: Optional[dict[str, Any]] = None
    org_id: Optional[str] = Field(None, max_length=64)
    project_id: Optional[str] = Field(None, max_length=64)
    version: Optional[Literal["v1", "v2", "v3", "v1.0", "v1.1"]] = None
    output_format: Optional[Literal["v1.0", "v1.1"]] = None


class AddRequest(_Scoped):
    HONOURED: ClassVar[frozenset] = frozenset({"timestamp"})  # Unix seconds -> the memories' created_at
    messages: list[Message] = Field(..., min_length=1, max_length=1000)
    metadata: Optional[dict[str, Any]] = None
    infer: bool = True
    memory_type: Optional[str] = Field(None, max_length=64)
    prompt: Optional[str] = Field(None, max_length=MAX_TEXT)
    async_mode: Optional[bool] = Field(None, description="Accepted; memlab always answers after the write is durable.")
    enable_graph: Optional[bool] = Field(None, description="Accepted; the project's enable_graph setting decides.")
    custom_categories: Optional[Any] = None
    custom_instructions: Optional[Any] = None
    agent_custom_instructions: Optional[Any] = None
    timestamp: Optional[Any] = None
    expiration_date: Optional[Any] = None
    structured_data_schema: Optional[Any] = None
    includes: Optional[Any] = None
    excludes: Optional[Any] = None


class SearchRequest(_Scoped):
    query: str = Field(..., min_length=1, max_length=10_000)
    top_k: int = Field(10, ge=1, le=1000)
    limit: Optional[int] = Field(None, ge=1, le=1000, description="Older clients' name for top_k.")
    threshold: Optional[float] = Field(None, ge=-1, le=1)
    rerank: Optional[bool] = Field(None, description="Accepted; memlab serve does not rerank.")
    keyword_search: Optional[bool] = Field(None, description="True: hybrid (dense + BM25) search.")
    fields: Optional[list[str]] = Field(None, max_length=50)
    metadata: Optional[dict[str, Any]] = Field(None, description="Accepted (the client sends it); not used.")
    show_expired: Optional[bool] = None
    latest_only: Optional[bool] = Field(None, description="Accepted; memlab keeps only the latest version anyway.")
    enable_graph: Optional[bool] = None
    categories: Optional[Any] = None
    reference_date: Optional[Any] = None


class GetAllRequest(_Scoped):
    show_expired: Optional[bool] = None
    latest_only: Optional[bool] = None
    enable_graph: Optional[bool] = None
    fields: Optional[list[str]] = Field(None, max_length=50)
    categories: Optional[Any] = None
    start_date: Optional[Any] = None
    end_date: Optional[Any] = None
    metadata: Optional[dict[str, Any]] = None


class UpdateRequest(_Body):
    text: Optional[str] = Field(None, max_length=MAX_TEXT)
    metadata: Optional[dict[str, Any]] = None
    timestamp: Optional[Any] = None
    expiration_date: Optional[Any] = None


class BatchUpdateItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memory_id: str = Field(..., min_length=1, max_length=256)
    text: Optional[str] = Field(None, max_length=MAX_TEXT)
    metadata: Optional[dict[str, Any]] = None


class BatchUpdateRequest(_Body):
    memories: list[BatchUpdateItem] = Field(..., min_length=1, max_length=1000)


class BatchDeleteItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memory_id: str = Field(..., min_length=1, max_length=256)


class BatchDeleteRequest(_Body):
    memories: list[BatchDeleteItem] = Field(..., min_length=1, max_length=1000)


class ExportRequest(_Scoped):
    schema_: Union[str, dict[str, Any]] = Field(..., alias="schema")
    export_instructions: Optional[str] = Field(None, max_length=MAX_TEXT)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ExportGetRequest(_Scoped):
    memory_export_id: Optional[str] = Field(None, min_length=1, max_length=64)


class SummaryRequest(_Scoped):
    pass


class FeedbackRequest(_Body):
    memory_id: str = Field(..., min_length=1, max_length=256)
    feedback: Optional[Literal["POSITIVE", "NEGATIVE", "VERY_NEGATIVE"]] = None
    feedback_reason: Optional[str] = Field(None, max_length=10_000)


class ProjectUpdateRequest(_Body):
    """PATCH body of the project endpoint (the client also sends org_id/project_id)."""

    org_id: Optional[str] = Field(None, max_length=64)
    project_id: Optional[str] = Field(None, max_length=64)
    name: Optional[str] = None
    description: Optional[str] = None
    custom_instructions: Optional[str] = None
    agent_custom_instructions: Optional[str] = None
    custom_categories: Optional[list[Union[str, dict[str, str]]]] = None
    enable_graph: Optional[bool] = None
    version: Optional[Literal["v1.0", "v1.1"]] = None
    retrieval_criteria: Optional[list[dict[str, Any]]] = None
    multilingual: Optional[bool] = None
    decay: Optional[bool] = None
    memory_depth: Optional[str] = None
    usecase_setting: Optional[Any] = None

    def unsupported(self) -> list[tuple[str, str]]:  # every field here is a project setting
        return []
