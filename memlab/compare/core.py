"""``compare(before, after, queries)``: the same queries against two memories, side by side.

Both sides are searched (or read from a recorded run) with the same top-``k`` and threshold
(or one threshold per side, to study a threshold change);
memories are matched across sides by id (default), by content hash or by normalised text
(``match_on``) — use "hash" or "memory" after a migration that assigned new ids.
Metric definitions are in :mod:`memlab.compare.stats`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from memlab.compare.queries import Query, normalize_queries
from memlab.compare.render import comparison_html
from memlab.compare.runs import Run, Side, open_side
from memlab.compare.stats import SCORE_TOL, bootstrap_ci, match_key, query_changes
from memlab.errors import ValidationError
from memlab.validation import check_limit, check_threshold

MATCH_ON = ("id", "hash", "memory")
COMPARISON_FORMAT = "memlab.comparison"
# Aggregated per-query columns: (summary name, column, what it means)
SUMMARY_METRICS = (
    ("overlap@k", "overlap_at_k", "mean share of the larger top-k both sides returned (1 = same set)"),
    ("jaccard", "jaccard", "mean |B∩A| / |B∪A| (1 = same set)"),
    ("top1_changed_rate", "top1_changed", "share of queries whose first result changed"),
    ("changed_rate", "changed", "share of queries whose ranked results or scores changed"),
    ("mean_abs_rank_change", "mean_abs_rank_change", "mean |rank move| of memories on both sides"),
    ("mean_abs_score_delta", "mean_abs_score_delta", "mean |score change| of memories on both sides"),
    ("mean_score_delta", "mean_score_delta", "mean signed score change (after - before)"),
    ("gained_per_query", "n_gained", "memories only the after side returned, per query"),
    ("lost_per_query", "n_lost", "memories only the before side returned, per query"),
)


@dataclass
class QueryResult:
    """One query's results on both sides and what changed."""

    query: Query
    before: list[dict]
    after: list[dict]
    changes: dict


