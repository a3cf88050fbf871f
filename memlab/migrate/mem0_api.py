"""Reading memories out of any object with mem0's verbs (a memlab ``Memory`` or a mem0 ``Memory``)."""

from __future__ import annotations

from typing import Any, Iterable, Optional

from memlab.enums import MEMORY_TYPES

ITEM_FIELDS = ("id", "memory", "hash", "metadata", "user_id", "agent_id", "run_id", "actor_id", "role",
               "created_at", "updated_at", "expiration_date")  # mem0 >= 2.0.10 promotes expiration_date


def is_memlab(obj: Any) -> bool:
    """A memlab Memory (full access to its store) rather than a foreign mem0-like object."""
    from memlab.memory import Memory

    return isinstance(obj, Memory)


def _results(out: Any) -> list:
    if isinstance(out, dict):
        return list(out.get("results") or [])
    return list(out or [])


def get_all(obj: Any, scope: dict, limit: int = 100_000) -> list[dict]:
    """mem0 ``get_all`` for one scope across mem0 1.x (kwargs) and 2.x (filters=/top_k=) call styles."""
    try:
        return _results(obj.get_all(**scope, limit=limit))
    except TypeError:
        return _results(obj.get_all(filters=dict(scope), top_k=limit))


def search(obj: Any, query: str, scope: dict, limit: int) -> list[dict]:
    try:
        return _results(obj.search(query, **scope, limit=limit))
    except TypeError:
        return _results(obj.search(query, filters=dict(scope), top_k=limit))


def item_record(item: dict) -> dict:
    """A mem0 item as a portable record (``memory_type`` moves from metadata to its column)."""
    rec = {k: item.get(k) for k in ITEM_FIELDS}
    meta = dict(item.get("metadata") or {})
    if meta.get("memory_type") in MEMORY_TYPES:
        rec["memory_type"] = meta.pop("memory_type")
    rec["metadata"] = meta
    rec["state"] = "active"
    return rec


def foreign_records(obj: Any, scopes: Iterable[dict], with_history: bool = True) -> list[dict]:
    """Every memory of the given scopes from a mem0-like object, with ``history`` when it has one."""
    out, seen = [], set()
    for scope in scopes:
        for item in get_all(obj, scope):
            if item.get("id") in seen:
                continue
            seen.add(item.get("id"))
            rec = item_record(item)
            for key, value in scope.items():  # mem0 1.x items may omit the scope they were listed by
                rec[key] = rec.get(key) or value
            if with_history and hasattr(obj, "history"):
                try:
                    rows = obj.history(item["id"])
                except Exception:  # a foreign history failing must not lose the memory
                    rows = None
                if rows:
                    rec["history"] = [{"id": h.get("id"), "old_memory": h.get("old_memory"),
                                       "new_memory": h.get("new_memory"), "event": h.get("event"),
                                       "created_at": h.get("created_at"), "updated_at": h.get("updated_at"),
                                       "is_deleted": int(bool(h.get("is_deleted"))), "actor_id": h.get("actor_id"),
                                       "role": h.get("role")} for h in rows]
            out.append(rec)
    return out


def scope_list(user_id: Optional[str] = None, agent_id: Optional[str] = None, run_id: Optional[str] = None,
               scopes: Optional[Iterable[dict]] = None) -> list[dict]:
    out = [dict(s) for s in scopes or []]
    one = {k: v for k, v in (("user_id", user_id), ("agent_id", agent_id), ("run_id", run_id)) if v}
    if one:
        out.append(one)
    return out
