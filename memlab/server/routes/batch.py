"""Batch update and batch delete (at most 1,000 memories per call).

Every id is checked before anything is written, so a batch naming an unknown (or another
project's) id changes nothing and answers 404. The changes themselves are applied one memory
at a time, each in its own durable transaction.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from memlab.errors import NotFoundError, ValidationError
from memlab.server.deps import TenantDep
from memlab.server.schemas import NOT_FOUND, BatchDeleteRequest, BatchUpdateRequest
from memlab.validation import check_metadata, check_text

router = APIRouter(tags=["batch"])


def _check_ids(tenant, ids: list[str]) -> None:
    if len(set(ids)) != len(ids):
        raise ValidationError("A batch names the same memory_id more than once.")
    missing = [i for i in ids if tenant.memory.get(i) is None]
    if missing:
        raise NotFoundError(f"Memory not found: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}. "
                            "Nothing was changed.")


@router.put("/v1/batch/", summary="Update up to 1,000 memories (MemoryClient.batch_update)",
            responses=NOT_FOUND)
def batch_update(body: BatchUpdateRequest, tenant: Any = TenantDep):
    for i, m in enumerate(body.memories):
        if m.text is None and m.metadata is None:
            raise ValidationError(f"memories[{i}] needs text and/or metadata.")
        if m.text is not None:
            check_text(f"memories[{i}].text", m.text)
        if m.metadata is not None:
            check_metadata(m.metadata)
    _check_ids(tenant, [m.memory_id for m in body.memories])
    for m in body.memories:
        tenant.memory.update(m.memory_id, text=m.text, metadata=m.metadata)
    return {"message": f"Successfully updated {len(body.memories)} memories"}


@router.delete("/v1/batch/", summary="Delete up to 1,000 memories (MemoryClient.batch_delete)",
               responses=NOT_FOUND)
def batch_delete(body: BatchDeleteRequest, tenant: Any = TenantDep):
    _check_ids(tenant, [m.memory_id for m in body.memories])
    for m in body.memories:
        tenant.memory.delete(m.memory_id)
    return {"message": f"Successfully deleted {len(body.memories)} memories"}