@dataclass
class Comparison:
    """The result of :func:`compare`. ``to_pandas()`` per query, ``summary()`` aggregated."""

    results: list[QueryResult]
    k: int
    threshold: Any  # a float, None, or a (before, after) pair
    match_on: str
    before_label: str = "before"
    after_label: str = "after"
    sides: dict = field(default_factory=dict)

    # -------------------------------------------------------------- tables
    def to_pandas(self):
        """One row per query: results before/after, overlap@k, Jaccard, rank and score changes, gains, losses."""
        import pandas as pd

        rows = []
        for r in self.results:
            c = r.changes
            b_text = {match_key(h, self.match_on): h["memory"] for h in r.before}
            a_text = {match_key(h, self.match_on): h["memory"] for h in r.after}
            rows.append({
                "query_id": r.query.query_id,
                "query": r.query.text,
                "before": [h["memory"] for h in r.before],
                "after": [h["memory"] for h in r.after],
                "before_ids": [h["id"] for h in r.before],
                "after_ids": [h["id"] for h in r.after],
                "before_scores": [h["score"] for h in r.before],
                "after_scores": [h["score"] for h in r.after],
                "n_before": len(r.before),
                "n_after": len(r.after),
                "overlap_at_k": c["overlap_at_k"],
                "jaccard": c["jaccard"],
                "top1_changed": c["top1_changed"],
                "changed": c["changed"],
                "rank_changes": c["rank_changes"],
                "mean_abs_rank_change": c["mean_abs_rank_change"],
                "score_deltas": c["score_deltas"],
                "mean_score_delta": c["mean_score_delta"],
                "mean_abs_score_delta": c["mean_abs_score_delta"],
                "max_abs_score_delta": c["max_abs_score_delta"],
                "gained": [a_text[key] for key in c["gained_keys"]],
                "lost": [b_text[key] for key in c["lost_keys"]],
                "gained_keys": c["gained_keys"],
                "lost_keys": c["lost_keys"],
                "n_gained": len(c["gained_keys"]),
                "n_lost": len(c["lost_keys"]),
            })
        return pd.DataFrame(rows)

    def summary(self, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0):
        """Aggregate statistics with percentile-bootstrap confidence intervals (one row per metric).

        NaN per-query values (e.g. no common memory to take a rank change of) are skipped;
        ``n`` says how many queries each row averages.
        """
        import pandas as pd

        df = self.to_pandas()
        rows = []
        for name, column, meaning in SUMMARY_METRICS:
            values = df[column].astype(float).tolist() if len(df) else []
            mean, low, high, n = bootstrap_ci(values, n_boot=n_boot, confidence=confidence, seed=seed)
            rows.append({"metric": name, "mean": mean, "ci_low": low, "ci_high": high, "n": n, "meaning": meaning})
        return pd.DataFrame(rows).set_index("metric")

    @property
    def thresholds(self) -> tuple[Optional[float], Optional[float]]:
        """The (before, after) thresholds."""
        if isinstance(self.threshold, (tuple, list)):
            return self.threshold[0], self.threshold[1]
        return self.threshold, self.threshold

    @property
    def identical(self) -> bool:
        """True when no query changed (same ranked memories, scores within tolerance)."""
        return not any(r.changes["changed"] for r in self.results)

    def changed_queries(self) -> list[str]:
        return [r.query.query_id for r in self.results if r.changes["changed"]]

    def __getitem__(self, query_id: str) -> QueryResult:
        for r in self.results:
            if r.query.query_id == query_id:
                return r
        raise KeyError(query_id)

    def __len__(self) -> int:
        return len(self.results)

    # -------------------------------------------------------------- runs and files
    def runs(self) -> tuple[Run, Run]:
        """The two sides as recorded :class:`Run` objects (save one to compare against later)."""
        queries = {r.query.query_id: r.query.to_dict() for r in self.results}
        out = []
        for label, attr, thr in ((self.before_label, "before", self.thresholds[0]),
                                 (self.after_label, "after", self.thresholds[1])):
            results = {r.query.query_id: [dict(h) for h in getattr(r, attr)] for r in self.results}
            meta = {k: v for k, v in self.sides.get(attr, {}).items() if isinstance(v, (str, int, float))}
            out.append(Run(label, self.k, thr, results, dict(queries), meta))
        return out[0], out[1]

    def save(self, path: str | Path) -> Path:
        """Write both sides and the settings as one JSON file (reload with :meth:`load`)."""
        before, after = self.runs()
        data = {"format": COMPARISON_FORMAT, "format_version": 1, "k": self.k, "threshold": self.threshold,
                "match_on": self.match_on, "sides": self.sides,
                "queries": [r.query.to_dict() for r in self.results],
                "before": before.to_dict(), "after": after.to_dict()}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Comparison":
        """Rebuild a saved comparison (metrics are recomputed from the stored results)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValidationError(f"Cannot read comparison file {str(path)!r}: {exc}.") from None
        if not isinstance(data, dict) or data.get("format") != COMPARISON_FORMAT:
            raise ValidationError(f"{str(path)!r} is not a saved memlab comparison.")
        before = Run.from_dict(data["before"])
        after = Run.from_dict(data["after"])
        thr = data["threshold"]
        return compare(before, after, data["queries"], k=data["k"],
                       threshold=tuple(thr) if isinstance(thr, list) else thr,
                       match_on=data.get("match_on", "id"), labels=(before.label, after.label))

    def answers(self, **kwargs):
        """Answers without memory and with each side's memories: see :func:`memlab.compare.compare_answers`."""
        from memlab.compare.answers import compare_answers

        return compare_answers(self, **kwargs)

    # -------------------------------------------------------------- display
    def _repr_html_(self) -> str:
        return comparison_html(self)

    def __repr__(self) -> str:
        changed = len(self.changed_queries())
        return (f"Comparison({self.before_label!r} vs {self.after_label!r}: {len(self)} queries, "
                f"k={self.k}, {changed} changed)")


