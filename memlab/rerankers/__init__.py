"""Rerankers: reorder the top candidates of a search.

Providers (``reranker.provider``):

- ``features`` (offline default, no model weights): a fixed combination of the search's own
  evidence: fused channel score, query-term coverage and proximity in the memory and in its
  context, and whether the query names the speaker (:mod:`memlab.rerankers.features`).
- ``cross_encoder``: a sentence-transformers cross-encoder loaded from a LOCAL model folder
  (``config.model``); nothing is downloaded (:mod:`memlab.rerankers.cross_encoder`).
- ``llm``: an LLM over the OpenAI-compatible provider scores each candidate
  (:mod:`memlab.rerankers.llm`).

mem0's provider names are accepted and mapped: ``sentence_transformer`` / ``huggingface`` ->
``cross_encoder`` (needs a local folder), ``llm_reranker`` -> ``llm``, and the hosted ``cohere`` /
``zero_entropy`` -> ``features`` with a warning (memlab never calls hosted services on its own).
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Protocol, Sequence

import numpy as np

from memlab.errors import ConfigError

PROVIDERS = ("features", "cross_encoder", "llm")
MEM0_PROVIDERS = {"sentence_transformer": "cross_encoder", "huggingface": "cross_encoder",
                  "llm_reranker": "llm", "cohere": "features", "zero_entropy": "features"}
DEFAULT_TOP_N = 50


class Reranker(Protocol):
    name: str

    def score(self, query: str, candidates: Sequence[dict]) -> np.ndarray:
        """One relevance score per candidate (higher = more relevant)."""


def resolve_provider(provider: str) -> str:
    """memlab's provider for a memlab or mem0 provider name (hosted ones warn)."""
    if provider in PROVIDERS:
        return provider
    mapped = MEM0_PROVIDERS.get(provider)
    if mapped is None:
        raise ConfigError(f"Unknown reranker provider {provider!r}; allowed: "
                          f"{', '.join(PROVIDERS)} (or mem0's {', '.join(MEM0_PROVIDERS)}).")
    if mapped == "features":
        warnings.warn(f"reranker provider {provider!r} is a hosted service memlab does not call; the offline "
                      "'features' reranker runs instead.", UserWarning, stacklevel=3)
    return mapped


def create_reranker(provider: str, config: Optional[dict] = None, *, llm: Any = None) -> tuple[Reranker, int]:
    """(reranker, top_n) from a reranker block. ``llm`` is an LLM object for the ``llm`` provider."""
    config = dict(config or {})
    top_n = config.pop("top_n", config.pop("top_k", DEFAULT_TOP_N))
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ConfigError(f"reranker.config.top_n must be a positive integer, got {top_n!r}.")
    kind = resolve_provider(provider)
    if kind == "features":
        from memlab.rerankers.features import FeatureReranker

        allowed = {"weights", "language"}
        config = {k: v for k, v in config.items() if k in allowed}
        return FeatureReranker(**config), top_n
    if kind == "cross_encoder":
        from memlab.rerankers.cross_encoder import CrossEncoderReranker

        model = config.get("model") or config.get("model_path") or config.get("path")
        return CrossEncoderReranker(model, batch_size=int(config.get("batch_size", 32)),
                                    with_context=bool(config.get("with_context", False))), top_n
    from memlab.rerankers.llm import LLMReranker

    if llm is None:
        llm_cfg = config.get("llm") or {k: config[k] for k in ("model", "api_key", "base_url", "timeout")
                                         if k in config}
        from memlab.llms import create_llm

        llm = create_llm("openai", llm_cfg)
    return LLMReranker(llm), top_n


def rerank_hits(reranker: Reranker, query: str, hits: list, top_n: int, *, explain: bool = False) -> list:
    """Reorder the first ``top_n`` (row, score, extra) hits by the reranker; the rest keep their order.

    Each reranked hit's extra gains ``rerank_score``; with ``explain`` its ``explain`` dict gains
    ``rerank`` = {score, rank_before, reranker}. Ties keep the search's order.
    """
    head, tail = hits[:top_n], hits[top_n:]
    if not head:
        return hits
    candidates = [{"memory": row["memory"], "actor_id": row.get("actor_id"), "role": row.get("role"),
                   "context": row.get("context"), "score": score, "rank_score": extra.get("rank_score", score),
                   "channels": extra.get("channels") or {"dense": score}} for row, score, extra in head]
    scores = np.asarray(reranker.score(query, candidates), dtype=np.float64)
    if scores.shape != (len(head),) or not np.isfinite(scores).all():
        raise ConfigError(f"Reranker {reranker.name!r} returned {scores.shape} scores for {len(head)} candidates.")
    order = np.lexsort((np.arange(len(head)), -scores))
    out = []
    for idx in order.tolist():
        row, score, extra = head[idx]
        extra = {**extra, "rerank_score": float(scores[idx])}
        if explain:
            extra["explain"] = {**extra.get("explain", {}), "rerank": {
                "reranker": reranker.name, "score": float(scores[idx]), "rank_before": idx + 1}}
        out.append((row, score, extra))
    return out + tail
