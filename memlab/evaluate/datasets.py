"""Evaluation datasets: memories, queries and relevance labels as three pandas DataFrames.

A :class:`Dataset` holds

- ``memories``: ``id, scope, text, time, metadata`` (one row per memory; ``scope`` is the user or
  conversation the memory belongs to and becomes the memlab ``user_id`` at retrieval time);
- ``queries``: ``id, scope, text, category, answerable`` (a query is only ever run against the
  memories of its own scope);
- ``qrels``: ``query_id, memory_id, relevance`` (graded, > 0 = relevant; unanswerable queries have none).

memlab's own file format is JSON Lines, one record per line::

    {"type": "dataset", "format": "memlab-eval", "version": 1, "name": "...", "description": "..."}
    {"type": "memory", "id": "m1", "scope": "alice", "text": "...", "time": "2024-01-05T09:00:00", "metadata": {}}
    {"type": "query", "id": "q1", "scope": "alice", "text": "...", "category": "food",
     "answerable": true, "relevant": {"m1": 2}}

Loaders for LoCoMo and LongMemEval, and the format-sniffing :func:`load_dataset`, live in :mod:`memlab.evaluate.loaders`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Union

import pandas as pd

from memlab.errors import NotFoundError, ValidationError

FORMAT = "memlab-eval"
FORMAT_VERSION = 1
MEMORY_COLUMNS = ["id", "scope", "text", "time", "metadata"]
QUERY_COLUMNS = ["id", "scope", "text", "category", "answerable"]
QREL_COLUMNS = ["query_id", "memory_id", "relevance"]
BUNDLED = {"assistant": "assistant_memories.jsonl"}


@dataclass
class LoadReport:
    """What a loader changed, repaired or skipped, one issue per row (nothing is dropped silently)."""

    source: str = ""
    issues: list = field(default_factory=list)

    def add(self, kind: str, detail: str, **where: Any) -> None:
        self.issues.append({"kind": kind, "detail": detail, **where})

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.issues, columns=None if self.issues else ["kind", "detail"])

    def counts(self) -> dict:
        return self.to_frame()["kind"].value_counts().to_dict() if self.issues else {}

    def __str__(self) -> str:
        if not self.issues:
            return f"Load report for {self.source or 'dataset'}: no issues."
        lines = [f"Load report for {self.source or 'dataset'}: {len(self.issues)} issue(s)"]
        lines += [f"  {kind}: {n}" for kind, n in sorted(self.counts().items())]
        return "\n".join(lines)


@dataclass
class Dataset:
    """Memories, queries and qrels of one evaluation set (validated on construction)."""

    name: str
    memories: pd.DataFrame
    queries: pd.DataFrame
    qrels: pd.DataFrame
    description: str = ""
    report: LoadReport = field(default_factory=LoadReport)

    def __post_init__(self) -> None:
        self.memories = _frame(self.memories, MEMORY_COLUMNS, "memories")
        self.queries = _frame(self.queries, QUERY_COLUMNS, "queries")
        self.qrels = _frame(self.qrels, QREL_COLUMNS, "qrels")
        self.memories["time"] = _parse_times(self.memories["time"], self.memories["id"])
        self.memories["metadata"] = [m if isinstance(m, dict) else {} for m in self.memories["metadata"]]
        self.queries["answerable"] = self.queries["answerable"].astype(bool)
        self.qrels["relevance"] = pd.to_numeric(self.qrels["relevance"]).astype(float)
        self._validate()

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        for frame, what in ((self.memories, "memory"), (self.queries, "query")):
            ids = frame["id"]
            if ids.isna().any() or (ids.astype(str).str.strip() == "").any():
                raise ValidationError(f"Every {what} needs a non-empty id.")
            dup = ids[ids.duplicated()]
            if len(dup):
                raise ValidationError(f"{what} id {dup.iloc[0]!r} appears twice; ids must be unique.")
            if frame["scope"].isna().any():
                raise ValidationError(f"Every {what} needs a scope (the user or conversation it belongs to).")
        if self.qrels[["query_id", "memory_id"]].duplicated().any():
            row = self.qrels[self.qrels[["query_id", "memory_id"]].duplicated()].iloc[0]
            raise ValidationError(f"qrel ({row['query_id']}, {row['memory_id']}) is given twice.")
        mem_scope = dict(zip(self.memories["id"], self.memories["scope"]))
        q_scope = dict(zip(self.queries["id"], self.queries["scope"]))
        for qid, mid in zip(self.qrels["query_id"], self.qrels["memory_id"]):
            if qid not in q_scope:
                raise ValidationError(f"qrel names unknown query {qid!r}; add the query or drop the label.")
            if mid not in mem_scope:
                raise ValidationError(f"qrel of query {qid!r} names unknown memory {mid!r}.")
            if mem_scope[mid] != q_scope[qid]:
                raise ValidationError(
                    f"qrel of query {qid!r} (scope {q_scope[qid]!r}) names memory {mid!r} of another scope "
                    f"({mem_scope[mid]!r}); queries only see their own scope."
                )
        positive = set(self.qrels.loc[self.qrels["relevance"] > 0, "query_id"])
        for qid, answerable in zip(self.queries["id"], self.queries["answerable"]):
            if answerable and qid not in positive:
                raise ValidationError(f"query {qid!r} is marked answerable but has no relevant memory.")
            if not answerable and qid in positive:
                raise ValidationError(f"query {qid!r} is marked unanswerable but has relevant memories.")

    # ------------------------------------------------------------------ views
    def subset(self, scopes: Optional[list] = None, categories: Optional[list] = None) -> "Dataset":
        """A smaller dataset: only some scopes and/or query categories (memories of kept scopes stay)."""
        queries = self.queries
        memories = self.memories
        if scopes is not None:
            queries = queries[queries["scope"].isin(scopes)]
            memories = memories[memories["scope"].isin(scopes)]
        if categories is not None:
            queries = queries[queries["category"].isin(categories)]
        qrels = self.qrels[self.qrels["query_id"].isin(queries["id"])]
        return Dataset(self.name, memories.reset_index(drop=True), queries.reset_index(drop=True),
                       qrels.reset_index(drop=True), self.description, self.report)

    def stats(self) -> dict:
        """Sizes at a glance (for summaries and notebooks)."""
        return {
            "memories": len(self.memories), "scopes": int(self.memories["scope"].nunique()),
            "queries": len(self.queries), "answerable": int(self.queries["answerable"].sum()),
            "unanswerable": int((~self.queries["answerable"]).sum()), "qrels": len(self.qrels),
        }

    def __repr__(self) -> str:
        s = self.stats()
        return (f"Dataset({self.name!r}: {s['memories']} memories in {s['scopes']} scopes, {s['queries']} queries "
                f"({s['unanswerable']} unanswerable), {s['qrels']} qrels)")


def _parse_times(values: pd.Series, ids: pd.Series) -> pd.Series:
    """ISO-8601 times (date only, naive or with offset; mixed offsets become naive UTC); None stays NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_convert(None) if getattr(values.dt, "tz", None) is not None else values
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
    except (ValueError, TypeError):  # naive and offset-aware times mixed
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    bad = values.notna() & parsed.isna()
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise ValidationError(
            f"memory {ids.iloc[i]!r} has time {values.iloc[i]!r}, which is not an ISO-8601 date/time "
            "(e.g. 2024-05-01 or 2024-05-01T09:30:00); fix it or leave it empty."
        )
    return parsed


