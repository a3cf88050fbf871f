"""``Memory``: the mem0-compatible facade (orchestration only).

Validation happens before anything is written; every write is one store transaction.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
import warnings
from typing import Any, Optional, Sequence

import numpy as np

from memlab.config import MemoryConfig
from memlab.embedders import check_vectors, create_embedder
from memlab.enums import MemoryState, MemoryType
from memlab.errors import ConfigError, EmbeddingError, MemlabError, NotFoundError, ValidationError
from memlab.store import Store, now_iso
from memlab.store import filters as F
from memlab.store.keyword import check_mode
from memlab.validation import (
    MISSING_SCOPE, SCOPE_FIELDS, check_id, check_limit, check_memory_id, check_metadata, check_text,
    check_threshold, check_timestamp, normalize_messages,
)

V10_WARNING = (
    "The v1.0 response format (bare lists from add/get_all/search) is deprecated. "
    "Set MemoryConfig(version='v1.1') and read results from response['results']."
)
OPTIONAL_FIELDS = ("user_id", "agent_id", "run_id", "actor_id", "role")
MEMORY_TYPES = tuple(t.value for t in MemoryType)
_SCALARS = (str, int, float, bool, type(None))


def text_hash(text: str) -> str:
    """mem0's content hash: md5 of the UTF-8 text."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def resolve_config(config: Any) -> MemoryConfig:
    """A MemoryConfig from a MemoryConfig, a current dict, or a legacy mem0 dict (migrated, with a warning)."""
    if config is None:
        return MemoryConfig()
    if isinstance(config, MemoryConfig):
        return config
    if not isinstance(config, dict):
        raise ConfigError(f"config must be a MemoryConfig or a dict, got {type(config).__name__}.")
    try:
        return MemoryConfig.from_dict(config)
    except ConfigError as current_error:
        from memlab.migrate.config import migrate_config  # part of memlab: an ImportError here is a bug
        try:
            migration = migrate_config(config)
        except ConfigError as exc:
            raise ConfigError(f"{str(current_error).rstrip('.')}. "
                              f"It is not a legacy config memlab can migrate either: {exc}") from None
        warnings.warn(
            "This config uses a legacy (mem0) format and was migrated on the fly. Use the migrated form:\n"
            + migration.config.to_json()
            + "".join(f"\n! {w}" for w in migration.warnings),
            DeprecationWarning,
            stacklevel=3,
        )
        return migration.config


