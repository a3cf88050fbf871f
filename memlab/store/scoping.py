"""The filter of a read: scope ids merged into the filters, mem0 2.x's scope rule, expiry, limits.

Shared by every engine: the result is a parsed filter tree (:mod:`memlab.store.filters`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from memlab.enums import SCOPE_FIELDS
from memlab.errors import ValidationError
from memlab.store import filters as F
from memlab.validation import MISSING_SCOPE, check_id, check_limit

UNSCOPED_READ = (
    f"{MISSING_SCOPE} To read every scope of the store on purpose, pass all_scopes=True "
    "(or filters={'user_id': '*'} for every memory that has a user_id)."
)


def merge_scope(user_id: Any, agent_id: Any, run_id: Any, filters: Optional[dict]) -> dict:
    """The scope arguments merged into the filters, every scope id checked; a clash raises."""
    scope = {
        "user_id": check_id("user_id", user_id),
        "agent_id": check_id("agent_id", agent_id),
        "run_id": check_id("run_id", run_id),
    }
    merged: dict[str, Any] = {}
    if filters is not None:
        if not isinstance(filters, dict):
            raise ValidationError(f"filters must be a dict, got {type(filters).__name__}.")
        merged.update(filters)
        refuse_bool_ids(filters)
        for key in SCOPE_FIELDS:  # filters={"user_id": 42} is user "42", as mem0 2.x coerces it
            if isinstance(merged.get(key), int) and not isinstance(merged[key], bool):
                merged[key] = check_id(key, merged[key])
    for key, value in scope.items():
        if value is None:
            continue
        if key in merged and not (isinstance(merged[key], str) and merged[key] == value):
            raise ValidationError(
                f"{key} is given twice with different values ({value!r} and filters[{key!r}]={merged[key]!r})."
            )
        merged[key] = value
    for key in SCOPE_FIELDS:  # scope values inside filters get the same checks as arguments
        if isinstance(merged.get(key), str) and merged[key] != "*":
            check_id(key, merged[key])
    return merged

def refuse_bool_ids(filters: Any, where: str = "filters") -> None:
    """A scope id in a filter tree that is a bool (``{"user_id": True}``, also under AND / OR / NOT and in an
    operator such as ``{"in": [True]}``) is a mistake that would match nothing: refuse it. (An int is an id:
    mem0 2.x reads 42 as "42".)"""
    if isinstance(filters, list):
        for i, branch in enumerate(filters):
            refuse_bool_ids(branch, f"{where}[{i}]")
        return
    if not isinstance(filters, dict):
        return
    for key, value in filters.items():
        if key in SCOPE_FIELDS:
            inner = value.values() if isinstance(value, dict) else [value]
            flat = [x for v in inner for x in (v if isinstance(v, list) else [v])]
            if any(isinstance(x, bool) for x in flat):
                raise ValidationError(
                    f"{where}[{key!r}] holds a bool ({value!r}); the {key} is a string id (an int is read as its "
                    f"string, as mem0 does). Pass the id, e.g. {{{key!r}: 'alice'}}.")
        elif isinstance(value, (dict, list)):
            refuse_bool_ids(value, f"{where}[{key!r}]")


def is_scoped(filters: Any) -> bool:
    """Does a filter tree restrict every result to a scope? A scope id at the top, in any branch of an
    AND, or in every branch of an OR does; under NOT it does not (NOT user_id=a is every other user)."""
    if not isinstance(filters, dict):
        return False
    for key, value in filters.items():
        if key in SCOPE_FIELDS and value is not None:
            return True
        branches = value if isinstance(value, list) else [value]
        if key in ("AND", "$and") and any(is_scoped(b) for b in branches):
            return True
        if key in ("OR", "$or") and branches and all(is_scoped(b) for b in branches):
            return True
    return False


def read_filter(store: Any, user_id: Any, agent_id: Any, run_id: Any, filters: Optional[dict],
                all_scopes: bool, show_expired: bool) -> tuple[dict, Any]:
    """The merged scope/filters and the parsed filter of a read: scoped (mem0 2.x raises without a
    scope) unless all_scopes=True, and without expired memories unless show_expired=True."""
    if not isinstance(all_scopes, bool) or not isinstance(show_expired, bool):
        raise ValidationError("all_scopes and show_expired must be True or False.")
    merged = merge_scope(user_id, agent_id, run_id, filters)
    if not all_scopes and not is_scoped(merged):
        raise ValidationError(UNSCOPED_READ)
    node = F.parse(merged)
    # a store that filters in SQL adds the expiry condition always (cheaper than a round trip asking
    # whether any row expires); the in-process engine skips it while no row has a date
    if not show_expired and (store.expiry_filter_always or store.has_values("expiration_date")):
        # expired = the date has passed (mem0: expiration_date < today, UTC); rows without one never expire
        today = datetime.now(timezone.utc).date().isoformat()
        not_expired = F.Logic("not", (F.Cond("expiration_date", "lt", today),))
        node = not_expired if node is None else F.Logic("and", (node, not_expired))
    return merged, node


def resolve_limit(limit: Any, top_k: Any) -> int:
    """mem0 1.x ``limit`` or 2.x ``top_k`` (default 100); both given must agree."""
    if top_k is not None:
        top_k = check_limit(top_k, "top_k")
        if limit is not None and limit != top_k:
            raise ValidationError(f"limit ({limit}) and top_k ({top_k}) disagree; pass one of them.")
        return top_k
    return check_limit(100 if limit is None else limit)
