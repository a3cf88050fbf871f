"""Request scopes and response shapes shared by the routes (no FastAPI here)."""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import parse_qsl, urlencode

from memlab.enums import SCOPE_FIELDS
from memlab.errors import ValidationError
from memlab.store.scoping import is_scoped
from memlab.validation import MISSING_SCOPE

ITEM_ALIASES = {"content": "memory", "text": "memory", "data": "memory"}


def refuse_unsupported(body: Any) -> None:
    """A 400 naming every option the request sets that memlab cannot honour."""
    bad = body.unsupported()
    if bad:
        raise ValidationError("; ".join(f"'{name}' is not supported by memlab serve: {why}" for name, why in bad) + ".")


def merged_filters(body: Any) -> dict:
    """The request's filters with top-level user_id / agent_id / run_id folded in (both styles work)."""
    filters = dict(body.filters or {})
    for key in SCOPE_FIELDS:
        value = getattr(body, key, None)
        if value is None:
            continue
        if key in filters and filters[key] != value:
            raise ValidationError(f"{key} is given twice with different values ({value!r} and filters[{key!r}]).")
        filters[key] = value
    if "app_id" in filters:
        raise ValidationError("'app_id' is not supported by memlab serve: memlab scopes memories by user_id, "
                              "agent_id and run_id.")
    return filters


def add_scope(body: Any) -> dict:
    """user_id / agent_id / run_id of an add: plain strings, at top level or in filters."""
    filters = merged_filters(body)
    extra = sorted(set(filters) - set(SCOPE_FIELDS))
    if extra:
        raise ValidationError(f"add() filters may only hold user_id, agent_id and run_id; got {extra}.")
    for key, value in filters.items():
        if not isinstance(value, str):
            raise ValidationError(f"{key} must be a string when adding memories, got {type(value).__name__}.")
    if not filters:
        raise ValidationError(MISSING_SCOPE)
    return filters


def read_filters(body: Any) -> dict:
    """Filters of a get_all / search: must be scoped, as on the platform."""
    filters = merged_filters(body)
    if not is_scoped(filters):
        raise ValidationError(
            "filters must name at least one of 'user_id', 'agent_id' or 'run_id' "
            "(e.g. filters={'user_id': 'alice'}; use {'user_id': '*'} for every user)."
        )
    return filters


def project_fields(items: list[dict], fields: Optional[list[str]]) -> list[dict]:
    if not fields:
        return items
    return [{f: item.get(ITEM_ALIASES.get(f, f)) for f in fields} for item in items]


def versioned(result: dict, version: str) -> Any:
    """v1.1: the {"results": [...], "relations"?: [...]} envelope; v1.0: the bare list."""
    return result["results"] if version == "v1.0" else result


def page(items: list, url: Any, page_no: int, page_size: int) -> dict:
    """DRF-style pagination: count / next / previous / results, with absolute next/previous URLs."""
    total = len(items)
    start = (page_no - 1) * page_size
    chunk = items[start:start + page_size]

    def link(n: int) -> str:
        query = dict(parse_qsl(url.query))
        query.update(page=str(n), page_size=str(page_size))
        return str(url.replace(query=urlencode(query)))

    return {
        "count": total,
        "next": link(page_no + 1) if start + page_size < total else None,
        "previous": link(page_no - 1) if page_no > 1 and total else None,
        "results": chunk,
    }
