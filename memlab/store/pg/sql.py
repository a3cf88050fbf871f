"""mem0's filter tree (:mod:`memlab.store.filters`) compiled to a PostgreSQL ``WHERE`` clause.

The SQL keeps the FAISS engine's semantics exactly (``tests/pg`` runs both engines on the same
filters): a field is a column of the memories table, ``categories`` (the memory's category names),
or else a key of the JSONB ``metadata``; a missing field satisfies no condition (``ne`` / ``nin``
included), ``NOT`` is the plain complement (so every condition is wrapped in ``COALESCE(..., false)``:
SQL's three-valued NULL must never leak into ``NOT``; see :meth:`Compiler.compile`); order comparisons hold only between numbers
or between strings (strings compare by code point: ``COLLATE "C"``); ``True`` never equals ``1``
(JSONB keeps booleans and numbers apart). Values travel as query parameters, never as SQL text.
Outside any ``NOT`` a condition stays bare (``m.user_id = %(f0)s``) so PostgreSQL can use the scope
indexes: there NULL and false select the same rows.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from memlab.store import filters as F
from memlab.store.faiss.table import COLUMNS

TEXT_COLUMNS = tuple(c for c in COLUMNS if c != "metadata")
FALSE, TRUE = "false", "true"


class Compiler:
    """Collects parameters while turning a filter tree into SQL (named ``%(fN)s`` placeholders, so one
    parameter may appear several times)."""

    def __init__(self, table: str):
        self.t = table
        self.params: dict[str, Any] = {}
        self.negated = 0  # NOT levels above the node being compiled

    def p(self, value: Any) -> str:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    def compile(self, node: Optional[F.Node]) -> str:
        if node is None:
            return TRUE
        if isinstance(node, F.Logic):
            if node.kind == "not":
                self.negated += 1
                try:
                    return f"(NOT {self.compile(node.children[0])})"
                finally:
                    self.negated -= 1
            joiner = " AND " if node.kind == "and" else " OR "
            return "(" + joiner.join(self.compile(c) for c in node.children) + ")"
        if node.field in TEXT_COLUMNS:
            sql = self._column(node)
        elif node.field == "categories":
            sql = self._categories(node)
        else:
            key = node.field[len("metadata."):] if node.field.startswith("metadata.") else node.field
            sql = self._metadata(key, node)
        # Under a NOT, SQL's NULL must become false (NOT NULL is NULL, not true). Elsewhere NULL already
        # acts as false, and a bare condition keeps the scope indexes usable (COALESCE would hide them).
        return sql if sql in (TRUE, FALSE) or not self.negated else f"COALESCE({sql}, false)"

    # ------------------------------------------------------------------ text columns (str or NULL)
    def _column(self, c: F.Cond) -> str:
        col, op, x = f"m.{c.field}", c.op, c.value
        if op == "exists":
            return f"({col} IS NOT NULL)"
        if op == "eq":
            return f"({col} = {self.p(x)})" if isinstance(x, str) else FALSE
        if op == "ne":
            return f"({col} IS NOT NULL AND {col} <> {self.p(x)})" if isinstance(x, str) else f"({col} IS NOT NULL)"
        if op in ("gt", "gte", "lt", "lte"):
            if not isinstance(x, str):
                return FALSE  # a number never orders against a text column
            return f"({col} COLLATE \"C\" {_SQL_OP[op]} {self.p(x)} COLLATE \"C\")"
        strings = [v for v in (x if op in ("in", "nin") else ()) if isinstance(v, str)]
        if op == "in":
            return f"({col} = ANY({self.p(strings)}::text[]))" if strings else FALSE
        if op == "nin":
            return f"({col} IS NOT NULL AND NOT ({col} = ANY({self.p(strings)}::text[])))"
        if op == "contains":
            return f"(strpos({col}, {self.p(x)}) > 0)" if isinstance(x, str) else FALSE
        if op == "icontains":
            return f"(strpos(lower({col}), lower({self.p(x)})) > 0)"
        raise AssertionError(op)  # parse() allows no other operator

    # ------------------------------------------------------------------ categories (a list of names, never NULL)
    def _categories(self, c: F.Cond) -> str:
        op, x = c.op, c.value
        if op in ("exists", "ne", "nin"):
            return TRUE  # a list is never missing and never equals a scalar
        names = f"SELECT c.name FROM {self.t}_memory_categories mc JOIN {self.t}_categories c ON c.id = mc.category_id " \
                f"WHERE mc.memory_id = m.id"
        if op == "contains" and isinstance(x, str):
            return f"(EXISTS ({names} AND c.name = {self.p(x)}))"
        if op == "icontains":
            return f"(EXISTS ({names} AND lower(c.name) = lower({self.p(x)})))"
        return FALSE

    # ------------------------------------------------------------------ metadata (JSONB values)
    def _metadata(self, key: str, c: F.Cond) -> str:
        op, x = c.op, c.value
        v = f"(m.metadata -> {self.p(key)})"
        present = f"({v} IS NOT NULL AND jsonb_typeof({v}) <> 'null')"
        if op == "exists":
            return present
        if op == "eq":
            return f"({v} = {self.p(json.dumps(x))}::jsonb)"
        if op == "ne":
            return f"({present} AND {v} <> {self.p(json.dumps(x))}::jsonb)"
        if op in ("in", "nin"):
            items = f"{self.p([json.dumps(i) for i in x])}::jsonb[]"
            return f"({v} = ANY({items}))" if op == "in" else f"({present} AND NOT ({v} = ANY({items})))"
        if op in ("gt", "gte", "lt", "lte"):
            if isinstance(x, str):
                return (f"(jsonb_typeof({v}) = 'string' AND ({v} #>> '{{}}') COLLATE \"C\" {_SQL_OP[op]} "
                        f"{self.p(x)} COLLATE \"C\")")
            return f"(jsonb_typeof({v}) = 'number' AND ({v} #>> '{{}}')::numeric {_SQL_OP[op]} {self.p(repr(x))}::numeric)"
        if op == "contains":
            in_list = f"({v} @> jsonb_build_array({self.p(json.dumps(x))}::jsonb))"
            if isinstance(x, str):
                return (f"(CASE jsonb_typeof({v}) WHEN 'string' THEN strpos({v} #>> '{{}}', {self.p(x)}) > 0 "
                        f"WHEN 'array' THEN {in_list} ELSE false END)")
            return f"(jsonb_typeof({v}) = 'array' AND {in_list})"
        if op == "icontains":
            lx = self.p(x)
            return (f"(CASE jsonb_typeof({v}) WHEN 'string' THEN strpos(lower({v} #>> '{{}}'), lower({lx})) > 0 "
                    f"WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({v}) e "
                    f"WHERE jsonb_typeof(e) = 'string' AND lower(e #>> '{{}}') = lower({self.p(x)})) ELSE false END)")
        raise AssertionError(op)


_SQL_OP = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def where(table: str, node: Optional[F.Node], *, include_inactive: bool = False) -> tuple[str, dict]:
    """``(sql, named params)`` of the rows a filter allows: active rows only unless the filter names ``state``."""
    comp = Compiler(table)
    sql = comp.compile(node)
    if not include_inactive and not F.mentions(node, "state"):
        sql = f"m.state = 'active' AND {sql}"
    return sql, comp.params