class Memory:
    """An in-process memory with mem0's verbs.

    Args:
        config: a :class:`MemoryConfig`, a mem0-style dict (legacy dicts are migrated with a
            ``DeprecationWarning``) or None for offline defaults (minilm embedder, rules LLM,
            in-memory store).
        path: store directory; overrides ``vector_store.config.path``.
        embedder: an embedder object (anything with ``name``, ``dims`` and ``embed``)
            instead of the configured provider.
        llm: an LLM object instead of the configured provider (see ``memlab.llms``).
    """

    def __init__(self, config: Any = None, *, path: Optional[str] = None, embedder: Any = None, llm: Any = None):
        self.config = resolve_config(config)
        vs = self.config.vector_store.settings()
        if path is not None:
            self.config.vector_store.config = {**self.config.vector_store.config, "path": str(path)}
            vs = self.config.vector_store.settings()
        self.embedder = embedder if embedder is not None else create_embedder(
            self.config.embedder.provider, self.config.embedder.config
        )
        for attr in ("name", "dims", "embed"):
            if not hasattr(self.embedder, attr):
                raise ConfigError(f"embedder object must have a '{attr}' attribute.")
        dims = self.embedder.dims
        if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
            raise ConfigError(f"embedder.dims must be a positive integer, got {dims!r}.")
        dims = int(dims)
        if vs.embedding_model_dims is not None and vs.embedding_model_dims != dims:
            raise ConfigError(
                f"vector_store.config.embedding_model_dims is {vs.embedding_model_dims} but embedder "
                f"{self.embedder.name!r} produces {dims}-d vectors; remove the setting or fix it."
            )
        self._llm = llm
        from memlab.search_settings import SearchSettings  # analyzer, fusion, context, reranker

        self.search_settings = SearchSettings.from_config(self.config, self.embedder, llm)
        self.store = Store(vs.path, dims, str(self.embedder.name), busy_timeout_ms=vs.busy_timeout_ms,
                           exact_subset_max=vs.exact_subset_max, keyword_args=self.search_settings.keyword_args())
        self._search_mode = vs.search_mode

    @classmethod
    def from_config(cls, config_dict: Any) -> "Memory":
        """mem0's constructor: a dict (current or legacy) or a MemoryConfig."""
        return cls(config=config_dict)

    # ------------------------------------------------------------------ helpers
    @property
    def llm(self):
        if self._llm is None:
            from memlab.llms import create_llm

            self._llm = create_llm(self.config.llm.provider, self.config.llm.config)
        return self._llm

    @property
    def version(self) -> str:
        return self.config.version

    def _wrap(self, items: list, relations: Optional[list] = None):
        if self.config.version == "v1.0":
            warnings.warn(V10_WARNING, DeprecationWarning, stacklevel=3)
            return items
        out: dict[str, Any] = {"results": items}
        if relations is not None or self.config.graph_store is not None:
            out["relations"] = relations or []
        return out

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:
        """Embed texts with the configured embedder, checked (finite, right size) and L2-normalised."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.store.dims), dtype=np.float32)
        try:
            raw = self.embedder.embed(texts, purpose)
        except MemlabError:
            raise
        except Exception as exc:  # a custom embedder's own failure: typed, nothing written yet
            raise EmbeddingError(f"Embedder {self.embedder.name!r} failed: {type(exc).__name__}: {exc}") from exc
        return check_vectors(raw, len(texts), self.store.dims,
                             str(self.embedder.name))

    @staticmethod
    def _item(row: dict, score: Optional[float] = None) -> dict:
        # a copy: callers must not alias the stored row (scalars are immutable, containers are copied)
        meta = {k: v if isinstance(v, _SCALARS) else copy.deepcopy(v) for k, v in (row.get("metadata") or {}).items()}
        if row.get("memory_type"):
            meta["memory_type"] = row["memory_type"]
        item = {
            "id": row["id"],
            "memory": row["memory"],
            "hash": row["hash"],
            "metadata": meta,
        }
        if score is not None:
            item["score"] = score
        item["created_at"] = row.get("created_at")
        item["updated_at"] = row.get("updated_at")
        for f in OPTIONAL_FIELDS:
            if row.get(f) is not None:
                item[f] = row[f]
        return item

    def _scope_filter(self, user_id, agent_id, run_id, filters) -> dict:
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

    @staticmethod
    def _limit(limit, top_k) -> int:
        if top_k is not None:
            top_k = check_limit(top_k, "top_k")
            if limit is not None and limit != top_k:
                raise ValidationError(f"limit ({limit}) and top_k ({top_k}) disagree; pass one of them.")
            return top_k
        return check_limit(100 if limit is None else limit)

    # ------------------------------------------------------------------ verbs
    def add(self, messages: Any, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
            run_id: Optional[str] = None, metadata: Optional[dict] = None, infer: bool = True,
            memory_type: Optional[str] = None, prompt: Optional[str] = None, return_trace: bool = False):
        """Store memories from a conversation.

        ``infer=False`` stores every non-system message as one memory (``name`` becomes
        ``actor_id``; the role is kept). ``infer=True`` runs the LLM pipeline (fact extraction,
        then ADD / UPDATE / DELETE / NONE against the 5 nearest memories of the same scope).
        ``return_trace=True`` adds the pipeline's raw payloads and timings under ``"trace"``.
        """
        scope = {
            "user_id": check_id("user_id", user_id),
            "agent_id": check_id("agent_id", agent_id),
            "run_id": check_id("run_id", run_id),
        }
        if not any(scope.values()):
            raise ValidationError(MISSING_SCOPE)
        if isinstance(memory_type, MemoryType):
            memory_type = memory_type.value
        if memory_type is not None and memory_type not in MEMORY_TYPES:
            raise ValidationError(
                f"Invalid 'memory_type'. Please pass {MemoryType.PROCEDURAL.value} to create procedural memories "
                f"(allowed: {', '.join(MEMORY_TYPES)})."
            )
        if not isinstance(infer, bool):
            raise ValidationError(f"infer must be True or False, got {infer!r}.")
        if prompt is not None:
            check_text("prompt", prompt)
        metadata = check_metadata(metadata)
        msgs = normalize_messages(messages)
        if memory_type == MemoryType.PROCEDURAL.value:
            if scope["agent_id"] is None:
                raise ValidationError(
                    "Procedural memory needs an agent_id: it summarises an agent's run "
                    "(pass agent_id=..., and user_id/run_id if you like)."
                )
            from memlab.pipeline import add_procedural

            items, trace = add_procedural(self, msgs, scope, metadata, prompt)
            return self._with_trace(self._wrap(items), trace, return_trace)
        if infer:
            from memlab.pipeline import add_inferred

            items, trace = add_inferred(self, msgs, scope, metadata, prompt, memory_type)
            result = self._wrap(items)
            if trace.get("problems") and isinstance(result, dict):  # reported, never silently dropped
                result["problems"] = list(trace["problems"])
            return self._with_trace(result, trace, return_trace)
        items = self._add_raw(msgs, scope, metadata, memory_type)
        return self._with_trace(self._wrap(items), None, return_trace)

    @staticmethod
    def _with_trace(result, trace, wanted: bool):
        if not wanted:
            return result
        if isinstance(result, list):  # v1.0 lists cannot carry a trace: wrap them
            return {"results": result, "trace": trace}
        result["trace"] = trace
        return result

    def _add_raw(self, msgs: list[dict], scope: dict, metadata: dict, memory_type: Optional[str]) -> list[dict]:
        from memlab.store.context import build_contexts

        kept = [m for m in msgs if m["role"] != "system" and m["content"].strip()]
        if not kept:
            return []
        contexts = build_contexts(kept, self.search_settings.context_window)
        windows = list(dict.fromkeys(c for c in contexts if c is not None))  # short calls repeat windows
        # one embedding call for the texts and their context windows
        embedded = self.embed([m["content"] for m in kept] + windows)
        vectors = embedded[: len(kept)]
        by_window = dict(zip(windows, embedded[len(kept):]))
        ctx_vectors = [by_window.get(c) if c is not None else None for c in contexts]
        now = now_iso()
        rows = []
        for msg, context, ctx_vec in zip(kept, contexts, ctx_vectors):
            rows.append({
                "id": str(uuid.uuid4()),
                "memory": msg["content"],
                "hash": text_hash(msg["content"]),
                "metadata": dict(metadata),
                **scope,
                "actor_id": msg.get("name"),
                "role": msg["role"],
                "memory_type": memory_type,
                "state": MemoryState.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
                "context": context,
                "context_vector": ctx_vec,
            })
        with self.store.transaction() as tx:
            for row, vec in zip(rows, vectors):
                tx.put_row(row, vec)
                tx.add_history(row["id"], None, row["memory"], "ADD", created_at=now, updated_at=now,
                               actor_id=row["actor_id"], role=row["role"])
        return [{**self._item(r), "event": "ADD"} for r in rows]

    def add_records(self, records: Sequence[dict], *, batch_size: int = 512, history: bool = True,
                    on_conflict: str = "error", in_transaction: Any = None) -> list[str]:
        """Bulk-insert memories as they are (no inference): memlab's import path.

        Each record: ``memory`` (text, required), optional ``id`` (kept; default a new uuid4),
        ``user_id`` / ``agent_id`` / ``run_id`` (at least one), ``actor_id``, ``role``,
        ``metadata``, ``memory_type``, ``state`` (default active), ``created_at``,
        ``updated_at``, ``archived_at``, ``deleted_at`` (ISO strings, kept verbatim),
        ``hash`` (default md5 of the text) and ``vector`` (reused only if it has the store's
        dimension; otherwise the text is embedded). Texts are embedded in batches and all
        records are written in ONE transaction: either every record lands or none does.

        Args:
            history: write an ADD history row per record (importers that bring their own
                history pass False and write it themselves).
            on_conflict: "error" (default) if an id already exists, "skip" or "replace".
            in_transaction: optional ``callable(tx, written_ids)`` run inside the same transaction
                after the rows are written (importers write history/categories there, atomically).
                Records with ``state="deleted"`` may lack a scope (mem0 keeps none for them).

        Returns:
            The ids written, in input order (skipped ids are left out).
        """
        if on_conflict not in ("error", "skip", "replace"):
            raise ValidationError("on_conflict must be 'error', 'skip' or 'replace'.")
        rows, vectors, todo = [], [], []
        seen: set[str] = set()
        now = now_iso()
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise ValidationError(f"records[{i}] must be a dict, got {type(rec).__name__}.")
            text = check_text(f"records[{i}]['memory']", rec.get("memory"))
            scope = {k: check_id(f"records[{i}]['{k}']", rec.get(k)) for k in SCOPE_FIELDS}
            if not any(scope.values()) and rec.get("state") != MemoryState.DELETED.value:
                raise ValidationError(f"records[{i}]: {MISSING_SCOPE}")
            memory_id = rec.get("id") or str(uuid.uuid4())
            check_memory_id(memory_id)
            if memory_id in seen:
                raise ValidationError(f"records[{i}]: id {memory_id} appears twice in this batch.")
            seen.add(memory_id)
            state = rec.get("state") or MemoryState.ACTIVE.value
            if state not in {s.value for s in MemoryState}:
                raise ValidationError(f"records[{i}]: state must be one of active, paused, archived, deleted.")
            memory_type = rec.get("memory_type")
            if memory_type is not None and memory_type not in MEMORY_TYPES:
                raise ValidationError(f"records[{i}]: invalid memory_type {memory_type!r}.")
            row = {
                "id": memory_id, "memory": text, "hash": rec.get("hash") or text_hash(text),
                "metadata": check_metadata(rec.get("metadata")), **scope,
                "actor_id": check_id(f"records[{i}]['actor_id']", rec.get("actor_id")),
                "role": rec.get("role"), "memory_type": memory_type, "state": state,
                "created_at": check_timestamp(f"records[{i}]['created_at']", rec.get("created_at")) or now,
                "updated_at": check_timestamp(f"records[{i}]['updated_at']", rec.get("updated_at")),
                "archived_at": check_timestamp(f"records[{i}]['archived_at']", rec.get("archived_at")),
                "deleted_at": check_timestamp(f"records[{i}]['deleted_at']", rec.get("deleted_at")),
                "context": (check_text(f"records[{i}]['context']", rec["context"])
                            if rec.get("context") is not None else None),
            }
            vec = rec.get("vector")
            if vec is not None:
                vec = np.asarray(vec, dtype=np.float32).reshape(-1)
                if vec.shape != (self.store.dims,) or not np.isfinite(vec).all() or not np.linalg.norm(vec):
                    vec = None
                elif abs(float(np.linalg.norm(vec)) - 1.0) > 1e-5:  # keep unit vectors bit-exact
                    vec = vec / np.linalg.norm(vec)
            if vec is None:
                todo.append(len(rows))
            rows.append(row)
            vectors.append(vec)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            embedded = self.embed([rows[j]["memory"] for j in chunk])
            for j, v in zip(chunk, embedded):
                vectors[j] = v
        # context windows (exports carry the text, not its vector): embedded like the texts
        with_ctx = [j for j, r in enumerate(rows) if r["context"]]
        for start in range(0, len(with_ctx), batch_size):
            chunk = with_ctx[start:start + batch_size]
            for j, v in zip(chunk, self.embed([rows[j]["context"] for j in chunk])):
                rows[j]["context_vector"] = v
        written: list[str] = []
        with self.store.transaction() as tx:
            for row, vec in zip(rows, vectors):
                if tx.get_row(row["id"]) is not None:
                    if on_conflict == "error":
                        raise ValidationError(
                            f"A memory with id {row['id']} already exists; pass on_conflict='skip' or 'replace'."
                        )
                    if on_conflict == "skip":
                        continue
                tx.put_row(row, vec)
                if history:
                    tx.add_history(row["id"], None, row["memory"], "ADD", created_at=row["created_at"],
                                   updated_at=row["updated_at"], actor_id=row["actor_id"], role=row["role"])
                written.append(row["id"])
            if in_transaction is not None:
                in_transaction(tx, written)
        return written

    def get(self, memory_id: str) -> Optional[dict]:
        """One memory as an item dict, or None if it does not exist (or was deleted)."""
        check_memory_id(memory_id)
        row = self.store.get(memory_id)
        if row is None or row["state"] == MemoryState.DELETED.value:
            return None
        return self._item(row)

    def get_all(self, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
                run_id: Optional[str] = None, filters: Optional[dict] = None, limit: Optional[int] = None,
                top_k: Optional[int] = None):
        """Every active memory of a scope (insertion order), up to ``limit`` (default 100)."""
        node = F.parse(self._scope_filter(user_id, agent_id, run_id, filters))
        limit = self._limit(limit, top_k)
        rows = self.store.select(node, limit=limit)
        return self._wrap([self._item(r) for r in rows])

    def search(self, query: str, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
               run_id: Optional[str] = None, filters: Optional[dict] = None, limit: Optional[int] = None,
               threshold: Optional[float] = None, top_k: Optional[int] = None, mode: Optional[str] = None,
               rerank: Optional[bool] = None, explain: bool = False):
        """Memories most relevant to ``query``, best first.

        Every memory allowed by the scope/filters is scored exactly, so a scoped search never
        misses its own memories. ``mode`` (default: ``vector_store.config.search_mode``) is
        ``"fusion"`` (default: normalised CombSUM of dense, keyword and their context channels),
        ``"dense"`` (cosine), ``"keyword"`` (BM25 over the allowed memories) or ``"hybrid"``
        (reciprocal-rank fusion of dense and BM25). ``score`` is always the cosine similarity and
        results whose cosine is below ``threshold`` are dropped; fusion/keyword/hybrid results
        also carry ``keyword_score`` (BM25) and ``rank_score`` (the value they are ordered by).

        ``rerank`` (default: on when a ``reranker`` is configured) reorders the top
        ``reranker.config.top_n`` candidates with the reranker and adds ``rerank_score``;
        ``rerank=True`` without a configured reranker changes nothing. ``explain=True`` adds
        ``explain`` to every item: each channel's raw score, rank and normalised score, the
        fused score and, when reranked, the reranker's score and the rank before reranking.
        """
        from memlab.rerankers import rerank_hits

        check_text("query", query)
        mode = check_mode(self._search_mode if mode is None else mode)
        node = F.parse(self._scope_filter(user_id, agent_id, run_id, filters))
        limit = self._limit(limit, top_k)
        threshold = check_threshold(threshold)
        if rerank is not None and not isinstance(rerank, bool):
            raise ValidationError(f"rerank must be True, False or None, got {rerank!r}.")
        if not isinstance(explain, bool):
            raise ValidationError(f"explain must be True or False, got {explain!r}.")
        settings = self.search_settings
        reranker = settings.reranker if rerank is not False else None
        depth = max(limit, settings.rerank_top_n) if reranker is not None else limit
        qvec = self.embed([query], purpose="search")[0]
        if mode == "dense":
            hits = [(row, score, {"explain": {"mode": "dense", "channels": {"dense": {"raw": score}}}}
                     if explain else {}) for row, score in self.store.search(qvec, node, depth, threshold)]
        else:
            hits = self.store.search(qvec, node, depth, threshold, mode=mode, text=query,
                                     weights=settings.fusion_weights, normalization=settings.fusion_normalization,
                                     explain=explain)
        if reranker is not None:
            hits = rerank_hits(reranker, query, hits, settings.rerank_top_n, explain=explain)
        items = []
        for row, score, extra in hits[:limit]:
            extra = {k: v for k, v in extra.items() if k != "channels"}  # internal: reranker features
            items.append({**self._item(row, score), **extra})
        return self._wrap(items)

    def update(self, memory_id: str, data: Optional[str] = None, *, text: Optional[str] = None,
               metadata: Optional[dict] = None) -> dict:
        """Change a memory's text (mem0 1.x ``data`` or 2.x ``text``) and/or merge metadata."""
        check_memory_id(memory_id)
        if data is not None and text is not None and data != text:
            raise ValidationError("Pass the new text once: either data (mem0 1.x) or text= (mem0 2.x).")
        new_text = text if text is not None else data
        if new_text is None and metadata is None:
            raise ValidationError("update() needs new text (data/text=) or metadata=.")
        if new_text is not None:
            check_text("text", new_text)
        new_meta = check_metadata(metadata) if metadata is not None else None
        row = self.store.get(memory_id)
        if row is None or row["state"] == MemoryState.DELETED.value:
            raise NotFoundError(f"Memory with id {memory_id} not found.")
        vector = self.embed([new_text])[0] if new_text is not None and new_text != row["memory"] else None
        with self.store.transaction() as tx:
            current = tx.get_row(memory_id)
            if current is None or current["state"] == MemoryState.DELETED.value:
                raise NotFoundError(f"Memory with id {memory_id} not found.")
            self._apply_update(tx, current, new_text, new_meta, vector)
        return {"message": "Memory updated successfully!"}

    def _apply_update(self, tx, current: dict, new_text: Optional[str], new_meta: Optional[dict],
                      vector: Optional[np.ndarray], now: Optional[str] = None) -> dict:
        now = now or now_iso()
        vec = current.pop("vector")
        current.pop("vid", None)
        old_text = current["memory"]
        if new_text is not None and new_text != old_text:
            if vector is None:
                vector = self.embed([new_text])[0]
            current["memory"] = new_text
            current["hash"] = text_hash(new_text)
            vec = vector
            # the context window described the original message in its conversation; the new
            # text is no longer that message, so its context channels fall back to the text itself
            current["context"] = current["context_vector"] = None
        if new_meta is not None:
            current["metadata"] = {**(current.get("metadata") or {}), **new_meta}
        current["updated_at"] = now
        tx.put_row(current, vec)
        tx.add_history(current["id"], old_text, current["memory"], "UPDATE", created_at=current["created_at"],
                       updated_at=now, actor_id=current.get("actor_id"), role=current.get("role"))
        return current

    def delete(self, memory_id: str) -> dict:
        """Soft-delete a memory (kept in history; ``get`` returns None afterwards)."""
        check_memory_id(memory_id)
        with self.store.transaction() as tx:
            current = tx.get_row(memory_id)
            if current is None or current["state"] == MemoryState.DELETED.value:
                raise NotFoundError(f"Memory with id {memory_id} not found.")
            self._apply_delete(tx, current)
        return {"message": "Memory deleted successfully!"}

    def _apply_delete(self, tx, current: dict, now: Optional[str] = None) -> None:
        now = now or now_iso()
        vec = current.pop("vector")
        current.pop("vid", None)
        current["state"] = MemoryState.DELETED.value
        current["deleted_at"] = now
        current["updated_at"] = now
        tx.put_row(current, vec)
        tx.add_history(current["id"], current["memory"], None, "DELETE", created_at=current["created_at"],
                       updated_at=now, is_deleted=True, actor_id=current.get("actor_id"), role=current.get("role"))

    def delete_all(self, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
                   run_id: Optional[str] = None, filters: Optional[dict] = None) -> dict:
        """Soft-delete every active memory of a scope, in one transaction."""
        merged = self._scope_filter(user_id, agent_id, run_id, filters)
        if not any(merged.get(k) for k in SCOPE_FIELDS):
            raise ValidationError(
                "At least one filter is required to delete all memories. "
                "If you want to delete all memories, use the `reset()` method."
            )
        node = F.parse(merged)
        ids = [r["id"] for r in self.store.select(node)]
        now = now_iso()
        with self.store.transaction() as tx:
            for memory_id in ids:
                current = tx.get_row(memory_id)
                if current is not None and current["state"] == MemoryState.ACTIVE.value:
                    self._apply_delete(tx, current, now)
        return {"message": "Memories deleted successfully!"}

    def set_state(self, memory_id: str, state: str) -> dict:
        """Move a memory between active / paused / archived (OpenMemory's states)."""
        check_memory_id(memory_id)
        allowed = (MemoryState.ACTIVE.value, MemoryState.PAUSED.value, MemoryState.ARCHIVED.value)
        if state not in allowed:
            raise ValidationError(f"state must be one of {', '.join(allowed)} (use delete() to delete), got {state!r}.")
        with self.store.transaction() as tx:
            current = tx.get_row(memory_id)
            if current is None or current["state"] == MemoryState.DELETED.value:
                raise NotFoundError(f"Memory with id {memory_id} not found.")
            vec = current.pop("vector")
            current.pop("vid", None)
            now = now_iso()
            old_state = current["state"]
            current["state"] = state
            current["archived_at"] = now if state == MemoryState.ARCHIVED.value else None
            current["updated_at"] = now
            tx.put_row(current, vec)
            tx.add_history(memory_id, current["memory"], current["memory"], f"STATE:{old_state}->{state}",
                           created_at=current["created_at"], updated_at=now,
                           actor_id=current.get("actor_id"), role=current.get("role"))
        return {"message": f"Memory state set to {state}."}

    def history(self, memory_id: str) -> list[dict]:
        """Every recorded change of a memory, oldest first (mem0's history rows)."""
        check_memory_id(memory_id)
        rows = self.store.history(memory_id)
        if not rows and self.store.get(memory_id) is None:
            raise NotFoundError(f"Memory with id {memory_id} not found.")
        for r in rows:
            r["is_deleted"] = bool(r["is_deleted"])
        return rows

    def reset(self) -> None:
        """Delete every memory and all history (the store directory stays)."""
        with self.store.transaction() as tx:
            tx.wipe()

    def to_pandas(self, *, expand_metadata: bool = False, include_deleted: bool = False):
        """A DataFrame of memories, one row each, in insertion order."""
        with self.store.lock:
            self.store.sync()
            t = self.store.table
            positions = np.arange(t.n)
            if not include_deleted:
                states = t.column("state")
                positions = positions[states != MemoryState.DELETED.value] if t.n else positions
            return t.to_pandas(positions, expand_metadata=expand_metadata)

    def check(self, repair: bool = False):
        """Check this memory's store (SQLite integrity, vectors, index vs rows, embedder) and,
        with ``repair=True``, fix what can be fixed. Returns a :class:`memlab.doctor.DoctorReport`."""
        from memlab.doctor import check_memory

        return check_memory(self, repair=repair)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Memory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.store.path) if self.store.path else "in-memory"
        try:
            count = self.store.count()
        except MemlabError:  # a repr must not raise (e.g. after close())
            count = "closed"
        return f"Memory({where}, embedder={self.embedder.name!r}, memories={count})"
