"""One retrieval pass per query, without a threshold: the input of metrics and threshold sweeps.

- :func:`build_memory` loads a :class:`Dataset` into a memlab :class:`~memlab.Memory` with
  ``Memory.add_records`` (one atomic transaction, batched embedding) keeping the dataset's
  memory ids as memlab ids and ``scope`` as ``user_id``.
- :func:`retrieve` runs every query against its own scope (``dense``: memlab's exact scoped
  cosine search; ``bm25``: rank_bm25 over lower-cased word tokens; ``hybrid``: reciprocal-rank
  fusion of both) and returns a *run* DataFrame ``query_id, memory_id, score, rank``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from memlab.errors import ValidationError
from memlab.evaluate.datasets import Dataset
from memlab.store.keyword import tokenize  # noqa: F401 (re-exported: the engine's tokenizer)

RUN_COLUMNS = ["query_id", "memory_id", "score", "rank"]
METHODS = ("dense", "bm25", "hybrid")


def build_memory(dataset: Dataset, embedder: Any = "minilm", *, path: Optional[str] = None,
                 batch_size: int = 256, progress: Optional[Callable[[int], None]] = None):
    """A Memory holding the dataset's memories (ids kept; ``user_id = scope``; ``created_at = time``).

    Args:
        embedder: a provider name (``"minilm"``, ``"hash"``, ``"openai"``), a mem0-style config dict
            for ``Memory``, or an embedder object.
        path: store directory (default in memory).
        progress: called with the number of memories embedded so far in each batch.
    """
    from memlab import Memory

    if isinstance(embedder, str):
        memory = Memory({"embedder": {"provider": embedder}}, path=path)
    elif isinstance(embedder, dict):
        memory = Memory(embedder, path=path)
    else:
        memory = Memory(path=path, embedder=embedder)
    records = []
    for m in dataset.memories.itertuples(index=False):
        rec = {"id": str(m.id), "memory": m.text, "user_id": str(m.scope), "metadata": dict(m.metadata or {})}
        if not pd.isna(m.time):
            rec["created_at"] = pd.Timestamp(m.time).isoformat()
        records.append(rec)
    try:
        # embed here (batch by batch, reporting progress), then write everything in one transaction
        for start in range(0, len(records), batch_size):
            chunk = records[start:start + batch_size]
            for rec, vec in zip(chunk, memory.embed([r["memory"] for r in chunk])):
                rec["vector"] = vec
            if progress:
                progress(len(chunk))
        memory.add_records(records, batch_size=batch_size, history=False)
    except Exception:
        memory.close()
        raise
    return memory


def _check(dataset: Dataset, depth: int) -> int:
    if not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValidationError(f"depth must be a positive integer, got {depth!r}.")
    return int(depth)


def dense_retrieve(dataset: Dataset, memory, *, depth: int = 100, batch_size: int = 256,
                   progress: Optional[Callable[[int], None]] = None) -> pd.DataFrame:
    """Top ``depth`` memories of each query's scope by cosine (memlab's exact scoped search)."""
    from memlab.store import filters as F

    depth = _check(dataset, depth)
    q = dataset.queries
    frames = []
    for start in range(0, len(q), batch_size):
        chunk = q.iloc[start:start + batch_size]
        vecs = memory.embed(chunk["text"].tolist(), purpose="search")
        for qid, scope, vec in zip(chunk["id"], chunk["scope"], vecs):
            hits = memory.store.search(vec, F.parse({"user_id": str(scope)}), depth, None)
            frames.append(pd.DataFrame({
                "query_id": qid, "memory_id": [row["id"] for row, _ in hits],
                "score": np.array([s for _, s in hits], dtype=float), "rank": np.arange(1, len(hits) + 1),
            }))
        if progress:
            progress(len(chunk))
    return _concat(frames, "dense")


def bm25_retrieve(dataset: Dataset, *, depth: int = 100,
                  progress: Optional[Callable[[int], None]] = None) -> pd.DataFrame:
    """BM25 baseline (``rank_bm25.BM25Okapi``, default parameters) per scope; ties keep dataset order."""
    from rank_bm25 import BM25Okapi

    depth = _check(dataset, depth)
    frames = []
    mems = dataset.memories
    for scope, group in dataset.queries.groupby("scope", sort=False):
        docs = mems[mems["scope"] == scope]
        ids = docs["id"].to_numpy()
        if len(ids) == 0:
            if progress:
                progress(len(group))
            continue
        bm25 = BM25Okapi([tokenize(t) or [""] for t in docs["text"]])
        for qid, text in zip(group["id"], group["text"]):
            scores = np.asarray(bm25.get_scores(tokenize(text)), dtype=float)
            order = np.lexsort((np.arange(len(scores)), -scores))[:depth]
            frames.append(pd.DataFrame({"query_id": qid, "memory_id": ids[order], "score": scores[order],
                                        "rank": np.arange(1, len(order) + 1)}))
        if progress:
            progress(len(group))
    return _concat(frames, "bm25")


def fuse_rrf(runs: list, *, k_rrf: int = 60, depth: int = 100) -> pd.DataFrame:
    """Reciprocal-rank fusion: score = Σ_runs 1 / (k_rrf + rank); ties broken by the first run's rank."""
    if not runs:
        raise ValidationError("fuse_rrf needs at least one run.")
    parts = [r[["query_id", "memory_id", "rank"]].assign(rrf=1.0 / (k_rrf + r["rank"].to_numpy(float)))
             for r in runs]
    both = pd.concat(parts, ignore_index=True)
    fused = both.groupby(["query_id", "memory_id"], sort=False)["rrf"].sum().rename("score").reset_index()
    first = runs[0].set_index(["query_id", "memory_id"])["rank"]
    fused["tie"] = first.reindex(pd.MultiIndex.from_frame(fused[["query_id", "memory_id"]])).fillna(
        np.inf).to_numpy()
    fused = fused.sort_values(["query_id", "score", "tie"], ascending=[True, False, True], kind="mergesort")
    fused["rank"] = fused.groupby("query_id", sort=False).cumcount() + 1
    fused = fused[fused["rank"] <= depth]
    return _finish(fused[RUN_COLUMNS].reset_index(drop=True), "hybrid")


