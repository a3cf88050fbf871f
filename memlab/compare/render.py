"""HTML rendering of comparisons for notebooks (escaped, self-contained, no JavaScript)."""

from __future__ import annotations

import html
import math
from typing import Any, Optional

from memlab.compare.stats import match_key

GAIN = "#d8f5d0"   # only on the after side
LOSS = "#f9d6d5"   # only on the before side
MOVED = "#fff3c4"  # on both sides, at another rank


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _thr(pair: tuple) -> str:
    return _fmt(pair[0]) if pair[0] == pair[1] else f"{_fmt(pair[0])} → {_fmt(pair[1])}"


def side_rows(hits: list[dict], keys: list[str], other_rank: dict, other_score: dict) -> list[dict]:
    """Display rows of one side: rank, text, score and a status against the other side.

    Status: "only" (absent on the other side — the caller says gained or lost), "moved" (its rank
    differs), "rescored" (same rank, another score: expected after an embedder change, so not
    highlighted) or "same".
    """
    rows = []
    for i, (hit, key) in enumerate(zip(hits, keys)):
        if key not in other_rank:
            status = "only"
        elif other_rank[key] != i + 1:
            status = "moved"
        elif _score_moved(hit.get("score"), other_score.get(key)):
            status = "rescored"
        else:
            status = "same"
        rows.append({"rank": i + 1, "memory": hit["memory"], "id": hit["id"], "score": hit.get("score"),
                     "other_rank": other_rank.get(key), "other_score": other_score.get(key), "status": status})
    return rows


def _score_moved(a: Optional[float], b: Optional[float], tol: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is not b
    return abs(a - b) > tol


def _moved_note(row: dict) -> str:
    """Why a row on both sides carries a note: its rank moved ("was #3"), or only its score did."""
    if row.get("other_rank") and row["other_rank"] != row["rank"]:
        return f"was #{row['other_rank']}"
    return f"score was {_fmt(row.get('other_score'))}"


_CELL = "padding:2px 6px;text-align:left;vertical-align:top"


def column_html(title: str, rows: list[dict], only_word: str, only_color: str) -> str:
    """One column (before or after) as an HTML table with headers, gains/losses highlighted."""
    cells = [f"<tr><th colspan='3' style='{_CELL};font-size:110%'>{html.escape(title)}</th></tr>",
             f"<tr style='border-bottom:1px solid #999'><th style='{_CELL}'>#</th><th style='{_CELL}'>memory</th>"
             f"<th style='{_CELL};text-align:right'>score</th></tr>"]
    if not rows:
        cells.append("<tr><td colspan='3'><i>no results</i></td></tr>")
    for r in rows:
        color = {"only": only_color, "moved": MOVED}.get(r["status"], "transparent")
        note = only_word if r["status"] == "only" else _moved_note(r) if r["status"] in ("moved", "rescored") else ""
        cells.append(
            f"<tr style='background:{color}'><td style='{_CELL}'>{r['rank']}</td><td style='{_CELL}'>"
            f"{html.escape(r['memory'])}{' <small>(' + html.escape(note) + ')</small>' if note else ''}</td>"
            f"<td style='{_CELL};text-align:right'>{_fmt(r['score'])}</td></tr>"
        )
    return "<table style='border-collapse:collapse;width:100%'>" + "".join(cells) + "</table>"


def legend_html(before_title: str, after_title: str) -> str:
    """The colour key of :func:`two_columns_html`."""
    def swatch(color: str, text: str) -> str:
        return (f"<span style='display:inline-block;margin-right:14px'><span style='display:inline-block;"
                f"width:12px;height:12px;background:{color};border:1px solid #999;vertical-align:middle'></span> "
                f"{html.escape(text)}</span>")

    return ("<div style='font-size:90%;margin:4px 0'>"
            + swatch(GAIN, f"only {after_title} found it (gained)") + swatch(LOSS, f"only {before_title} found it (lost)")
            + swatch(MOVED, "found by both, at another rank") + swatch("transparent", "same rank on both sides")
            + "</div>")


def two_columns_html(before_title: str, before_rows: list[dict], after_title: str, after_rows: list[dict]) -> str:
    return (
        "<div style='display:flex;gap:1em'>"
        f"<div style='flex:1'>{column_html(before_title, before_rows, 'lost', LOSS)}</div>"
        f"<div style='flex:1'>{column_html(after_title, after_rows, 'gained', GAIN)}</div></div>"
    )


def query_columns(comparison, result) -> tuple[list[dict], list[dict]]:
    """Display rows of both sides of one :class:`~memlab.compare.core.QueryResult`."""
    bk = [match_key(h, comparison.match_on) for h in result.before]
    ak = [match_key(h, comparison.match_on) for h in result.after]
    b_rank = {key: i + 1 for i, key in enumerate(bk)}
    a_rank = {key: i + 1 for i, key in enumerate(ak)}
    b_score = {key: h.get("score") for key, h in zip(bk, result.before)}
    a_score = {key: h.get("score") for key, h in zip(ak, result.after)}
    return side_rows(result.before, bk, a_rank, a_score), side_rows(result.after, ak, b_rank, b_score)


def comparison_html(comparison, *, max_queries: int = 20) -> str:
    """Summary table with confidence intervals, then each query's two columns."""
    summary = comparison.summary()
    head = (f"<h4>{html.escape(comparison.before_label)} vs {html.escape(comparison.after_label)}: "
            f"{len(comparison)} queries, k={comparison.k}, threshold={_thr(comparison.thresholds)}, "
            f"{len(comparison.changed_queries())} changed</h4>")
    srows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{_fmt(row['mean'])}</td>"
        f"<td>[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]</td><td>{row['n']}</td>"
        f"<td><small>{html.escape(row['meaning'])}</small></td></tr>"
        for name, row in summary.iterrows()
    )
    table = ("<table><tr><th>metric</th><th>mean</th><th>95% CI</th><th>n</th><th></th></tr>"
             + srows + "</table>")
    parts = [head, table, legend_html(comparison.before_label, comparison.after_label)]
    for result in comparison.results[:max_queries]:
        before_rows, after_rows = query_columns(comparison, result)
        c = result.changes
        parts.append(
            f"<p><b>{html.escape(result.query.query_id)}</b>: {html.escape(result.query.text)} "
            f"<small>(overlap@k {_fmt(c['overlap_at_k'], 2)}, +{len(c['gained_keys'])} "
            f"−{len(c['lost_keys'])})</small></p>"
        )
        parts.append(two_columns_html(comparison.before_label, before_rows, comparison.after_label, after_rows))
    if len(comparison) > max_queries:
        parts.append(f"<p><i>{len(comparison) - max_queries} more queries: see .to_pandas()</i></p>")
    return "<div class='memlab-comparison'>" + "".join(parts) + "</div>"
