"""mem0-style filters compiled to boolean masks over the in-memory table.

Grammar (documented in docs/engine.md)::

    filters   := {key: condition, ...}            # all keys must hold (AND)
    key       := field name | "AND" | "OR" | "NOT" | "$and" | "$or" | "$not"
    condition := scalar                            # equality
               | [scalar, ...]                     # membership (same as {"in": [...]})
               | "*"                               # field present (any non-null value)
               | {op: value, ...}                  # ops: eq ne gt gte lt lte in nin contains icontains
    AND / OR  := [filters, ...]  (non-empty)
    NOT       := filters | [filters, ...]         # a list: none of them may hold (mem0)

Rules (documented, tested):
- A field is a top-level column (``user_id``, ``memory``, ``created_at``, ...) or else a key
  of ``metadata`` (``metadata.key`` is accepted too).
- ``NOT [f1, f2]`` excludes rows matching *any* listed filter, ``NOT(f1 OR f2)``, as mem0
  does (Qdrant ``must_not``, pgvector ``NOT (a OR b)``); ``NOT f`` with one dict negates
  that dict as a whole (its keys are ANDed first). docs/engine.md has the full table.
- A row where the field is missing never satisfies a condition, including ``ne`` and
  ``nin`` (as SQL's NULL). ``NOT`` is the plain complement, so it does include such rows.
- Order comparisons hold only between numbers (bools excluded) or between strings.
- ``True`` never equals ``1``: bools and numbers are different types here.
- Unknown operators, empty logical lists and wrong value types raise
  :class:`~memlab.errors.ValidationError`; nothing silently matches nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Union

import numpy as np

from memlab.errors import ValidationError

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains")
LOGICAL = {"AND": "and", "OR": "or", "NOT": "not", "$and": "and", "$or": "or", "$not": "not"}
MISSING = None  # the table stores None for absent values
MAX_DEPTH = 32  # nesting levels of a filter (deeper input is rejected, not a RecursionError)


@dataclass(frozen=True)
class Cond:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Logic:
    kind: str  # "and" | "or" | "not"
    children: tuple


Node = Union[Cond, Logic]


def _check_scalar(field: str, value: Any, what: str = "value") -> None:
    if isinstance(value, bool) or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"Filter on {field!r}: {what} must be finite, got {value!r}.")
        return
    raise ValidationError(
        f"Filter on {field!r}: {what} must be a string, number or bool, got {type(value).__name__}."
    )


def parse(filters: Any) -> Node | None:
    """Validate a filters dict and return its AST (None for no filter)."""
    if filters is None:
        return None
    if not isinstance(filters, dict):
        raise ValidationError(f"filters must be a dict, got {type(filters).__name__}.")
    if not filters:
        return None
    _check_depth(filters)
    return _parse_dict(filters)


def _check_depth(filters: dict) -> None:
    """Reject absurdly nested filters iteratively (recursion would overflow on hostile input)."""
    stack = [(filters, 0)]
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValidationError(f"filters are nested more than {MAX_DEPTH} levels deep; flatten the AND/OR tree.")
        if isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, depth + 1) for v in obj)


def _parse_dict(filters: dict) -> Node:
    nodes = []
    for key, cond in filters.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"Filter keys must be non-empty strings, got {key!r}.")
        if key in LOGICAL:
            nodes.append(_parse_logic(key, cond))
        elif key.startswith("$"):
            raise ValidationError(f"Unknown logical operator {key!r}; use AND, OR, NOT (or $and, $or, $not).")
        else:
            nodes.append(_parse_field(key, cond))
    return nodes[0] if len(nodes) == 1 else Logic("and", tuple(nodes))


def _parse_logic(key: str, cond: Any) -> Node:
    kind = LOGICAL[key]
    if kind == "not":
        if isinstance(cond, dict):
            if not cond:
                raise ValidationError(f"{key} needs a non-empty filter dict.")
            return Logic("not", (_parse_dict(cond),))
        if isinstance(cond, list) and cond and all(isinstance(c, dict) and c for c in cond):
            inner = [_parse_dict(c) for c in cond]
            # mem0's NOT list is "none of these": NOT (a OR b), never NOT (a AND b)
            return Logic("not", (inner[0] if len(inner) == 1 else Logic("or", tuple(inner)),))
        raise ValidationError(f"{key} takes a filter dict or a non-empty list of filter dicts.")
    if not isinstance(cond, list) or not cond:
        raise ValidationError(f"{key} takes a non-empty list of filter dicts, got {cond!r}.")
    children = []
    for c in cond:
        if not isinstance(c, dict) or not c:
            raise ValidationError(f"Every item of {key} must be a non-empty filter dict, got {c!r}.")
        children.append(_parse_dict(c))
    return Logic(kind, tuple(children))


def _parse_field(field: str, cond: Any) -> Node:
    if isinstance(cond, str) and cond == "*":  # isinstance first: arrays compare element-wise
        return Cond(field, "exists", None)
    if isinstance(cond, (list, tuple)):
        return _make_cond(field, "in", list(cond))
    if isinstance(cond, dict):
        if not cond:
            raise ValidationError(f"Filter on {field!r}: empty operator dict; use e.g. {{'eq': value}}.")
        conds = []
        for op, value in cond.items():
            name = op[1:] if isinstance(op, str) and op.startswith("$") else op
            if name not in OPERATORS:
                raise ValidationError(
                    f"Unknown filter operator {op!r} on {field!r}; allowed: {', '.join(OPERATORS)}."
                )
            conds.append(_make_cond(field, name, value))
        return conds[0] if len(conds) == 1 else Logic("and", tuple(conds))
    if cond is None:
        raise ValidationError(
            f"Filter on {field!r} is None; to select rows without it use {{'NOT': {{{field!r}: '*'}}}}."
        )
    return _make_cond(field, "eq", cond)


def _make_cond(field: str, op: str, value: Any) -> Cond:
    if op in ("in", "nin"):
        if not isinstance(value, (list, tuple, set)):
            raise ValidationError(f"Filter on {field!r}: {op!r} needs a list, got {type(value).__name__}.")
        for v in value:
            _check_scalar(field, v, f"each {op!r} item")
        return Cond(field, op, tuple(value))
    if op in ("contains", "icontains"):
        if not isinstance(value, str):
            _check_scalar(field, value)
            if op == "icontains":
                raise ValidationError(f"Filter on {field!r}: 'icontains' needs a string.")
        return Cond(field, op, value)
    if op in ("gt", "gte", "lt", "lte"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValidationError(
                f"Filter on {field!r}: {op!r} needs a number or a string (e.g. an ISO date), got {value!r}."
            )
        _check_scalar(field, value)
        return Cond(field, op, value)
    if op == "eq" and isinstance(value, str) and value == "*":
        return Cond(field, "exists", None)
    _check_scalar(field, value)
    return Cond(field, op, value)


# --------------------------------------------------------------------------- evaluation
def _same_type(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return True
    return type(a) is type(b)


def _eq(v: Any, x: Any) -> bool:
    return v is not None and _same_type(v, x) and v == x


def _ordered(v: Any, x: Any) -> bool:
    if v is None or isinstance(v, bool):
        return False
    if isinstance(x, str):
        return isinstance(v, str)
    return isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))


def _predicate(cond: Cond) -> Callable[[Any], bool]:
    op, x = cond.op, cond.value
    if op == "exists":
        return lambda v: v is not None
    if op == "eq":
        return lambda v: _eq(v, x)
    if op == "ne":
        return lambda v: v is not None and not _eq(v, x)
    if op == "gt":
        return lambda v: _ordered(v, x) and v > x
    if op == "gte":
        return lambda v: _ordered(v, x) and v >= x
    if op == "lt":
        return lambda v: _ordered(v, x) and v < x
    if op == "lte":
        return lambda v: _ordered(v, x) and v <= x
    if op == "in":
        return lambda v: v is not None and any(_eq(v, y) for y in x)
    if op == "nin":
        return lambda v: v is not None and not any(_eq(v, y) for y in x)
    if op == "contains":
        def contains(v):
            if isinstance(v, str) and isinstance(x, str):
                return x in v
            if isinstance(v, (list, tuple)):
                return any(_eq(item, x) for item in v)
            return False
        return contains
    if op == "icontains":
        lx = x.lower()

        def icontains(v):
            if isinstance(v, str):
                return lx in v.lower()
            if isinstance(v, (list, tuple)):
                return any(isinstance(i, str) and i.lower() == lx for i in v)
            return False
        return icontains
    raise ValidationError(f"Unknown operator {op!r}")  # unreachable: parse() validates


def evaluate(node: Node, table) -> np.ndarray:
    """Boolean mask of length ``table.n`` for a parsed filter."""
    n = table.n
    if isinstance(node, Logic):
        if node.kind == "not":
            return ~evaluate(node.children[0], table)
        masks = [evaluate(c, table) for c in node.children]
        out = masks[0].copy()
        for m in masks[1:]:
            if node.kind == "and":
                out &= m
            else:
                out |= m
        return out
    if node.op in ("eq", "in") and table.is_indexed(node.field):
        values = (node.value,) if node.op == "eq" else node.value
        mask = np.zeros(n, dtype=bool)
        for value in values:
            if isinstance(value, str):
                pos = table.positions_for(node.field, value)
                if len(pos):
                    mask[pos] = True
        return mask
    if node.op in ("gt", "gte", "lt", "lte") and table.is_indexed(node.field):
        # an indexed column holds few distinct values (e.g. expiration dates): test each value once
        pred = _predicate(node)
        mask = np.zeros(n, dtype=bool)
        for value in table.indexed_values(node.field):
            if pred(value):
                pos = table.positions_for(node.field, value)
                if len(pos):
                    mask[pos] = True
        return mask
    column = table.values(node.field)
    pred = _predicate(node)
    return np.fromiter((pred(v) for v in column), dtype=bool, count=n)


def mentions(node: Node | None, field: str) -> bool:
    """Whether a filter refers to ``field`` anywhere."""
    if node is None:
        return False
    if isinstance(node, Cond):
        return node.field == field
    return any(mentions(c, field) for c in node.children)
