"""The ranking step of ``Memory.search``: the engine's channels, then the optional reranker.

``Memory.search`` validates and scopes the call; this module asks the store for candidates in the
requested mode (deep enough for the reranker), reranks the head when a reranker is on, and cuts to
``limit``. Kept apart from the facade so the search stack reads in one place.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from memlab.errors import ValidationError
from memlab.rerankers import rerank_hits


def check_search_flags(rerank: Any, explain: Any) -> None:
    """``rerank`` is True/False/None (None = on when a reranker is configured); ``explain`` is a bool."""
    if rerank is not None and not isinstance(rerank, bool):
        raise ValidationError(f"rerank must be True, False or None, got {rerank!r}.")
    if not isinstance(explain, bool):
        raise ValidationError(f"explain must be True or False, got {explain!r}.")


def ranked_hits(store: Any, settings: Any, query: str, qvec: np.ndarray, node: Any, *, mode: str, limit: int,
                threshold: Optional[float], rerank: Optional[bool], explain: bool) -> list[tuple[dict, float, dict]]:
    """``(row, cosine, extra)`` of the best ``limit`` memories the filter allows.

    ``extra`` carries ``keyword_score`` / ``rank_score`` (non-dense modes), ``rerank_score`` (reranked)
    and, with ``explain``, every channel's numbers. The reranker's internal features are dropped.
    """
    reranker = settings.reranker if rerank is not False else None
    depth = max(limit, settings.rerank_top_n) if reranker is not None else limit
    if mode == "dense":
        hits = [(row, score, {"explain": {"mode": "dense", "channels": {"dense": {"raw": score}}}} if explain else {})
                for row, score in store.search(qvec, node, depth, threshold)]
    else:
        hits = store.search(qvec, node, depth, threshold, mode=mode, text=query, weights=settings.fusion_weights,
                            normalization=settings.fusion_normalization, explain=explain)
    if reranker is not None:
        hits = rerank_hits(reranker, query, hits, settings.rerank_top_n, explain=explain)
    return [(row, score, {k: v for k, v in extra.items() if k != "channels"}) for row, score, extra in hits[:limit]]
