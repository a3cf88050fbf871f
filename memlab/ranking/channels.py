"""Channel values that do not depend on an engine: the speaker and time channels, and which channels a
fusion search computes.

The search channels (memlab.ranking.modes runs them):

- ``dense``: cosine of the query to the memory's vector;
- ``dense_context``: cosine to the embedding of the memory's context window (memlab.ranking.context);
- ``keyword``: BM25 of the query over the speaker + memory text (memlab.ranking.bm25);
- ``keyword_context``: BM25 over the context window;
- ``speaker``: 1 when the query names the memory's speaker (every word of its ``actor_id``
  occurs in the query), else 0 — "what did Ana say about ..." prefers Ana's own messages;
- ``time``: 1 when the memory was written (``created_at``) in a date range the query names
  ("... in November 2022?"), else 0 (memlab.ranking.when); computed with it, ``time_text``: 1 when the
  memory's text names a relative date ("last week") that, read against its own date, falls there — not
  fused (no weight), a feature of the calibrated score.

A memory without a context uses its own text/vector in the context channels. Engines compute the
dense and keyword channels over their own storage (they hold the vectors and the postings) and
these two here from the rows' ``actor_id`` / ``created_at``.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from memlab.ranking.bm25 import tokenize
from memlab.ranking.when import created_days, memory_time_match, query_ranges, relative_ranges, time_match


def speaker_match(actors: np.ndarray, text: str) -> np.ndarray:
    """1.0 where every word of the row's actor_id occurs in the query (None never matches)."""
    names = set(actors.tolist())
    names.discard(None)
    if not names:
        return np.zeros(len(actors))
    words = set(tokenize(text))
    hit = {a: 1.0 for a in names if (parts := tokenize(str(a))) and all(w in words for w in parts)}
    if not hit:
        return np.zeros(len(actors))
    return np.fromiter((hit.get(a, 0.0) for a in actors.tolist()), dtype=np.float64, count=len(actors))


def time_scores(created_at, text: str, reference_date=None, texts: Optional[Callable[[], Sequence]] = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(``time``, ``time_text``) of rows written at ``created_at`` (ISO strings) for query ``text``: whether
    each row was written in a range the query names, and whether a relative date in its text (``texts``,
    fetched only when the query names a date), read against the row's own date, falls in one. Relative
    dates in the query ("last week") count with a ``reference_date`` (mem0 2.x's search argument)."""
    ranges = query_ranges(text) + relative_ranges(text, reference_date)  # read only for a query naming a date
    if not ranges:
        return np.zeros(len(created_at)), np.zeros(len(created_at))
    days = created_days(created_at)
    return time_match(days, ranges), (memory_time_match(texts(), days, ranges) if texts is not None
                                      else np.zeros(len(days)))


def fusion_channels(weights: Mapping[str, float]) -> list[str]:
    """The channels a fusion search computes: those with a weight, and always ``dense`` (the score)."""
    names = [c for c, w in weights.items() if w]
    if "dense" not in names:
        names.append("dense")  # always computed: it is the item's score
    return names


def channel_values(names, text: str, *, any_ctx: bool, dense: Callable[[], np.ndarray],
                   dense_context: Callable[[], np.ndarray], keyword: Callable[[], np.ndarray],
                   keyword_context: Callable[[], np.ndarray], actors: Callable[[], np.ndarray],
                   created_at: Callable[[], Sequence], reference_date=None,
                   texts: Optional[Callable[[], Sequence]] = None) -> dict[str, np.ndarray]:
    """Raw values of the named channels over an engine's allowed rows (one array each, in key order).

    The engine passes how to compute each of its channels (called only when needed). Without any
    context in the allowed rows the context channels ARE the plain ones (the same arrays, so fusion
    normalises them once and gives them both weights).
    """
    out: dict[str, np.ndarray] = {}
    if "dense" in names or ("dense_context" in names and not any_ctx):
        out["dense"] = np.asarray(dense(), dtype=np.float64)
    if "dense_context" in names:
        out["dense_context"] = np.asarray(dense_context(), dtype=np.float64) if any_ctx else out["dense"]
    if "keyword" in names or ("keyword_context" in names and not any_ctx):
        out["keyword"] = keyword()
    if "keyword_context" in names:
        out["keyword_context"] = keyword_context() if any_ctx else out["keyword"]
    if "speaker" in names:
        out["speaker"] = speaker_match(actors(), text)
    if "time" in names:
        out["time"], out["time_text"] = time_scores(created_at(), text, reference_date, texts)
    return out
