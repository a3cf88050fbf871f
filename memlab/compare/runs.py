"""The two sides of a comparison: live memories and recorded runs.

A *side* answers "top-k memories for this query". It is either a live :class:`memlab.Memory`
(searched now), a :class:`Run` (per-query results recorded earlier and saved as JSON), or
something that builds a memory: a config plus the records to load into it, or a path to a
store directory, a config file or a saved run.

Run file format (``Run.save``, JSON)::

    {"format": "memlab.run", "format_version": 1, "label": "...", "k": 10, "threshold": null,
     "meta": {...}, "queries": [{"query_id": "q1", "query": "...", "user_id": "...",
                                 "results": [{"id": ..., "memory": ..., "hash": ..., "score": ...}]}]}

A ``.jsonl`` run holds the same query entries, one per line, without the header.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from memlab.compare.queries import SCOPE_KEYS, Query
from memlab.errors import ConfigError, ValidationError

RUN_FORMAT = "memlab.run"
HIT_FIELDS = ("id", "memory", "hash", "score")


@dataclass
class Run:
    """Per-query retrieval results, recorded from a memory (or loaded from a file)."""

    label: str
    k: int
    threshold: Optional[float]
    results: dict[str, list[dict]]
    queries: dict[str, dict] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def hits(self, query: Query, k: int, threshold: Optional[float]) -> list[dict]:
        """The recorded top-``k`` hits of ``query`` (scores below ``threshold`` dropped)."""
        if query.query_id not in self.results:
            raise ValidationError(
                f"The recorded run {self.label!r} has no results for query {query.query_id!r} "
                f"({query.text!r}); record it with these queries or compare only the recorded ones."
            )
        recorded = self.queries.get(query.query_id, {}).get("query")
        if recorded is not None and recorded != query.text:
            raise ValidationError(
                f"Query {query.query_id!r} is {query.text!r} here but {recorded!r} in the recorded run "
                f"{self.label!r}; query ids must name the same query on both sides."
            )
        if k > self.k:
            raise ValidationError(
                f"The run {self.label!r} was recorded with k={self.k}; compare with k<={self.k} or re-record it."
            )
        if self.threshold is not None and (threshold is None or threshold < self.threshold):
            raise ValidationError(
                f"The run {self.label!r} was recorded with threshold={self.threshold}; results below it are "
                f"missing, so it cannot be compared at threshold={threshold}. Compare at "
                f"threshold>={self.threshold} or re-record it."
            )
        out = [dict(h) for h in self.results[query.query_id]]
        if threshold is not None:
            out = [h for h in out if h["score"] is not None and h["score"] >= threshold]
        return out[:k]

    def to_dict(self) -> dict:
        entries = []
        for qid, hits in self.results.items():
            entry = {"query_id": qid, **{k: v for k, v in self.queries.get(qid, {}).items() if k != "query_id"}}
            entry["results"] = hits
            entries.append(entry)
        return {"format": RUN_FORMAT, "format_version": 1, "label": self.label, "k": self.k,
                "threshold": self.threshold, "meta": self.meta, "queries": entries}

    def save(self, path: str | Path) -> Path:
        """Write the run as JSON (``.json``) or JSON lines (``.jsonl``, query entries only)."""
        path = Path(path)
        data = self.to_dict()
        if path.suffix.lower() == ".jsonl":
            text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in data["queries"])
        else:
            text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: Any, *, label: Optional[str] = None) -> "Run":
        if isinstance(data, list):  # JSONL body: query entries only
            data = {"format": RUN_FORMAT, "queries": data}
        if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
            raise ValidationError(f"Not a memlab run: expected a dict with format={RUN_FORMAT!r}.")
        results: dict[str, list[dict]] = {}
        queries: dict[str, dict] = {}
        longest = 0
        for i, entry in enumerate(data.get("queries") or []):
            if not isinstance(entry, dict) or "query_id" not in entry or not isinstance(entry.get("results"), list):
                raise ValidationError(f"run queries[{i}] needs 'query_id' and a 'results' list.")
            hits = []
            for j, hit in enumerate(entry["results"]):
                if not isinstance(hit, dict) or "id" not in hit or "memory" not in hit:
                    raise ValidationError(f"run queries[{i}].results[{j}] needs 'id' and 'memory'.")
                hits.append(_hit(hit))
            qid = str(entry["query_id"])
            results[qid] = hits
            queries[qid] = {k: v for k, v in entry.items() if k != "results"}
            longest = max(longest, len(hits))
        k = data.get("k") or max(longest, 1)
        return cls(label or data.get("label") or "recorded", int(k), data.get("threshold"), results, queries,
                   dict(data.get("meta") or {}))

    @classmethod
    def load(cls, path: str | Path, *, label: Optional[str] = None) -> "Run":
        path = Path(path)
        if not path.is_file():
            raise ValidationError(f"Run file {str(path)!r} does not exist.")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() == ".jsonl":
                data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Run file {str(path)!r} is not valid JSON: {exc}.") from None
        return cls.from_dict(data, label=label or path.stem)


def _hit(item: dict) -> dict:
    score = item.get("score")
    if score is not None:
        score = float(score)
        if math.isnan(score):
            score = None
    out = {"id": str(item["id"]), "memory": item["memory"], "hash": item.get("hash"), "score": score}
    if out["hash"] is None:
        from memlab.store.rows import text_hash

        out["hash"] = text_hash(item["memory"])
    return out


def search_hits(memory: Any, query: Query, k: int, threshold: Optional[float]) -> list[dict]:
    """Top-``k`` hits of a live memory for ``query``, as plain hit dicts, whatever its version."""
    from memlab.compare.payloads import results_of

    kwargs = query.search_kwargs()
    scoped = any(key in kwargs or key in (kwargs.get("filters") or {}) for key in SCOPE_KEYS)
    if not scoped and _is_memlab(memory):
        # a query without a scope asks the whole store: say so explicitly (memlab raises otherwise, as mem0 2.x)
        kwargs["all_scopes"] = True
    response = memory.search(query.text, limit=k, threshold=threshold, **kwargs)
    return [_hit(item) for item in results_of(response)]


def _is_memlab(memory: Any) -> bool:
    from memlab.async_memory import AsyncMemory
    from memlab.memory import Memory

    inner = getattr(memory, "_memory", memory)  # AdaptedMemory / AsyncMemory wrap a Memory
    return isinstance(inner, (Memory, AsyncMemory)) or isinstance(memory, Memory)


def record_run(memory: Any, queries: Any, *, k: int = 10, threshold: Optional[float] = None,
               label: Optional[str] = None) -> Run:
    """Search ``memory`` with every query and keep the results as a :class:`Run` (save it with ``.save``)."""
    from memlab.compare.queries import normalize_queries

    qs = normalize_queries(queries)
    results = {q.query_id: search_hits(memory, q, k, threshold) for q in qs}
    meta = {"recorded_at": datetime.now(timezone.utc).isoformat(), "source": repr(memory)}
    embedder = getattr(getattr(memory, "embedder", None), "name", None)
    if embedder:
        meta["embedder"] = embedder
    return Run(label or "recorded", k, threshold, results, {q.query_id: q.to_dict() for q in qs}, meta)


# ---------------------------------------------------------------------------- opening sides
@dataclass
class Side:
    """A resolved side: a live memory or a run, and whether we opened it (and must close it)."""

    label: str
    memory: Any = None
    run: Optional[Run] = None
    owned: bool = False

    def hits(self, query: Query, k: int, threshold: Optional[float]) -> list[dict]:
        if self.run is not None:
            return self.run.hits(query, k, threshold)
        return search_hits(self.memory, query, k, threshold)

    def describe(self) -> dict:
        if self.run is not None:
            return {"label": self.label, "kind": "recorded run", **{k: v for k, v in self.run.meta.items()
                                                                   if isinstance(v, (str, int, float))}}
        emb = getattr(getattr(self.memory, "embedder", None), "name", None)
        return {"label": self.label, "kind": "memory", "embedder": emb, "memories": self.memory.store.count()}

    def close(self) -> None:
        if self.owned and self.memory is not None:
            self.memory.close()


def records_of(source: Any) -> list[dict]:
    """Import records (for ``Memory.add_records``) from a Memory (its active memories), a DataFrame
    (e.g. ``Memory.to_pandas()``) or a list of dicts.

    Vectors are not carried over: the receiving memory embeds the texts with its own embedder.
    """
    import pandas as pd

    if hasattr(source, "to_pandas") and hasattr(source, "store"):
        # Raw store rows keep timestamps as the ISO strings they were written with (to_pandas parses them).
        source = source.store.select(None)
    if isinstance(source, pd.DataFrame):
        source = source.to_dict("records")
    if not isinstance(source, Sequence) or isinstance(source, (str, bytes)):
        raise ValidationError("records must be a Memory, a DataFrame of memories or a list of record dicts.")
    out = []
    for i, rec in enumerate(source):
        if not isinstance(rec, dict):
            raise ValidationError(f"records[{i}] must be a dict, got {type(rec).__name__}.")
        clean = {}
        for key, value in rec.items():
            if key in ("vector", "vid", "seq"):
                continue
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif isinstance(value, pd.Timestamp):
                value = None if pd.isna(value) else value.isoformat()
            elif value is pd.NaT:
                value = None
            if value is not None:
                clean[key] = value
        out.append(clean)
    return out


def _config_memory(config: Any, records: Any, label: str) -> Side:
    from memlab import Memory
    from memlab.config_migration import resolve_config

    cfg = resolve_config(config)
    if records is None:
        path = cfg.vector_store.config.get("path")
        # a pgvector path is PostgreSQL's data directory, not a memlab store directory
        if path and cfg.vector_store.provider == "faiss" and not (Path(path) / "memlab.db").exists():
            raise ValidationError(f"The {label} config points at {path!r}, which holds no memlab store.")
        memory = Memory(cfg)
        if memory.store.count() == 0:
            memory.close()
            raise ValidationError(
                f"The {label} config opens an empty store: give it a vector_store path with memories, "
                "or pass records=... to build both memories from the same data."
            )
        return Side(label, memory=memory, owned=True)
    # A comparison copy lives in memory: loading records must never write into a configured store.
    if cfg.vector_store.provider != "faiss":  # a PostgreSQL "copy" would be the configured table itself
        raise ValidationError(
            f"The {label} side is a {cfg.vector_store.provider} config: records= would write into its database. "
            "Fill that store first (Memory.add_records, or DataMigrator from another store) and compare without "
            "records=, or pass a Memory opened on it.")
    cfg = cfg.model_copy(deep=True)
    cfg.vector_store.config = {**cfg.vector_store.config, "path": None}
    memory = Memory(cfg)
    try:
        memory.add_records(records_of(records))
    except Exception:
        memory.close()
        raise
    return Side(label, memory=memory, owned=True)


def open_side(source: Any, *, records: Any = None, label: str = "side") -> Side:
    """Resolve one side of a comparison (see the module docstring for what ``source`` may be)."""
    from memlab import Memory, MemoryConfig

    if isinstance(source, Side):
        return source
    if isinstance(source, Run):
        return Side(label if label != "side" else source.label, run=source)
    if isinstance(source, Memory) or (hasattr(source, "search") and hasattr(source, "store")):
        if records is not None:
            raise ValidationError(f"records= builds memories from configs; the {label} side is already a Memory.")
        return Side(label, memory=source)
    if isinstance(source, (MemoryConfig, dict)):
        if isinstance(source, dict) and source.get("format") == RUN_FORMAT:
            return Side(label, run=Run.from_dict(source, label=label))
        return _config_memory(source, records, label)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            from memlab.migrate.stores import store_config

            cfg = store_config(path)  # the embedder the store recorded
            if records is not None:
                raise ValidationError(f"{str(path)!r} is a store; records= only applies to configs.")
            return _config_memory(cfg, None, label)
        if not path.is_file():
            raise ValidationError(f"The {label} side {str(path)!r} is neither a store directory nor a file.")
        if path.suffix.lower() == ".jsonl" or _is_run_file(path):
            return Side(label, run=Run.load(path, label=label))
        try:
            config = MemoryConfig.load(path)
        except ConfigError as exc:  # say which side and what it could have been, not just the parse error
            raise ConfigError(f"The {label} side {str(path)!r} is not a store directory, a saved run or a valid "
                              f"config file: {exc}") from None
        return _config_memory(config, records, label)
    raise ValidationError(
        f"The {label} side must be a Memory, a MemoryConfig/dict (with records=), a Run, or a path to a "
        f"store directory, config file or saved run; got {type(source).__name__}."
    )


def _is_run_file(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and data.get("format") == RUN_FORMAT


__all__ = ["Run", "Side", "record_run", "open_side", "records_of", "search_hits", "SCOPE_KEYS"]
