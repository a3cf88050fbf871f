"""Row operations shared by every writer above the store: new rows, the item shape, ADD/UPDATE/DELETE.

``Memory`` (add, update, delete), the ``infer=True`` pipeline and procedural memory all build and
change rows through these functions, inside one store transaction each, so a memory written by any
path has the same fields and the same history.
"""

from __future__ import annotations

import copy
import hashlib
import os
import time
import uuid
from typing import Any, Optional

import numpy as np

from memlab.enums import MemoryState

# Item fields present only when set (mem0 leaves them out rather than returning None).
OPTIONAL_FIELDS = ("user_id", "agent_id", "run_id", "actor_id", "role", "expiration_date")
_SCALARS = (str, int, float, bool, type(None))


def text_hash(text: str) -> str:
    """mem0's content hash: md5 of the UTF-8 text."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def new_id() -> str:
    """A new memory or history id: a UUID version 7 (RFC 9562), 48 bits of Unix time in milliseconds then
    74 random bits. Later writes sort after earlier ones, so SQLite's indexes on ids grow at their end
    instead of touching a random page per insert (single adds stay flat as a store grows). Still a UUID
    string, as mem0's ids are (mem0 draws version 4)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = ((ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62
             | rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def new_row(text: str, scope: dict, metadata: dict, *, now: str, actor_id: Optional[str] = None,
            role: Optional[str] = None, memory_type: Optional[str] = None,
            expiration_date: Optional[str] = None, context: Optional[str] = None,
            context_vector: Optional[np.ndarray] = None) -> dict:
    """A new active memory row with a fresh UUID (not yet written); ``context`` is its conversational
    context window (indexed, never returned as the memory's text)."""
    return {
        "id": new_id(), "memory": text, "hash": text_hash(text), "metadata": dict(metadata), **scope,
        "actor_id": actor_id, "role": role, "memory_type": memory_type, "state": MemoryState.ACTIVE.value,
        "created_at": now, "updated_at": now, "expiration_date": expiration_date,
        "context": context, "context_vector": context_vector,
    }


def apply_add(tx: Any, row: dict, vector: np.ndarray) -> None:
    """Write a new row and its ADD history entry."""
    tx.put_row(row, vector)
    tx.add_history(row["id"], None, row["memory"], "ADD", created_at=row["created_at"], updated_at=row["updated_at"],
                   actor_id=row.get("actor_id"), role=row.get("role"))


def existing_ids(tx: Any, ids: list[str]) -> set[str]:
    """Which of ``ids`` the store holds (an engine may answer in one statement: ``tx.existing_ids``)."""
    bulk = getattr(tx, "existing_ids", None)
    return bulk(ids) if bulk is not None else {i for i in ids if tx.get_row(i) is not None}


def apply_adds(tx: Any, pairs: list[tuple[dict, np.ndarray]], *, history: bool = True) -> None:
    """:func:`apply_add` (``history=False``: the row only) for many new rows, in order; an engine with a
    bulk path (``tx.add_rows``: PostgreSQL's COPY) writes them in one go, with the same rows and history."""
    bulk = getattr(tx, "add_rows", None)
    if bulk is not None:
        bulk(pairs, history=history)
        return
    for row, vector in pairs:
        if history:
            apply_add(tx, row, vector)
        else:
            tx.put_row(row, vector)


def apply_update(tx: Any, current: dict, new_text: Optional[str], new_meta: Optional[dict],
                 vector: Optional[np.ndarray], now: str) -> dict:
    """Change ``current`` (a row read in ``tx``): new text (with its ``vector``), merged metadata.

    The caller embeds the new text before the transaction: no model runs while the write lock is held.
    """
    vec = current.pop("vector")
    current.pop("vid", None)
    old_text = current["memory"]
    if new_text is not None and new_text != old_text:
        if vector is None:
            raise ValueError("apply_update needs the new text's vector (embed before the transaction).")
        current["memory"] = new_text
        current["hash"] = text_hash(new_text)
        vec = vector
        # the context window described the original message in its conversation; the new
        # text is no longer that message, so its context channels fall back to the text itself
        current["context"] = current["context_vector"] = None
    if new_meta is not None:
        current["metadata"] = {**(current.get("metadata") or {}), **new_meta}
    current["updated_at"] = now
    tx.put_row(current, vec)
    tx.add_history(current["id"], old_text, current["memory"], "UPDATE", created_at=current["created_at"],
                   updated_at=now, actor_id=current.get("actor_id"), role=current.get("role"))
    return current


def apply_delete(tx: Any, current: dict, now: str) -> None:
    """Soft-delete ``current`` (a row read in ``tx``); the DELETE stays in history."""
    vec = current.pop("vector")
    current.pop("vid", None)
    current["state"] = MemoryState.DELETED.value
    current["deleted_at"] = now
    current["updated_at"] = now
    tx.put_row(current, vec)
    tx.add_history(current["id"], current["memory"], None, "DELETE", created_at=current["created_at"],
                   updated_at=now, is_deleted=True, actor_id=current.get("actor_id"), role=current.get("role"))


def apply_state(tx: Any, current: dict, state: str, now: str) -> None:
    """Move ``current`` (a row read in ``tx``) to ``state``; the change is a ``STATE:old->new`` history row."""
    vec = current.pop("vector")
    current.pop("vid", None)
    old_state = current["state"]
    current["state"] = state
    current["archived_at"] = now if state == MemoryState.ARCHIVED.value else None
    current["updated_at"] = now
    tx.put_row(current, vec)
    tx.add_history(current["id"], current["memory"], current["memory"], f"STATE:{old_state}->{state}",
                   created_at=current["created_at"], updated_at=now, actor_id=current.get("actor_id"),
                   role=current.get("role"))


def item_of(row: dict, score: Optional[float] = None) -> dict:
    """The mem0 item of a row: a copy, so callers never alias the stored row."""
    meta = {k: v if isinstance(v, _SCALARS) else copy.deepcopy(v) for k, v in (row.get("metadata") or {}).items()}
    if row.get("memory_type"):
        meta["memory_type"] = row["memory_type"]
    item = {"id": row["id"], "memory": row["memory"], "hash": row["hash"], "metadata": meta}
    if score is not None:
        item["score"] = score
    item["created_at"] = row.get("created_at")
    item["updated_at"] = row.get("updated_at")
    for f in OPTIONAL_FIELDS:
        if row.get(f) is not None:
            item[f] = row[f]
    # OpenMemory's item fields: the state (reads can ask for paused/archived ones) and categories
    item["state"] = row.get("state")
    item["categories"] = list(row.get("categories") or [])
    return item
