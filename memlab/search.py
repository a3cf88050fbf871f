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
from memlab.ranking.fusion import check_weights
from memlab.rerankers import rerank_hits



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
    calibration: Any = None  # memlab.ranking.calibration.Calibration (None: the generic one)

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
                       fusion_normalization=vs.fusion_normalization,
                       calibration=load_calibration(vs.calibration, config.embedder.provider))
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


def check_reference_date(value: Any):
    """mem0 2.x's ``reference_date``: a datetime, a date or an ISO-8601 string (relative dates in the query are
    read against it); a ValidationError otherwise."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
    raise ValidationError(f"reference_date must be a datetime, a date or an ISO-8601 string "
                          f"(e.g. '2023-05-08'), got {value!r}.")


def check_search_flags(rerank: Any, explain: Any) -> None:
    """``rerank`` is True/False/None (None = on when a reranker is configured); ``explain`` is a bool."""
    if rerank is not None and not isinstance(rerank, bool):
        raise ValidationError(f"rerank must be True, False or None, got {rerank!r}.")
    if not isinstance(explain, bool):
        raise ValidationError(f"explain must be True or False, got {explain!r}.")


def load_calibration(path: Optional[str], embedder: str) -> Any:
    """The calibration a config names (a file from ``memlab calibrate``), else the embedder's shipped one."""
    from memlab.ranking.calibration import Calibration
    from memlab.ranking.scoring import default_calibration

    return Calibration.load(path) if path else default_calibration(embedder)


def ranked_hits(store: Any, settings: SearchSettings, query: str, qvec: np.ndarray, node: Any, *, mode: str,
                limit: int, threshold: Optional[float], rerank: Optional[bool], explain: bool,
                linked: Optional[Mapping[str, float]] = None, reference_date: Any = None) -> list[tuple[dict, float, dict]]:
    """``(row, score, extra)`` of the best ``limit`` memories the filter allows, ``score`` the calibrated
    relevance (memlab.ranking.scoring) they are ordered by and ``threshold`` cuts on.

    ``extra`` carries ``keyword_score`` (non-dense modes), ``graph_score`` (with ``linked``: memory id ->
    graph weight, from ``graph=True``), ``rerank_score`` (reranked) and, with ``explain``,
    ``score_details`` and every channel's numbers. Graph links and a reranker refine the search's
    ranking by stacked models (their ``score_details`` say so), so the search runs without the
    threshold and the cut comes last.
    """
    from memlab.ranking.scoring import INTERNAL, default_calibration

    cal = settings.calibration or default_calibration()
    reranker = settings.reranker if rerank is not False else None
    depth = max(limit, settings.rerank_top_n) if reranker is not None else limit
    refine = reranker is not None or linked is not None
    hits = store.search(qvec, node, depth, None if refine else threshold, mode=mode, text=query,
                        weights=settings.fusion_weights, normalization=settings.fusion_normalization,
                        explain=explain, calibration=cal,
                        **({"reference_date": check_reference_date(reference_date)} if reference_date is not None else {}))
    if linked is not None:
        hits = graph_fused(store, qvec, node, hits, linked, depth, explain=explain, calibration=cal)
    if reranker is not None:
        hits = _reranked(cal, reranker, query, hits, settings.rerank_top_n, explain)
    if refine and threshold is not None:
        hits = [h for h in hits if h[1] >= threshold]
    return [(row, score, {k: v for k, v in extra.items() if k not in INTERNAL}) for row, score, extra in hits[:limit]]


def _reranked(cal: Any, reranker: Any, query: str, hits: list, top_n: int, explain: bool) -> list:
    """The head reordered by the reranked model (the search's log-odds + the reranker's score); the tail
    keeps its order, its scores capped at the head's lowest so scores never rise down the list."""
    from memlab.ranking.scoring import restack

    head = rerank_hits(reranker, query, hits[:top_n], top_n, explain=explain)
    if not head:
        return hits
    head = restack(cal.model("reranked"), head, {"rerank": np.asarray([e["rerank_score"] for _, _, e in head])},
                   mode="reranked", limit=len(head), threshold=None, explain=explain)
    floor = head[-1][1]
    return head + [_capped(hit, floor) for hit in hits[top_n:]]


def _capped(hit: tuple, cap: float) -> tuple:
    row, score, extra = hit
    if score <= cap:
        return hit
    extra = dict(extra)
    if "score_details" in extra:
        extra["score_details"] = {**extra["score_details"], "final_score": cap, "capped_at_reranked": True}
    return row, cap, extra


def graph_fused(store: Any, qvec: np.ndarray, node: Any, hits: list, linked: Mapping[str, float], depth: int, *,
                explain: bool = False, calibration: Any = None) -> list[tuple[dict, float, dict]]:
    """The search's ``hits`` and the memories linked to the query's entities, re-scored by the graph model:
    the search's log-odds plus 2 x the link weight (1 per relation of a query entity, 0.5 per relation of a
    one-hop neighbour; memlab.ranking.calibration, ``graph``), best ``depth``.

    A linked memory outside the search's top ``depth`` has a search score at most the lowest of them, so
    it is given that one (an upper bound); an unlinked memory keeps its score. Each hit's extra gains
    ``graph_score`` (its weight, 0 when unlinked); with ``explain``, a ``graph`` channel and
    ``score_details.entity_boost``. benchmarks/bench_graph.py measures it.
    """
    from memlab.ranking.scoring import default_calibration, restack
    from memlab.store import filters as F

    cal = calibration or default_calibration()
    by_id = {row["id"]: (row, score, extra) for row, score, extra in hits}
    if linked:
        ids = sorted(set(linked) - set(by_id))
        if ids:
            only_linked = F.parse({"id": {"in": ids}})
            allowed = F.Logic("and", (node, only_linked)) if node is not None else only_linked
            floor = min((e["logit"] for _, _, e in hits), default=None)
            for row, score, extra in store.search(qvec, allowed, len(ids), None, mode="dense", calibration=cal,
                                                  explain=explain):
                logit = extra["logit"] if floor is None else min(floor, extra["logit"])
                by_id[row["id"]] = (row, score, {**extra, "logit": logit})
    merged = list(by_id.values())
    weights = np.asarray([float(linked.get(row["id"], 0.0)) for row, _, _ in merged])
    merged = [(row, score, {**extra, "graph_score": float(w)}) for (row, score, extra), w in zip(merged, weights)]
    if explain:
        for (_, _, extra), w in zip(merged, weights):
            ex = dict(extra.get("explain") or {"mode": "dense", "channels": {}})
            ex["channels"] = {**ex.get("channels", {}), "graph": {"raw": float(w)}}
            extra["explain"] = ex
    return restack(cal.model("graph"), merged, {"graph": weights}, mode="graph", limit=depth, threshold=None,
                   explain=explain)