def _takes_records(source: Any) -> bool:
    """Whether ``source`` is a config (built from ``records=``) rather than a memory, run or store."""
    from memlab import MemoryConfig
    from memlab.compare.runs import RUN_FORMAT, _is_run_file

    if isinstance(source, MemoryConfig):
        return True
    if isinstance(source, dict):
        return source.get("format") != RUN_FORMAT
    if isinstance(source, (str, Path)):
        path = Path(source)
        return path.is_file() and path.suffix.lower() != ".jsonl" and not _is_run_file(path)
    return False


def compare(before: Any, after: Any, queries: Any, *, k: int = 10, threshold: Optional[float] = None,
            records: Any = None, match_on: str = "id", labels: tuple[str, str] = ("before", "after"),
            score_tol: float = SCORE_TOL) -> Comparison:
    """Run the same queries against two sides and measure what changed.

    Args:
        before, after: each a :class:`memlab.Memory`; a MemoryConfig or config dict (built in
            memory from ``records``, or opened at its ``vector_store.config.path``); a recorded
            :class:`Run`; or a path to a store directory, a config file or a saved run.
        queries: strings, dicts (``query``, ``query_id``, ``user_id``/``agent_id``/``run_id``,
            ``filters``, ``reference``), a DataFrame or a queries file (.jsonl/.json/.csv/.txt).
        k: results per query on each side.
        threshold: drop results scoring below it, on both sides; a ``(before, after)`` pair
            sets one per side (e.g. ``(None, 0.4)`` to see what a new threshold removes).
        records: the data both config sides are built from (a Memory, a DataFrame of
            memories or a list of ``Memory.add_records`` dicts).
        match_on: "id" (default), "hash" or "memory" (case/space-normalised text).
        labels: names of the two sides in tables and reports.
        score_tol: score changes at or below this count as "no change".

    Returns:
        A :class:`Comparison`.
    """
    k = check_limit(k, "k")
    if isinstance(threshold, (tuple, list)):
        if len(threshold) != 2:
            raise ValidationError("threshold must be a number, None, or a (before, after) pair.")
        threshold = (check_threshold(threshold[0]), check_threshold(threshold[1]))
        thresholds = threshold
    else:
        threshold = check_threshold(threshold)
        thresholds = (threshold, threshold)
    if match_on not in MATCH_ON:
        raise ValidationError(f"match_on must be one of {', '.join(MATCH_ON)}, got {match_on!r}.")
    if not (isinstance(labels, (tuple, list)) and len(labels) == 2 and all(isinstance(x, str) for x in labels)):
        raise ValidationError("labels must be a pair of strings, e.g. ('hash', 'minilm').")
    qs = normalize_queries(queries)
    sides: list[Side] = []
    opened: list[Side] = []  # sides compare() opened itself; Side objects passed in stay open
    try:
        takes = [_takes_records(before), _takes_records(after)]
        if records is not None and not any(takes):
            raise ValidationError("records= builds config sides, but neither side is a config.")
        for source, label, take in ((before, labels[0], takes[0]), (after, labels[1], takes[1])):
            side = open_side(source, records=records if take else None, label=label)
            sides.append(side)
            if side is not source:
                opened.append(side)
        results = []
        for q in qs:
            b = sides[0].hits(q, k, thresholds[0])
            a = sides[1].hits(q, k, thresholds[1])
            changes = query_changes([match_key(h, match_on) for h in b], [match_key(h, match_on) for h in a],
                                    [h["score"] for h in b], [h["score"] for h in a], score_tol=score_tol)
            results.append(QueryResult(q, b, a, changes))
        described = {"before": sides[0].describe(), "after": sides[1].describe()}
    finally:
        for side in opened:
            side.close()
    return Comparison(results, k, threshold, match_on, labels[0], labels[1], described)
