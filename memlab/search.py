"""The search step of ``Memory.search``: resolved settings, the engine's ranking, graph links, the reranker.

``Memory.search`` validates and scopes the call; :func:`ranked_hits` then

1. asks the store for candidates in the requested mode (memlab.ranking.modes; with the configured
   fusion weights and normalisation), deep enough for the reranker;
2. with ``graph=True``, fuses the memories linked to the query's entities into that ranking by
   reciprocal rank (:func:`graph_fused`);
3. reranks the head when a reranker is on, and cuts to ``limit``.

:class:`SearchSettings` is everything of a Memory's config that shapes a search (analyzer, BM25,
context window, fusion, reranker), resolved once when the Memory opens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np

from memlab.errors import ConfigError, ValidationError
from memlab.ranking.analyzer import Analyzer
from memlab.ranking.fusion import check_weights, fuse
from memlab.rerankers import rerank_hits

K_RRF_GRAPH = 60  # k of the reciprocal-rank fusion of the search's ranking with the graph's


@dataclass
class SearchSettings:
    analyzer: Analyzer
    k1: float = 0.9
    b: float = 0.4
    context_window: int = 2
    fusion_weights: dict = field(default_factory=dict)
    fusion_normalization: str = "zscore"
    reranker: Any = None
    rerank_top_n: int = 50

    @classmethod
    def from_config(cls, config, embedder: Any = None, llm: Any = None) -> "SearchSettings":
        vs = config.vector_store.settings()
        try:
            weights = check_weights(vs.fusion_weights)
        except ValidationError as exc:
            raise ConfigError(f"vector_store.config.fusion_weights: {exc}") from None
        language = None if (vs.keyword_language or "none").lower() == "none" else vs.keyword_language
        settings = cls(analyzer=Analyzer(language, vs.keyword_stop_words), k1=vs.bm25_k1, b=vs.bm25_b,
                       context_window=vs.context_window, fusion_weights=weights,
                       fusion_normalization=vs.fusion_normalization)
        if config.reranker is not None:
            from memlab.rerankers import create_reranker

            settings.reranker, settings.rerank_top_n = create_reranker(
                config.reranker.provider, config.reranker.config, llm=_reranker_llm(config, llm))
        return settings

    def keyword_args(self) -> dict:
        return {"analyzer": self.analyzer, "k1": self.k1, "b": self.b}


def _reranker_llm(config, llm: Optional[Any]):
    """The LLM an ``llm`` reranker uses: its own config block, else the Memory's openai LLM."""
    if config.reranker.config.get("llm") or config.reranker.config.get("base_url"):
        return None  # create_reranker builds one from the reranker's own settings
    if llm is not None:
        return llm
    if config.llm.provider == "openai":
        from memlab.llms import create_llm

        return create_llm("openai", config.llm.config)
    return None


def check_search_flags(rerank: Any, explain: Any) -> None:
    """``rerank`` is True/False/None (None = on when a reranker is configured); ``explain`` is a bool."""
    if rerank is not None and not isinstance(rerank, bool):
        raise ValidationError(f"rerank must be True, False or None, got {rerank!r}.")
    if not isinstance(explain, bool):
        raise ValidationError(f"explain must be True or False, got {explain!r}.")


def ranked_hits(store: Any, settings: SearchSettings, query: str, qvec: np.ndarray, node: Any, *, mode: str,
                limit: int, threshold: Optional[float], rerank: Optional[bool], explain: bool,
                linked: Optional[Mapping[str, float]] = None) -> list[tuple[dict, float, dict]]:
    """``(row, score, extra)`` of the best ``limit`` memories the filter allows.

    ``extra`` carries ``keyword_score`` / ``rank_score`` (non-dense modes), ``graph_score`` (with
    ``linked``: memory id -> graph weight, from ``graph=True``), ``rerank_score`` (reranked) and,
    with ``explain``, every channel's numbers. The reranker's internal features are dropped.
    """
    reranker = settings.reranker if rerank is not False else None
    depth = max(limit, settings.rerank_top_n) if reranker is not None else limit
    hits = store.search(qvec, node, depth, threshold, mode=mode, text=query, weights=settings.fusion_weights,
                        normalization=settings.fusion_normalization, explain=explain)
    if linked is not None:
        hits = graph_fused(store, qvec, node, hits, linked, depth, threshold, explain=explain)
    if reranker is not None:
        hits = rerank_hits(reranker, query, hits, settings.rerank_top_n, explain=explain)
    return [(row, score, {k: v for k, v in extra.items() if k != "channels"}) for row, score, extra in hits[:limit]]


def graph_fused(store: Any, qvec: np.ndarray, node: Any, hits: list, linked: Mapping[str, float], depth: int,
                threshold: Optional[float], *, explain: bool = False) -> list[tuple[dict, float, dict]]:
    """The search's ``hits`` fused with the graph's ranking by reciprocal rank (k = 60), best ``depth``.

    The graph ranking orders the scope's memories that produced a relation of a query entity
    (weight 1 per relation) or of a one-hop neighbour (0.5 per relation), heaviest first, cosine
    breaking ties. A memory outside the search's top ``depth`` with no graph link cannot beat one
    inside it, so the search's ranking cut at ``depth`` loses nothing. Each hit's extra gains
    ``graph_score`` (its weight, 0 when unlinked) and ``rank_score`` (the fused value); with
    ``explain``, a ``graph`` channel and the fused value. benchmarks/bench_graph.py measures it.
    """
    from memlab.store import filters as F

    graph_hits: list[tuple[dict, float, float]] = []
    if linked:
        ids = sorted(linked)
        only_linked = F.parse({"id": {"in": ids}})
        allowed = F.Logic("and", (node, only_linked)) if node is not None else only_linked
        graph_hits = [(row, score, linked[row["id"]])
                      for row, score, _ in store.search(qvec, allowed, len(ids), threshold, mode="dense")]
        graph_hits.sort(key=lambda h: (-h[2], -h[1]))
    by_id = {row["id"]: (row, score, extra) for row, score, extra in hits}
    for row, score, _ in graph_hits:
        by_id.setdefault(row["id"], (row, score, {}))
    weight = {row["id"]: w for row, _, w in graph_hits}
    graph_rank = {row["id"]: r for r, (row, _, _) in enumerate(graph_hits, 1)}
    # keys are positions in by_id (its insertion order: the search's hits first) so ties stay deterministic
    ids = list(by_id)
    key = {mid: i for i, mid in enumerate(ids)}
    fused = fuse([np.asarray([key[row["id"]] for row, _, _ in hits], dtype=np.int64),
                  np.asarray([key[row["id"]] for row, _, _ in graph_hits], dtype=np.int64)], K_RRF_GRAPH)
    out = []
    for k, rrf in fused[:depth]:
        row, score, extra = by_id[ids[k]]
        extra = {**extra, "graph_score": weight.get(ids[k], 0.0), "rank_score": rrf}
        if explain:
            ex = dict(extra.get("explain") or {"mode": "dense", "channels": {"dense": {"raw": score}}})
            ex["channels"] = {**ex.get("channels", {}), "graph": {
                "raw": weight.get(ids[k], 0.0), "rank": graph_rank.get(ids[k])}}
            ex["graph_fused"] = rrf
            extra["explain"] = ex
        out.append((row, score, extra))
    return out
