"""One retrieval pass per query, without a threshold: the input of metrics and threshold sweeps.

- :func:`build_memory` loads a :class:`Dataset` into a memlab :class:`~memlab.Memory`. Memories
  that carry a conversation (``metadata["session"]``, as LoCoMo and LongMemEval turns do) are
  stored the way applications store chat history: each conversation with ONE
  ``add(messages, infer=False)`` call (speaker -> ``name``), so every turn gets its context
  window. Other memories are bulk-loaded with ``Memory.add_records`` keeping their ids and times.
- :func:`retrieve` runs every query against its own scope through the engine's own search
  (``Memory.search``): one implementation of every method, the same the application gets.
  Returns a *run* DataFrame ``query_id, memory_id, score, rank`` (``score`` = the calibrated relevance
  every method orders by and ``search(threshold=...)`` cuts on).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from memlab.config import DEFAULT_FUSION_WEIGHTS
from memlab.errors import ValidationError
from memlab.evaluate.datasets import Dataset
from memlab.ranking.bm25 import tokenize  # noqa: F401 (re-exported: the pre-analyzer tokenizer)

RUN_COLUMNS = ["query_id", "memory_id", "score", "rank"]
# method -> (engine mode, fusion weights or None, rerank)
_CHANNEL = {c: {c: 1.0} for c in ("dense_context", "keyword_context")}
METHODS = {
    "default": (None, None, None),          # the Memory's configured search (mode + reranker)
    "fusion": ("fusion", None, False),
    "rerank": ("fusion", None, True),       # fusion + the configured reranker (features when none)
    "dense": ("dense", None, False),
    "keyword": ("keyword", None, False),
    "bm25": ("keyword", None, False),       # the engine's BM25 (analyzer: stems + stop words)
    "hybrid": ("hybrid", None, False),      # the engine's RRF of dense and BM25
    "dense_context": ("fusion", _CHANNEL["dense_context"], False),
    "keyword_context": ("fusion", _CHANNEL["keyword_context"], False),
    # ablations of the default fusion: without the time channel, without the speaker channel
    "fusion_no_time": ("fusion", {c: w for c, w in DEFAULT_FUSION_WEIGHTS.items() if c != "time"}, False),
    "fusion_no_speaker": ("fusion", {c: w for c, w in DEFAULT_FUSION_WEIGHTS.items() if c != "speaker"}, False),
}


def _split_speaker(text: str, meta: dict) -> tuple[str, Optional[str]]:
    """(content, speaker) of a loaded turn whose text is ``"<speaker>: <content>"``."""
    who = meta.get("speaker") or meta.get("role")
    if who and text.startswith(f"{who}: "):
        return text[len(who) + 2:], str(who)
    return text, None


def _memory(embedder: Any, path: Optional[str], config: Optional[dict]):
    from memlab import Memory

    if isinstance(embedder, str):
        return Memory({"embedder": {"provider": embedder}, **(config or {})}, path=path)
    if isinstance(embedder, dict):
        return Memory({**embedder, **(config or {})}, path=path)
    return Memory(config or None, path=path, embedder=embedder)


def build_memory(dataset: Dataset, embedder: Any = "minilm", *, path: Optional[str] = None,
                 batch_size: int = 256, progress: Optional[Callable[[int], None]] = None,
                 config: Optional[dict] = None):
    """A Memory holding the dataset's memories (``user_id = scope``).

    Args:
        embedder: a provider name (``"minilm"``, ``"hash"``, ``"openai"``), a mem0-style config dict
            for ``Memory``, or an embedder object.
        path: store directory (default in memory).
        progress: called with the number of memories stored so far in each batch.
        config: extra Memory config (e.g. ``{"reranker": {...}}`` or vector_store settings).

    Conversation turns get new memlab ids; ``memory.dataset_ids`` maps them to the dataset's.
    """
    memory = _memory(embedder, path, config)
    mems = dataset.memories
    sessions = [(m or {}).get("session") for m in mems["metadata"]]
    try:
        memory.dataset_ids = {}
        conv = [s is not None for s in sessions]
        if any(conv):
            frame = mems.assign(_session=[str(s) for s in sessions])[conv]
            for (scope, _), group in frame.groupby(["scope", "_session"], sort=False):
                msgs = []
                for text, meta in zip(group["text"], group["metadata"]):
                    content, who = _split_speaker(text, meta or {})
                    msgs.append({"role": "user", "content": content, **({"name": who} if who else {})})
                # the session's time (its first message's) is when it happened: add(timestamp=...)
                when = group["time"].dropna().min() if "time" in group else None
                added = memory.add(msgs, user_id=str(scope), infer=False,
                                   timestamp=None if when is None or pd.isna(when) else when)["results"]
                kept = [i for i, msg in zip(group["id"], msgs) if msg["content"].strip()]
                memory.dataset_ids.update({item["id"]: str(i) for item, i in zip(added, kept)})
                if progress:
                    progress(len(group))
        loose = mems[[not c for c in conv]]
        records = []
        for m in loose.itertuples(index=False):
            rec = {"id": str(m.id), "memory": m.text, "user_id": str(m.scope), "metadata": dict(m.metadata or {})}
            if not pd.isna(m.time):
                rec["created_at"] = pd.Timestamp(m.time).isoformat()
            records.append(rec)
        # embed here (batch by batch, reporting progress), then write everything in one transaction
        for start in range(0, len(records), batch_size):
            chunk = records[start:start + batch_size]
            for rec, vec in zip(chunk, memory.embed([r["memory"] for r in chunk])):
                rec["vector"] = vec
            if progress:
                progress(len(chunk))
        if records:
            memory.add_records(records, batch_size=batch_size, history=False)
    except Exception:
        memory.close()
        raise
    return memory


def _check(depth: object) -> int:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValidationError(f"depth must be a positive integer, got {depth!r}.")
    return int(depth)


def engine_retrieve(dataset: Dataset, memory, method: str = "default", *, depth: int = 100,
                    progress: Optional[Callable[[int], None]] = None) -> pd.DataFrame:
    """Every query through ``memory.search`` in its own scope with the engine's ``method``."""
    if method not in METHODS:
        raise ValidationError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    depth = _check(depth)
    mode, weights, rerank = METHODS[method]
    settings = memory.search_settings
    if rerank and settings.reranker is None:
        from memlab.rerankers import create_reranker

        reranker, top_n = create_reranker("features")
        settings = dataclasses.replace(settings, reranker=reranker, rerank_top_n=top_n)
    if weights is not None:
        settings = dataclasses.replace(settings, fusion_weights=weights)
    ids = getattr(memory, "dataset_ids", None) or {}
    q = dataset.queries
    memory.embed(q["text"].tolist(), purpose="search")  # one batch (warms an embedding cache)
    saved, memory.search_settings = memory.search_settings, settings
    frames = []
    try:
        for n, (qid, scope, text) in enumerate(zip(q["id"], q["scope"], q["text"]), 1):
            hits = memory.search(text, user_id=str(scope), limit=depth, mode=mode, rerank=rerank)["results"]
            frames.append(pd.DataFrame({
                "query_id": qid, "memory_id": [ids.get(h["id"], h["id"]) for h in hits],
                "score": np.array([h["score"] for h in hits], dtype=float), "rank": np.arange(1, len(hits) + 1)}))
            if progress and n % 64 == 0:
                progress(64)
        if progress and len(q) % 64:
            progress(len(q) % 64)
    finally:
        memory.search_settings = saved
    run = _concat(frames, method)
    run.attrs["score"] = "calibrated"
    return run


