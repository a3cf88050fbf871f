"""Benchmark datasets: the evaluation loaders, sliced, and turned into dated sessions to store.

Every system stores a conversation the same way: ONE ``add(messages, infer=False)`` per session,
dated by the session's time (``timestamp=`` where the system accepts it), speakers as message
``name``. A :class:`Session` keeps the dataset id of each of its turns, so whatever a system
returns for a turn can be mapped back to the evidence it is (``ingest`` checkpoints that map).

Datasets without sessions (memlab's JSONL format) store each memory with its own ``add``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import pandas as pd

from memlab.errors import NotFoundError, ValidationError
from memlab.evaluate.datasets import Dataset, load_jsonl
from memlab.evaluate.loaders import load_dataset, load_locomo, load_longmemeval

FORMATS = ("auto", "locomo", "longmemeval", "jsonl")


@dataclass
class Turn:
    memory_id: str          # the dataset's id (what qrels name)
    content: str
    name: Optional[str] = None


@dataclass
class Session:
    scope: str
    key: str                # unique within the scope
    when: Optional[pd.Timestamp]
    turns: list = field(default_factory=list)

    @property
    def uid(self) -> str:
        return f"{self.scope}|{self.key}"

    def messages(self) -> list[dict]:
        return [{"role": "user", "content": t.content, **({"name": t.name} if t.name else {})} for t in self.turns]


def load(path: Union[str, Path], dataset: str = "auto") -> Dataset:
    """Read ``path`` as ``dataset`` (locomo, longmemeval, jsonl or auto: sniffed from the file)."""
    if dataset not in FORMATS:
        raise ValidationError(f"--dataset must be one of {', '.join(FORMATS)}, got {dataset!r}.")
    if dataset == "auto":
        return load_dataset(path)
    if not Path(path).is_file():
        raise NotFoundError(f"Dataset file {str(path)!r} does not exist.")
    return {"locomo": load_locomo, "longmemeval": load_longmemeval, "jsonl": load_jsonl}[dataset](path)


def slice_dataset(ds: Dataset, *, scopes: Optional[int] = None, questions: Optional[int] = None,
                  categories: Optional[list] = None) -> Dataset:
    """The first ``scopes`` scopes (conversations) and, in each, the first ``questions`` questions.

    Slices are deterministic (file order), so a small run is the head of the full one.
    """
    for name, value in (("scopes", scopes), ("questions", questions)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValidationError(f"{name} must be a positive integer, got {value!r}.")
    if categories is not None:
        present = {str(c): c for c in ds.queries["category"].dropna().unique()}
        unknown = [c for c in categories if str(c) not in present]
        if unknown:
            raise ValidationError(f"unknown categories {unknown}; this dataset has {sorted(present)}.")
        ds = ds.subset(categories=[present[str(c)] for c in categories])
    if scopes is not None:
        ds = ds.subset(scopes=list(pd.unique(ds.memories["scope"]))[:scopes])
    if questions is not None:
        keep = ds.queries.groupby("scope", sort=False).head(questions)["id"]
        queries = ds.queries[ds.queries["id"].isin(keep)].reset_index(drop=True)
        qrels = ds.qrels[ds.qrels["query_id"].isin(queries["id"])].reset_index(drop=True)
        ds = Dataset(ds.name, ds.memories, queries, qrels, ds.description, ds.report)
    if ds.queries.empty:
        raise ValidationError("the slice has no questions; widen --scopes / --questions / --categories.")
    return ds


def _speaker(text: str, meta: dict) -> tuple[str, Optional[str]]:
    who = meta.get("speaker") or meta.get("role")
    if who and text.startswith(f"{who}: "):
        return text[len(who) + 2:], str(who)
    return text, None


def sessions(ds: Dataset) -> list[Session]:
    """The dataset's sessions in file order (turns with empty text are left out: no system stores them)."""
    out: dict[tuple, Session] = {}
    for mid, scope, text, when, meta in zip(ds.memories["id"], ds.memories["scope"], ds.memories["text"],
                                            ds.memories["time"], ds.memories["metadata"]):
        meta = meta or {}
        content, who = _speaker(str(text), meta)
        if not content.strip():
            continue
        sess = meta.get("session")
        key = f"s{sess}" if sess is not None else f"m:{mid}"
        s = out.setdefault((str(scope), key), Session(str(scope), key, None))
        if not pd.isna(when) and (s.when is None or when < s.when):
            s.when = pd.Timestamp(when)
        s.turns.append(Turn(str(mid), content, who))
    return list(out.values())


def describe(ds: Dataset) -> dict:
    """Sizes of the (sliced) dataset for results.json."""
    cats = ds.queries["category"].astype(str).value_counts().sort_index().to_dict()
    return {"name": ds.name, **ds.stats(), "categories": cats, "load_issues": ds.report.counts()}
