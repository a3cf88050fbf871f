"""Portable records -> store rows: the validation of ``Memory.add_records`` (memlab's import path)."""

from __future__ import annotations

import uuid
from typing import Any, Optional

import numpy as np

from memlab.enums import SCOPE_FIELDS, MemoryState, MemoryType
from memlab.errors import ValidationError
from memlab.store.rows import text_hash
from memlab.validation import (
    MISSING_SCOPE,
    check_categories,
    check_expiration_date,
    check_id,
    check_memory_id,
    check_metadata,
    check_text,
    check_timestamp,
)

MEMORY_TYPES = tuple(t.value for t in MemoryType)
STATES = {s.value for s in MemoryState}


def row_from_record(i: int, rec: Any, now: str, dims: int) -> tuple[dict, Optional[np.ndarray]]:
    """Validate ``records[i]`` and build its row; the vector is returned when it is usable as is.

    A given vector is kept only if it has the store's dimension, is finite and non-zero (it is
    re-normalised unless already unit length); otherwise None, and the caller embeds the text.

    Raises:
        ValidationError: what is wrong with the record, naming its index.
    """
    if not isinstance(rec, dict):
        raise ValidationError(f"records[{i}] must be a dict, got {type(rec).__name__}.")
    text = check_text(f"records[{i}]['memory']", rec.get("memory"))
    scope = {k: check_id(f"records[{i}]['{k}']", rec.get(k)) for k in SCOPE_FIELDS}
    if not any(scope.values()) and rec.get("state") != MemoryState.DELETED.value:
        raise ValidationError(f"records[{i}]: {MISSING_SCOPE}")
    memory_id = rec.get("id") or str(uuid.uuid4())
    check_memory_id(memory_id)
    state = rec.get("state") or MemoryState.ACTIVE.value
    if state not in STATES:
        raise ValidationError(f"records[{i}]: state must be one of active, paused, archived, deleted.")
    memory_type = rec.get("memory_type")
    if memory_type is not None and memory_type not in MEMORY_TYPES:
        raise ValidationError(f"records[{i}]: invalid memory_type {memory_type!r}.")
    row = {
        "id": memory_id, "memory": text, "hash": rec.get("hash") or text_hash(text),
        "metadata": check_metadata(rec.get("metadata")), **scope,
        "actor_id": check_id(f"records[{i}]['actor_id']", rec.get("actor_id")),
        "role": rec.get("role"), "memory_type": memory_type, "state": state,
        "created_at": check_timestamp(f"records[{i}]['created_at']", rec.get("created_at")) or now,
        "updated_at": check_timestamp(f"records[{i}]['updated_at']", rec.get("updated_at")),
        "archived_at": check_timestamp(f"records[{i}]['archived_at']", rec.get("archived_at")),
        "deleted_at": check_timestamp(f"records[{i}]['deleted_at']", rec.get("deleted_at")),
        "expiration_date": check_expiration_date(rec.get("expiration_date"),
                                                 f"records[{i}]['expiration_date']"),
    }
    if rec.get("categories") is not None:
        row["categories"] = check_categories(f"records[{i}]['categories']", rec["categories"])
    vec = rec.get("vector")
    if vec is not None:
        vec = np.asarray(vec, dtype=np.float32).reshape(-1)
        if vec.shape != (dims,) or not np.isfinite(vec).all() or not np.linalg.norm(vec):
            vec = None
        elif abs(float(np.linalg.norm(vec)) - 1.0) > 1e-5:  # keep unit vectors bit-exact
            vec = vec / np.linalg.norm(vec)
    return row, vec