# what a run's ``score`` column holds (threshold tooling reads run.attrs["score"]): today always the
# calibrated relevance every search orders by and cuts on; runs recorded before it held the item field
# their method ordered by (cosine, bm25, fused, rerank)
SCORE_KINDS = {"score": "calibrated", "keyword_score": "bm25", "rank_score": "fused", "rerank_score": "rerank"}


def dense_retrieve(dataset: Dataset, memory, *, depth: int = 100, batch_size: int = 256,
                   progress: Optional[Callable[[int], None]] = None) -> pd.DataFrame:
    """Top ``depth`` memories of each query's scope by cosine (memlab's exact scoped search)."""
    return engine_retrieve(dataset, memory, "dense", depth=depth, progress=progress)


def bm25_retrieve(dataset: Dataset, *, depth: int = 100,
                  progress: Optional[Callable[[int], None]] = None) -> pd.DataFrame:
    """The engine's BM25 (keyword mode) per scope, over a store built with the ``hash`` embedder
    (BM25 does not use vectors)."""
    depth = _check(depth)
    memory = build_memory(dataset, "hash")
    try:
        return engine_retrieve(dataset, memory, "bm25", depth=depth, progress=progress)
    finally:
        memory.close()


def retrieve(dataset: Dataset, memory=None, *, method: str = "dense", embedder: Any = "minilm",
             depth: int = 100, progress: Optional[Callable[[int], None]] = None,
             config: Optional[dict] = None) -> pd.DataFrame:
    """One pass over every query (no threshold) → run DataFrame ``query_id, memory_id, score, rank``.

    Args:
        memory: a Memory built by :func:`build_memory` (built here, and closed, when None).
        method: one of :data:`METHODS`: ``default`` (the Memory's configured search), ``fusion``,
            ``rerank`` (fusion + reranker), ``dense``, ``keyword``/``bm25``, ``hybrid`` (RRF),
            ``dense_context``, ``keyword_context`` (one channel alone).
        depth: results kept per query (the largest ``k`` you want to evaluate).
        config: extra Memory config when the memory is built here.
        progress: called with the number of queries finished (e.g. ``tqdm.update``).
    """
    if method not in METHODS:
        raise ValidationError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    depth = _check(depth)
    own = memory is None
    memory = build_memory(dataset, embedder, config=config) if own else memory
    try:
        return engine_retrieve(dataset, memory, method, depth=depth, progress=progress)
    finally:
        if own:
            memory.close()


def _concat(frames: list, method: str) -> pd.DataFrame:
    run = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RUN_COLUMNS)
    run = run.astype({"score": float, "rank": int})
    run.attrs["method"] = method
    return run