def _frame(data: Any, columns: list, what: str) -> pd.DataFrame:
    df = pd.DataFrame(data).copy() if not isinstance(data, pd.DataFrame) else data.copy()
    if df.empty and not len(df.columns):
        df = pd.DataFrame(columns=columns)
    missing = [c for c in columns if c not in df.columns]
    optional = {"time": None, "metadata": None, "category": None}
    for c in missing:
        if c not in optional:
            raise ValidationError(f"{what} lacks column {c!r} (expected columns: {', '.join(columns)}).")
        df[c] = optional[c]
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------- JSONL
def save_jsonl(dataset: Dataset, path: Union[str, Path]) -> Path:
    """Write a dataset in memlab's JSONL format (UTF-8, one record per line)."""
    path = Path(path)
    rel: dict[str, dict] = {}
    for qid, mid, r in zip(dataset.qrels["query_id"], dataset.qrels["memory_id"], dataset.qrels["relevance"]):
        rel.setdefault(qid, {})[mid] = int(r) if float(r).is_integer() else float(r)
    lines = [{"type": "dataset", "format": FORMAT, "version": FORMAT_VERSION, "name": dataset.name,
              "description": dataset.description}]
    for m in dataset.memories.itertuples(index=False):
        time = None if pd.isna(m.time) else pd.Timestamp(m.time).isoformat()
        lines.append({"type": "memory", "id": m.id, "scope": m.scope, "text": m.text, "time": time,
                      "metadata": m.metadata or {}})
    for q in dataset.queries.itertuples(index=False):
        lines.append({"type": "query", "id": q.id, "scope": q.scope, "text": q.text,
                      "category": None if pd.isna(q.category) else q.category,
                      "answerable": bool(q.answerable), "relevant": rel.get(q.id, {})})
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def load_jsonl(path: Union[str, Path]) -> Dataset:
    """Read a dataset in memlab's JSONL format (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"Dataset file {str(path)!r} does not exist.")
    return _parse_jsonl(path.read_text(encoding="utf-8"), str(path))


def _parse_jsonl(text: str, source: str) -> Dataset:
    header: dict = {}
    memories, queries, qrels = [], [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{source} line {n} is not valid JSON: {exc.msg}.") from None
        kind = rec.get("type") if isinstance(rec, dict) else None
        if kind == "dataset":
            if rec.get("format") != FORMAT or int(rec.get("version", 0)) > FORMAT_VERSION:
                raise ValidationError(f"{source} is not a memlab-eval v{FORMAT_VERSION} file (header {rec}).")
            header = rec
        elif kind == "memory":
            memories.append({c: rec.get(c) for c in MEMORY_COLUMNS})
        elif kind == "query":
            relevant = rec.get("relevant") or {}
            if not isinstance(relevant, dict):
                raise ValidationError(f"{source} line {n}: 'relevant' must map memory ids to relevance grades.")
            answerable = rec.get("answerable")
            if answerable is None:
                answerable = any(float(v) > 0 for v in relevant.values())
            queries.append({**{c: rec.get(c) for c in QUERY_COLUMNS}, "answerable": bool(answerable)})
            qrels += [{"query_id": rec.get("id"), "memory_id": mid, "relevance": r} for mid, r in relevant.items()]
        else:
            raise ValidationError(f"{source} line {n}: unknown record type {kind!r} (dataset, memory or query).")
    if not header:
        raise ValidationError(f"{source} has no header line {{\"type\": \"dataset\", \"format\": \"{FORMAT}\"}}.")
    return Dataset(header.get("name") or Path(source).stem, pd.DataFrame(memories, columns=MEMORY_COLUMNS),
                   pd.DataFrame(queries, columns=QUERY_COLUMNS), pd.DataFrame(qrels, columns=QREL_COLUMNS),
                   header.get("description", ""), LoadReport(source))


def load_bundled(name: str = "assistant") -> Dataset:
    """A dataset shipped inside the package (``"assistant"``: see datasets/assistant/README.md)."""
    if name not in BUNDLED:
        raise NotFoundError(f"No bundled dataset {name!r}; available: {', '.join(sorted(BUNDLED))}.")
    ref = resources.files("memlab.evaluate").joinpath("data", BUNDLED[name])
    return _parse_jsonl(ref.read_text(encoding="utf-8"), f"bundled:{name}")
