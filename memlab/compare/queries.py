"""Queries of a comparison: normalised from strings, dicts, DataFrames or files.

A query is a text plus the scope it is asked in (``user_id`` / ``agent_id`` / ``run_id`` /
``filters``), an id that names it across runs, and an optional reference answer (used by
:mod:`memlab.compare.answers` to score answers).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from memlab.enums import SCOPE_FIELDS as SCOPE_KEYS
from memlab.errors import ValidationError
from memlab.validation import check_id, check_text

_TEXT_KEYS = ("query", "question", "text")
_REFERENCE_KEYS = ("reference", "answer", "expected_answer")


@dataclass(frozen=True)
class Query:
    """One query of a comparison."""

    query_id: str
    text: str
    scope: dict = field(default_factory=dict)
    filters: Optional[dict] = None
    reference: Optional[str] = None

    def search_kwargs(self) -> dict:
        """Keyword arguments for ``Memory.search`` (scope and filters)."""
        kwargs = dict(self.scope)
        if self.filters:
            kwargs["filters"] = dict(self.filters)
        return kwargs

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"query_id": self.query_id, "query": self.text, **self.scope}
        if self.filters:
            out["filters"] = self.filters
        if self.reference is not None:
            out["reference"] = self.reference
        return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _from_dict(item: dict, i: int) -> Query:
    text = next((item[k] for k in _TEXT_KEYS if not _missing(item.get(k))), None)
    if text is None:
        raise ValidationError(
            f"queries[{i}] has no text: give it a 'query' (or 'question' / 'text') field."
        )
    check_text(f"queries[{i}]['query']", text)
    scope = {}
    for key in SCOPE_KEYS:
        value = item.get(key)
        if not _missing(value):
            scope[key] = check_id(f"queries[{i}]['{key}']", str(value))
    filters = item.get("filters")
    if _missing(filters):
        filters = None
    elif not isinstance(filters, dict):
        raise ValidationError(f"queries[{i}]['filters'] must be a dict, got {type(filters).__name__}.")
    reference = next((item[k] for k in _REFERENCE_KEYS if not _missing(item.get(k))), None)
    qid = item.get("query_id", item.get("id"))
    qid = f"q{i + 1}" if _missing(qid) else str(qid)
    return Query(qid, text, scope, filters, None if reference is None else str(reference))


def normalize_queries(queries: Any) -> list[Query]:
    """Queries from a str, a list of str / dicts / :class:`Query`, a DataFrame or a file path.

    Dict keys: ``query`` (or ``question`` / ``text``), optional ``query_id`` (or ``id``;
    default ``q1``, ``q2``, ... by position), ``user_id`` / ``agent_id`` / ``run_id``,
    ``filters`` and ``reference`` (or ``answer``). Query ids must be unique.
    """
    if isinstance(queries, Path) or (isinstance(queries, str) and _looks_like_path(queries)):
        return load_queries(queries)
    if isinstance(queries, str):
        queries = [queries]
    try:
        import pandas as pd

        if isinstance(queries, pd.DataFrame):
            queries = queries.to_dict("records")
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(queries, dict) or not isinstance(queries, Iterable):
        raise ValidationError(
            "queries must be a list of strings or dicts, a DataFrame or a file path, "
            f"got {type(queries).__name__}."
        )
    out: list[Query] = []
    for i, item in enumerate(queries):
        if isinstance(item, Query):
            out.append(item)
        elif isinstance(item, str):
            out.append(Query(f"q{i + 1}", check_text(f"queries[{i}]", item)))
        elif isinstance(item, dict):
            out.append(_from_dict(item, i))
        else:
            raise ValidationError(f"queries[{i}] must be a string or a dict, got {type(item).__name__}.")
    if not out:
        raise ValidationError("queries is empty: give at least one query.")
    seen: set[str] = set()
    for q in out:
        if q.query_id in seen:
            raise ValidationError(f"query id {q.query_id!r} appears twice; query ids must be unique.")
        seen.add(q.query_id)
    return out


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and Path(text).suffix.lower() in (".jsonl", ".json", ".csv", ".txt") and Path(text).exists()


def load_queries(path: str | Path) -> list[Query]:
    """Read queries from ``.jsonl`` (one dict or string per line), ``.json`` (a list),
    ``.csv`` (a header with a ``query`` column) or ``.txt`` (one query per line)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"Queries file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    try:
        if suffix == ".jsonl":
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        elif suffix == ".json":
            items = json.loads(text)
            if isinstance(items, dict) and isinstance(items.get("queries"), list):
                items = items["queries"]
        elif suffix == ".csv":
            items = list(csv.DictReader(text.splitlines()))
            items = [{k: (v if v != "" else None) for k, v in row.items()} for row in items]
        elif suffix == ".txt":
            items = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            raise ValidationError(f"Unknown queries file type {suffix!r}; use .jsonl, .json, .csv or .txt.")
    except json.JSONDecodeError as exc:
        raise ValidationError(f"Queries file {str(path)!r} is not valid JSON: {exc}.") from None
    if not isinstance(items, list):
        raise ValidationError(f"Queries file {str(path)!r} must hold a list of queries.")
    return normalize_queries(items)
