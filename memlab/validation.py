"""Validation of public-call arguments (mem0's wording where mem0 has one)."""

from __future__ import annotations

import json
import math
import numbers
import re
from typing import Any, Optional

from memlab.enums import SCOPE_FIELDS
from memlab.errors import ValidationError

# Only the scope ids are reserved: metadata setting them would move a memory into another tenant.
# Every other key (score, created_at, state, event, ...) is legal metadata, as in mem0; it is stored
# under metadata and never shadows the item's own field of the same name (see memlab.store.rows.item_of).
RESERVED_METADATA = frozenset(SCOPE_FIELDS)
MISSING_SCOPE = "At least one of 'user_id', 'agent_id', or 'run_id' must be provided."
MAX_ID_LEN = 256
MAX_LIMIT = 10_000_000
_WS = re.compile(r"\s")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # lone surrogates cannot be stored as UTF-8
WILDCARD = "*"  # a filter wildcard ("any value"), never an id


def _check_utf8(name: str, value: str) -> None:
    if _SURROGATE.search(value):
        raise ValidationError(
            f"{name} contains a lone surrogate code point (e.g. from mis-decoded bytes), which cannot be "
            "stored as UTF-8; decode the source text with errors='replace' first."
        )


def check_id(name: str, value: Any) -> Optional[str]:
    """An entity id: None, or a non-empty string without whitespace/control characters.

    Integer ids (e.g. a database primary key, ``user_id=42``) become strings, as mem0 >= 2.0.14
    does; bools and other types are rejected.
    """
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = str(int(value))
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}.")
    if not value:
        raise ValidationError(f"{name} must not be empty.")
    if value == WILDCARD:
        # An id of "*" would turn a scoped call into a match-everything filter (a tenant leak).
        raise ValidationError(
            f"{name} must not be '*': that is a filter wildcard, not an id. "
            f"To match any {name} on purpose, pass filters={{'{name}': '*'}}."
        )
    if _WS.search(value) or _CTRL.search(value):
        raise ValidationError(f"{name} must not contain whitespace or control characters: {value!r}.")
    _check_utf8(name, value)
    if len(value) > MAX_ID_LEN:
        raise ValidationError(f"{name} is longer than {MAX_ID_LEN} characters.")
    return value


def check_memory_id(memory_id: Any) -> str:
    if not isinstance(memory_id, str) or not memory_id.strip():
        raise ValidationError(f"memory_id must be a non-empty string, got {memory_id!r}.")
    if _WS.search(memory_id) or _CTRL.search(memory_id):
        raise ValidationError(f"memory_id must not contain whitespace or control characters: {memory_id!r}.")
    _check_utf8("memory_id", memory_id)
    return memory_id


def check_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}.")
    if not value.strip():
        raise ValidationError(f"{name} must not be empty.")
    if "\x00" in value:
        raise ValidationError(f"{name} must not contain NUL characters.")
    _check_utf8(name, value)
    return value


def check_limit(value: Any, name: str = "limit") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a positive integer, got {value!r}.")
    if value < 1 or value > MAX_LIMIT:
        raise ValidationError(f"{name} must be between 1 and {MAX_LIMIT:,}, got {value}.")
    return value


def check_threshold(value: Any) -> Optional[float]:
    if value is None:
        return None
    # the score is a calibrated relevance (an estimate of P(relevant)) in [0, 1], as in mem0 2.x
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"threshold must be a valid number between 0 and 1 (the relevance score), got {value!r}.")
    value = float(value)
    if math.isnan(value) or value < 0.0 or value > 1.0:
        raise ValidationError(f"Invalid threshold: {value}. Must be between 0 and 1 (inclusive): the score is a "
                              "calibrated relevance in [0, 1], not a cosine similarity.")
    return value


def check_metadata(metadata: Any) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValidationError(f"metadata must be a dict, got {type(metadata).__name__}.")
    for key in metadata:
        if not isinstance(key, str) or not key:
            raise ValidationError(f"metadata keys must be non-empty strings, got {key!r}.")
    clash = sorted(RESERVED_METADATA & set(metadata))
    if clash:
        raise ValidationError(
            f"metadata must not set the scope field(s) {clash} (reserved: they decide which tenant a memory "
            "belongs to); pass user_id/agent_id/run_id as arguments."
        )
    _check_json(metadata, "metadata")
    # A deep, JSON-normalised copy: the caller's nested lists/dicts must not alias the stored
    # row (mutating them later would change memory but not SQLite), and tuples become lists
    # exactly as they come back from SQLite.
    return json.loads(json.dumps(metadata, ensure_ascii=False))


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    if depth > 32:
        raise ValidationError(f"{where} is nested too deeply (max 32 levels).")
    if value is None or isinstance(value, (str, bool, int)):
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(f"{where} contains a NUL character.")
        if isinstance(value, str):
            _check_utf8(where, value)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where} contains a non-finite number ({value}); JSON cannot store it.")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValidationError(f"{where} has a non-string key {k!r}.")
            _check_utf8(f"{where} key", k)
            _check_json(v, f"{where}.{k}", depth + 1)
        return
    raise ValidationError(f"{where} holds a {type(value).__name__}, which is not JSON-serialisable.")


