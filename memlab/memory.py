"""``Memory``: the mem0-compatible facade (orchestration only).

Validation happens before anything is written; every write is one store transaction.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import numpy as np

from memlab.config_migration import resolve_config
from memlab.embedders import check_embedder, create_embedder, embed_checked
from memlab.enums import SCOPE_FIELDS, MemoryState, MemoryType
from memlab.errors import (
    ConfigError,
    MemlabError,
    NotFoundError,
    ValidationError,
)
from memlab.graph.hooks import attach_relations, graph_scope
from memlab.pipeline import Engine, add_inferred, add_procedural
from memlab.search import SearchSettings, check_search_flags, ranked_hits
from memlab.store import filters as F
from memlab.store import now_iso, open_store
from memlab.ranking.modes import check_mode
from memlab.store.records import insert_messages, insert_records
from memlab.store.rows import (
    apply_delete,
    apply_state,
    apply_update,
    item_of,
)
from memlab.store.scoping import merge_scope, read_filter, resolve_limit
from memlab.validation import (
    MISSING_SCOPE,
    check_add_timestamp,
    check_expiration_date,
    check_id,
    check_memory_id,
    check_memory_type,
    check_metadata,
    check_text,
    check_threshold,
    normalize_messages,
)

V10_WARNING = (
    "The v1.0 response format (bare lists from add/get_all/search) is deprecated. "
    "Set MemoryConfig(version='v1.1') and read results from response['results']."
)
_UNSET: Any = object()  # update(expiration_date=None) clears the date; leaving it out keeps it


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
        dims = check_embedder(self.embedder)
        if vs.embedding_model_dims is not None and vs.embedding_model_dims != dims:
            raise ConfigError(
                f"vector_store.config.embedding_model_dims is {vs.embedding_model_dims} but embedder "
                f"{self.embedder.name!r} produces {dims}-d vectors; remove the setting or fix it."
            )
        self._llm = llm
        self.search_settings = SearchSettings.from_config(self.config, self.embedder, llm)  # analyzer, fusion, reranker
        self.store = open_store(self.config.vector_store.provider, vs, dims, str(self.embedder.name),
                                keyword_args=self.search_settings.keyword_args())
        self._search_mode = vs.search_mode
        self.graph = None  # GraphMemory when config.graph_store is set (memlab.graph; needs memlab[graph])
        if self.config.graph_store is not None:
            from memlab.graph import open_graph

            try:
                self.graph = open_graph(self.config, vs.path, lambda: self.llm)
            except BaseException:
                self.store.close()
                raise

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

    def _engine(self) -> Engine:
        """The pieces the infer=True pipeline works with (it never sees this facade)."""
        return Engine(store=self.store, embed=self.embed, llm=self.llm, config=self.config)

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:
        """Embed texts with the configured embedder, checked (finite, right size) and L2-normalised."""
        return embed_checked(self.embedder, texts, purpose, self.store.dims)

    # ------------------------------------------------------------------ verbs
    def add(self, messages: Any, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
            run_id: Optional[str] = None, metadata: Optional[dict] = None, infer: bool = True,
            memory_type: Optional[str] = None, prompt: Optional[str] = None, return_trace: bool = False,
            expiration_date: Any = None, timestamp: Any = None):
        """Store memories from a conversation.

        ``infer=False`` stores every non-system message as one memory (``name`` becomes
        ``actor_id``; the role is kept). ``infer=True`` runs the LLM pipeline (fact extraction,
        then ADD / UPDATE / DELETE / NONE against the 5 nearest memories of the same scope).
        ``return_trace=True`` adds the pipeline's raw payloads and timings under ``"trace"``.
        ``expiration_date`` (``YYYY-MM-DD``, a date or datetime; mem0 >= 2.0.10) hides the new memories
        from search/get_all after that day; they stay in get(), history and exports.
        ``timestamp`` (mem0 platform: Unix seconds; also ISO or a datetime) is when the conversation
        happened: the memories' created_at / updated_at and history take it instead of now, and a
        query naming that date finds them through the ``time`` search channel. As in mem0, a
        ``metadata["created_at"]`` does the same (and is not kept in metadata); ``timestamp`` wins.
        """
        scope = {"user_id": check_id("user_id", user_id), "agent_id": check_id("agent_id", agent_id),
                 "run_id": check_id("run_id", run_id)}
        if not any(scope.values()):
            raise ValidationError(MISSING_SCOPE)
        memory_type = check_memory_type(memory_type)
        if not isinstance(infer, bool):
            raise ValidationError(f"infer must be True or False, got {infer!r}.")
        if prompt is not None:
            check_text("prompt", prompt)
        metadata = check_metadata(metadata)
        expires = check_expiration_date(expiration_date)
        stamped = metadata.pop("created_at", None)  # mem0 keeps a created_at given in metadata
        when = check_add_timestamp(timestamp) if timestamp is not None else check_add_timestamp(stamped, "created_at")
        msgs = normalize_messages(messages)
        if memory_type == MemoryType.PROCEDURAL.value:
            if scope["agent_id"] is None:
                raise ValidationError(
                    "Procedural memory needs an agent_id: it summarises an agent's run "
                    "(pass agent_id=..., and user_id/run_id if you like)."
                )
            items, trace = add_procedural(self._engine(), msgs, scope, metadata, prompt, expiration_date=expires,
                                         timestamp=when)
            return self._with_trace(self._wrap(items), trace, return_trace)
        plan = self.graph.plan(msgs, scope) if self.graph is not None else None  # LLM work before any write
        if infer:
            items, trace = add_inferred(self._engine(), msgs, scope, metadata, prompt, memory_type, expiration_date=expires,
                                        timestamp=when)
            result = self._wrap(items)
            if trace.get("problems") and isinstance(result, dict):  # reported, never silently dropped
                result["problems"] = list(trace["problems"])
            return self._with_trace(attach_relations(self.graph, result, plan, scope, items), trace, return_trace)
        items = insert_messages(self.store, self.embed, msgs, scope, metadata, memory_type=memory_type,
                                expiration_date=expires, context_window=self.search_settings.context_window,
                                timestamp=when)
        return self._with_trace(attach_relations(self.graph, self._wrap(items), plan, scope, items), None, return_trace)

    @staticmethod
    def _with_trace(result, trace, wanted: bool):
        if not wanted:
            return result
        if isinstance(result, list):  # v1.0 lists cannot carry a trace: wrap them
            return {"results": result, "trace": trace}
        result["trace"] = trace
        return result

    def add_records(self, records: Sequence[dict], *, batch_size: int = 512, history: bool = True,
                    on_conflict: str = "error", in_transaction: Any = None,
                    category_catalog: Optional[Sequence[dict]] = None) -> list[str]:
        """Bulk-insert memories as they are (no inference): memlab's import path.

        Each record: ``memory`` (text, required), optional ``id`` (kept; default a new uuid4),
        ``user_id`` / ``agent_id`` / ``run_id`` (at least one), ``actor_id``, ``role``,
        ``metadata``, ``memory_type``, ``state`` (default active), ``created_at``,
        ``updated_at``, ``archived_at``, ``deleted_at`` (ISO strings, kept verbatim),
        ``expiration_date`` (``YYYY-MM-DD``), ``categories`` (category names),
        ``hash`` (default md5 of the text) and ``vector`` (reused only if it has the store's
        dimension; otherwise the text is embedded). Texts are embedded in batches and all
        records are written in ONE transaction: either every record lands or none does.

        Args:
            history: write an ADD history row per record (importers that bring their own
                history pass False and write it themselves).
            on_conflict: "error" (default) if an id already exists, "skip" or "replace".
            category_catalog: optional category rows (``name`` and ``id`` / ``description`` /
                ``created_at`` / ``updated_at``) used when a record names a category the store
                does not have yet (importers keep the source's ids and descriptions this way).
            in_transaction: optional ``callable(tx, written_ids)`` run inside the same transaction
                after the rows are written (importers write history/categories there, atomically).
                Records with ``state="deleted"`` may lack a scope (mem0 keeps none for them).

        Returns:
            The ids written, in input order (skipped ids are left out).
        """
        return insert_records(self.store, self.embed, records, batch_size=batch_size, history=history,
                              on_conflict=on_conflict, in_transaction=in_transaction,
                              category_catalog=category_catalog)

    def get(self, memory_id: str) -> Optional[dict]:
        """One memory as an item dict, or None if it does not exist (or was deleted)."""
        check_memory_id(memory_id)
        row = self.store.get(memory_id)
        if row is None or row["state"] == MemoryState.DELETED.value:
            return None
        return item_of(row)

    def get_all(self, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
                run_id: Optional[str] = None, filters: Optional[dict] = None, limit: Optional[int] = None,
                top_k: Optional[int] = None, all_scopes: bool = False, show_expired: bool = False):
        """Every active memory of a scope (insertion order), up to ``limit`` (default 100).

        A scope (user_id / agent_id / run_id, as an argument or a filter) is required, as in mem0
        2.x; ``all_scopes=True`` reads every scope on purpose. ``filters={"state": "archived"}``
        (or any filter naming ``state``) reads non-active memories; ``show_expired=True`` includes
        memories whose ``expiration_date`` has passed. With a graph store, ``relations`` lists the scope's relations.
        """
        merged, node = read_filter(self.store, user_id, agent_id, run_id, filters, all_scopes, show_expired)
        limit = resolve_limit(limit, top_k)
        rows = self.store.select(node, limit=limit)
        relations = self.graph.get_all(graph_scope(merged), limit) if self.graph is not None else None
        return self._wrap([item_of(r) for r in rows], relations)

    def search(self, query: str, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
               run_id: Optional[str] = None, filters: Optional[dict] = None, limit: Optional[int] = None,
               threshold: Optional[float] = None, top_k: Optional[int] = None, mode: Optional[str] = None,
               all_scopes: bool = False, show_expired: bool = False, graph: bool = False,
               rerank: Optional[bool] = None, explain: bool = False, reference_date: Any = None):
        """Memories most relevant to ``query``, best first.

        Every memory allowed by the scope/filters is scored exactly, so a scoped search never
        misses its own memories. ``mode`` (default: ``vector_store.config.search_mode``) is
        ``"fusion"`` (default: normalised CombSUM of dense, keyword and their context channels),
        ``"dense"`` (cosine), ``"keyword"`` (BM25 over the allowed memories) or ``"hybrid"``
        (dense and BM25 candidates). In every mode ``score`` is one calibrated relevance in [0, 1] (an
        estimate of P(relevant), memlab.ranking.calibration), results are ordered by it and
        ``threshold`` (in [0, 1], as in mem0 2.x) drops results scoring below it;
        fusion/keyword/hybrid results also carry ``keyword_score`` (BM25) and ``rank_score`` (the
        mode's fusion value, shown for reference).

        ``rerank`` (default: on when a ``reranker`` is configured) refines the top
        ``reranker.config.top_n`` candidates with the reranker and adds ``rerank_score``;
        ``rerank=True`` without a configured reranker changes nothing. ``explain=True`` adds mem0's
        ``score_details`` (semantic_score, bm25_score, entity_boost, raw_score, max_possible_score,
        final_score == score, threshold) and ``explain``: each channel's raw score, rank and normalised
        score, the fused score, the calibration's features and, when reranked, the reranker's score and
        the rank before reranking.
        Scope rules (``all_scopes``, ``show_expired``, ``state``) are those of :meth:`get_all`.
        With a graph store, ``relations`` lists the relations around the query's entities, and
        ``graph=True`` fuses the memories linked to them into the ranking (memlab.search.graph_fused).
        """
        check_text("query", query)
        mode = check_mode(self._search_mode if mode is None else mode)
        merged, node = read_filter(self.store, user_id, agent_id, run_id, filters, all_scopes, show_expired)
        limit = resolve_limit(limit, top_k)
        threshold = check_threshold(threshold)
        check_search_flags(rerank, explain)
        if not isinstance(graph, bool):
            raise ValidationError(f"graph must be True or False, got {graph!r}.")
        if graph and self.graph is None:
            raise ConfigError("search(graph=True) needs a graph store: add {'graph_store': {'provider': 'kuzu'}} "
                              "to the config (pip install 'memlab[graph]').")
        qvec = self.embed([query], purpose="search")[0]
        relations = self.graph.search(query, graph_scope(merged), limit) if self.graph is not None else None
        linked = self.graph.linked_memories(query, graph_scope(merged)) if graph else None
        hits = ranked_hits(self.store, self.search_settings, query, qvec, node, mode=mode, limit=limit,
                           threshold=threshold, rerank=rerank, explain=explain, linked=linked,
                           reference_date=reference_date)
        return self._wrap([{**item_of(row, score), **extra} for row, score, extra in hits], relations)

    def update(self, memory_id: str, data: Optional[str] = None, *, text: Optional[str] = None,
               metadata: Optional[dict] = None, expiration_date: Any = _UNSET) -> dict:
        """Change a memory's text (mem0 1.x ``data`` or 2.x ``text``), merge metadata and/or set
        ``expiration_date`` (``None`` clears it, as in mem0)."""
        check_memory_id(memory_id)
        if data is not None and text is not None and data != text:
            raise ValidationError("Pass the new text once: either data (mem0 1.x) or text= (mem0 2.x).")
        new_text = text if text is not None else data
        if new_text is None and metadata is None and expiration_date is _UNSET:
            raise ValidationError("update() needs new text (data/text=), metadata= or expiration_date=.")
        expires = _UNSET if expiration_date is _UNSET else check_expiration_date(expiration_date)
        if new_text is not None:
            check_text("text", new_text)
        new_meta = check_metadata(metadata) if metadata is not None else None
        row = self.store.get(memory_id)
        if row is None or row["state"] == MemoryState.DELETED.value:
            raise NotFoundError(f"Memory with id {memory_id} not found.")
        vector = self.embed([new_text])[0] if new_text is not None else None  # even if unchanged: racing writers
        with self.store.transaction() as tx:
            current = tx.get_row(memory_id)
            if current is None or current["state"] == MemoryState.DELETED.value:
                raise NotFoundError(f"Memory with id {memory_id} not found.")
            if expires is not _UNSET:
                current["expiration_date"] = expires
            apply_update(tx, current, new_text, new_meta, vector, now_iso())
        return {"message": "Memory updated successfully!"}

    def delete(self, memory_id: str) -> dict:
        """Soft-delete a memory (kept in history; ``get`` returns None afterwards)."""
        check_memory_id(memory_id)
        with self.store.transaction() as tx:
            current = tx.get_row(memory_id)
            if current is None or current["state"] == MemoryState.DELETED.value:
                raise NotFoundError(f"Memory with id {memory_id} not found.")
            apply_delete(tx, current, now_iso())
        if self.graph is not None:  # relations that only this memory supported go with it
            self.graph.forget({memory_id}, {k: current[k] for k in SCOPE_FIELDS if current.get(k)})
        return {"message": "Memory deleted successfully!"}

    def delete_all(self, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
                   run_id: Optional[str] = None, filters: Optional[dict] = None) -> dict:
        """Soft-delete every active memory of a scope, in one transaction."""
        merged = merge_scope(user_id, agent_id, run_id, filters)
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
                    apply_delete(tx, current, now)
        if self.graph is not None and set(merged) <= set(SCOPE_FIELDS):
            self.graph.delete_all(graph_scope(merged))  # a whole scope: its graph goes
        elif self.graph is not None:  # a filtered subset: unlink those memories only
            self.graph.forget(set(ids), graph_scope(merged))
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
            apply_state(tx, current, state, now_iso())
        return {"message": f"Memory state set to {state}."}

    def history(self, memory_id: str) -> list[dict]:
        """Every recorded change of a memory, oldest first (mem0's history rows); ``[]`` for an id
        the store never had (or had before ``reset()``), as in mem0."""
        check_memory_id(memory_id)
        rows = self.store.history(memory_id)
        for r in rows:
            r["is_deleted"] = bool(r["is_deleted"])
        return rows

    def reset(self) -> None:
        """Delete every memory and all history (the store directory stays)."""
        with self.store.transaction() as tx:
            tx.wipe()
        if self.graph is not None:
            self.graph.reset()

    def to_pandas(self, *, expand_metadata: bool = False, include_deleted: bool = False):
        """A DataFrame of memories, one row each, in insertion order."""
        return self.store.to_pandas(expand_metadata=expand_metadata, include_deleted=include_deleted)

    def check(self, repair: bool = False):
        """Check this memory's store (SQLite integrity, vectors, index vs rows, embedder) and,
        with ``repair=True``, fix what can be fixed. Returns a :class:`memlab.doctor.DoctorReport`."""
        from memlab.doctor import check_memory

        return check_memory(self, repair=repair)

    def close(self) -> None:
        self.store.close()
        if self.graph is not None:
            self.graph.close()

    def __enter__(self) -> "Memory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.store.path) if self.store.path else getattr(self.store, "location", "in-memory")
        try:
            count = self.store.count()
        except MemlabError:  # a repr must not raise (e.g. after close())
            count = "closed"
        return f"Memory({where}, embedder={self.embedder.name!r}, memories={count})"