def retrieve(dataset: Dataset, memory=None, *, method: str = "dense", embedder: Any = "minilm",
             depth: int = 100, k_rrf: int = 60, progress: Optional[Callable[[int], None]] = None) -> pd.DataFrame:
    """One pass over every query (no threshold) → run DataFrame ``query_id, memory_id, score, rank``.

    Args:
        memory: a Memory built by :func:`build_memory` (built here, and closed, when None and
            the method needs one).
        method: ``"dense"`` (memlab search), ``"bm25"`` or ``"hybrid"`` (RRF of both).
        depth: results kept per query (the largest ``k`` you want to evaluate).
        progress: called with the number of queries finished (e.g. ``tqdm.update``).
    """
    if method not in METHODS:
        raise ValidationError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    if method == "bm25":
        return bm25_retrieve(dataset, depth=depth, progress=progress)
    own = memory is None
    memory = build_memory(dataset, embedder) if own else memory
    try:
        dense = dense_retrieve(dataset, memory, depth=depth if method == "dense" else max(depth, 100),
                               progress=progress)
    finally:
        if own:
            memory.close()
    if method == "dense":
        return dense
    bm25 = bm25_retrieve(dataset, depth=max(depth, 100))
    return fuse_rrf([dense, bm25], k_rrf=k_rrf, depth=depth)


def _concat(frames: list, method: str) -> pd.DataFrame:
    run = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RUN_COLUMNS)
    return _finish(run, method)


def _finish(run: pd.DataFrame, method: str) -> pd.DataFrame:
    run = run.astype({"score": float, "rank": int})
    run.attrs["method"] = method
    return run
