"""Graph-augmented search: memories linked to the query's entities fused into the ranking.

The base ranking is the search the caller asked for (dense / keyword / hybrid, exact over the
scope). The graph ranking orders the scope's memories that produced a relation of a query
entity (weight 1 per relation) or of a one-hop neighbour (0.5 per relation), heaviest first,
cosine breaking ties. Both are fused by reciprocal rank, ``1/(k + rank)`` summed, k = 60.
A memory outside the base top-``limit`` with no graph link cannot beat one inside it, so the
base ranking is cut at ``limit`` without losing exactness. benchmarks/bench_graph.py measures it.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

K_RRF = 60


def graph_fused_search(memory: Any, query: str, qvec: np.ndarray, node: Any, scope: dict, limit: int,
                       threshold: Optional[float], mode: str) -> list[tuple[dict, float, dict]]:
    """(row, cosine, extra) triples, best first; ``extra`` has ``graph_score`` and ``rank_score``."""
    from memlab.store import filters as F

    if mode == "dense":
        base = [(row, score, {}) for row, score in memory.store.search(qvec, node, limit, threshold)]
    else:
        base = memory.store.search(qvec, node, limit, threshold, mode=mode, text=query)
    linked = memory.graph.linked_memories(query, scope)
    graph_hits: list[tuple[dict, float, float]] = []
    if linked:
        ids = sorted(linked)
        only_linked = F.parse({"id": {"in": ids}})
        allowed = F.Logic("and", (node, only_linked)) if node is not None else only_linked
        for row, score in memory.store.search(qvec, allowed, len(ids), threshold):
            graph_hits.append((row, score, linked[row["id"]]))
        graph_hits.sort(key=lambda h: (-h[2], -h[1]))
    fused: dict[str, list] = {}
    for rank, (row, score, extra) in enumerate(base, 1):
        fused[row["id"]] = [row, score, dict(extra), 1.0 / (K_RRF + rank), 0.0]
    for rank, (row, score, weight) in enumerate(graph_hits, 1):
        entry = fused.setdefault(row["id"], [row, score, {}, 0.0, 0.0])
        entry[3] += 1.0 / (K_RRF + rank)
        entry[4] = weight
    ranked = sorted(fused.values(), key=lambda e: -e[3])[:limit]
    return [(row, score, {**extra, "graph_score": weight, "rank_score": rrf})
            for row, score, extra, rrf, weight in ranked]