VALID_ROLES = ("user", "assistant", "system", "tool", "function", "developer")


def normalize_messages(messages: Any) -> list[dict]:
    """str | dict | list[dict] -> list of {role, content, name?}."""
    if isinstance(messages, str):
        check_text("messages", messages)
        return [{"role": "user", "content": messages}]
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list):
        raise ValidationError(
            f"messages must be a string, a message dict or a list of message dicts, got {type(messages).__name__}."
        )
    if not messages:
        raise ValidationError("messages must not be empty.")
    out = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValidationError(f"messages[{i}] must be a dict with 'role' and 'content', got {type(msg).__name__}.")
        if "role" not in msg or "content" not in msg:
            raise ValidationError(f"messages[{i}] must have 'role' and 'content' keys.")
        role, content = msg["role"], msg["content"]
        if role not in VALID_ROLES:
            raise ValidationError(f"messages[{i}]['role'] must be one of {', '.join(VALID_ROLES)}, got {role!r}.")
        if not isinstance(content, str):
            raise ValidationError(
                f"messages[{i}]['content'] must be a string, got {type(content).__name__} "
                "(multimodal content is not supported)."
            )
        if "\x00" in content:
            raise ValidationError(f"messages[{i}]['content'] must not contain NUL characters.")
        _check_utf8(f"messages[{i}]['content']", content)
        item = {"role": role, "content": content}
        name = msg.get("name")
        if name is not None:
            item["name"] = check_id(f"messages[{i}]['name']", name)
        out.append(item)
    return out


def check_timestamp(name: str, value: Any) -> Optional[str]:
    """None, an ISO-8601 string (kept verbatim), or a datetime / pandas Timestamp (-> ISO string)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        from datetime import datetime

        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"{name} must be an ISO-8601 timestamp, got {value!r}.") from None
        return value
    from datetime import date, datetime

    if isinstance(value, (datetime, date)):  # pandas.Timestamp is a datetime
        if value != value:  # NaT
            return None
        return value.isoformat()
    raise ValidationError(f"{name} must be an ISO-8601 string or a datetime, got {type(value).__name__}.")


def check_memory_type(memory_type: Any) -> Optional[str]:
    """None or one of mem0's memory types (an enum member or its value)."""
    from memlab.enums import MEMORY_TYPES, MemoryType

    if isinstance(memory_type, MemoryType):
        memory_type = memory_type.value
    if memory_type is not None and memory_type not in MEMORY_TYPES:
        raise ValidationError(
            f"Invalid 'memory_type'. Please pass {MemoryType.PROCEDURAL.value} to create procedural memories "
            f"(allowed: {', '.join(MEMORY_TYPES)})."
        )
    return memory_type


def check_add_timestamp(value: Any, name: str = "timestamp") -> Optional[str]:
    """When the memories of an ``add()`` were written, as an ISO string (None: now).

    mem0's platform API takes Unix seconds (``timestamp=1721577600``); memlab also takes an ISO-8601
    string (kept verbatim, so its own time zone and calendar date stay as written), a datetime or a date.
    """
    import math
    from datetime import date, datetime, timezone

    if isinstance(value, bool):
        raise ValidationError(f"{name} must be Unix seconds, an ISO-8601 string or a datetime, got {value!r}.")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ValidationError(f"{name} must be a non-negative number of Unix seconds, got {value!r}.")
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()
        except (OverflowError, OSError, ValueError):
            raise ValidationError(f"{name} {value!r} is out of range for Unix seconds.") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day).isoformat()
    return check_timestamp(name, value)


def check_expiration_date(value: Any, name: str = "expiration_date") -> Optional[str]:
    """None, or a date as ``YYYY-MM-DD`` (from such a string, a date or a datetime), as mem0 >= 2.0.10."""
    from datetime import date, datetime

    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValidationError(f"{name} must be a valid date in YYYY-MM-DD format, got {value!r}.") from None
    raise ValidationError(f"{name} must be a date string in YYYY-MM-DD format, got {type(value).__name__}.")


def check_categories(name: str, value: Any) -> list[str]:
    """Category names: a list of non-empty strings, returned sorted without duplicates (the order the
    store reads them back in, so an item looks the same before and after re-opening a store)."""
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{name} must be a list of category names, got {type(value).__name__}.")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(f"{name} must hold non-empty strings, got {item!r}.")
        _check_utf8(name, item)
    return sorted(set(value))
