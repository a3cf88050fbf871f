"""Portable records -> store rows: the validation of ``Memory.add_records`` (memlab's import path)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from memlab.enums import MEMORY_TYPES, SCOPE_FIELDS, MemoryState
from memlab.errors import ValidationError
from memlab.progress import report_progress
from memlab.ranking.context import build_contexts
from memlab.store.rows import apply_adds, existing_ids, item_of, new_id, new_row, text_hash
from memlab.store.faiss.sqlite import now_iso
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
    memory_id = rec.get("id") or new_id()
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
        "context": (check_text(f"records[{i}]['context']", rec["context"])
                    if rec.get("context") is not None else None),
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


def insert_records(store: Any, embed: Callable[[Sequence[str]], np.ndarray], records: Sequence[dict], *,
                   batch_size: int = 512, history: bool = True, on_conflict: str = "error",
                   in_transaction: Any = None, category_catalog: Optional[Sequence[dict]] = None) -> list[str]:
    """Validate, embed (in batches: texts without a usable vector, and context windows) and write
    ``records`` in ONE transaction; see ``Memory.add_records`` for the record format. Returns the ids
    written, in input order."""
    if on_conflict not in ("error", "skip", "replace"):
        raise ValidationError("on_conflict must be 'error', 'skip' or 'replace'.")
    rows, vectors, todo = [], [], []
    seen: set[str] = set()
    now = now_iso()
    for i, rec in enumerate(records):
        row, vec = row_from_record(i, rec, now, store.dims)
        if row["id"] in seen:
            raise ValidationError(f"records[{i}]: id {row['id']} appears twice in this batch.")
        seen.add(row["id"])
        if vec is None:
            todo.append(len(rows))
        rows.append(row)
        vectors.append(vec)
    with_ctx = [j for j, r in enumerate(rows) if r.get("context")]
    report_progress(len(rows) - len(todo), total=len(rows) + len(with_ctx))  # reused vectors: done already
    for start in range(0, len(todo), batch_size):
        chunk = todo[start:start + batch_size]
        embedded = embed([rows[j]["memory"] for j in chunk])
        for j, v in zip(chunk, embedded):
            vectors[j] = v
        report_progress(len(chunk))
    # context windows (exports carry the text, not its vector): embedded like the texts
    for start in range(0, len(with_ctx), batch_size):
        chunk = with_ctx[start:start + batch_size]
        for j, v in zip(chunk, embed([rows[j]["context"] for j in chunk])):
            rows[j]["context_vector"] = v
        report_progress(len(chunk))
    written: list[str] = []
    with store.transaction() as tx:
        tx.category_catalog = {c["name"]: c for c in category_catalog or () if isinstance(c, dict) and c.get("name")}
        found = existing_ids(tx, [r["id"] for r in rows])
        new: list[tuple[dict, Any]] = []  # consecutive new rows, written together (PostgreSQL: one COPY)
        for row, vec in zip(rows, vectors):
            if row["id"] not in found:
                new.append((row, vec))
            elif on_conflict == "error":
                raise ValidationError(
                    f"A memory with id {row['id']} already exists; pass on_conflict='skip' or 'replace'."
                )
            elif on_conflict == "skip":
                continue
            else:  # replace, in input order: rows before it are written first
                apply_adds(tx, new, history=history)
                new = []
                tx.put_row(row, vec)
                if history:
                    tx.add_history(row["id"], None, row["memory"], "ADD", created_at=row["created_at"],
                                   updated_at=row["updated_at"], actor_id=row["actor_id"], role=row["role"])
            written.append(row["id"])
        apply_adds(tx, new, history=history)
        if in_transaction is not None:
            in_transaction(tx, written)
    return written


def insert_messages(store: Any, embed: Callable[[Sequence[str]], np.ndarray], msgs: list[dict], scope: dict,
                    metadata: dict, *, memory_type: Optional[str] = None, expiration_date: Optional[str] = None,
                    context_window: int = 2, timestamp: Optional[str] = None) -> list[dict]:
    """``add(infer=False)``: one memory per non-system message, in one transaction; the ADD items.
    ``timestamp`` (ISO) replaces now as the rows' created_at / updated_at.

    The messages of one call form a conversation: each memory is also indexed with its neighbours
    (``context_window`` messages before and after; see memlab.ranking.context).
    """
    kept = [m for m in msgs if m["role"] != "system" and m["content"].strip()]
    if not kept:
        return []
    contexts = build_contexts(kept, context_window)
    windows = list(dict.fromkeys(c for c in contexts if c is not None))  # short calls repeat windows
    embedded = embed([m["content"] for m in kept] + windows)  # one call for texts and windows
    vectors = embedded[: len(kept)]
    by_window = dict(zip(windows, embedded[len(kept):]))
    now = timestamp or now_iso()
    rows = [new_row(msg["content"], scope, metadata, now=now, actor_id=msg.get("name"), role=msg["role"],
                    memory_type=memory_type, expiration_date=expiration_date, context=context,
                    context_vector=by_window.get(context) if context is not None else None)
            for msg, context in zip(kept, contexts)]
    with store.transaction() as tx:
        apply_adds(tx, list(zip(rows, vectors)))
    return [{**item_of(r), "event": "ADD"} for r in rows]
