"""Evaluation plots (matplotlib). Every function returns a ``matplotlib.figure.Figure``.

Figures are built with the object API (no pyplot state), so they work headless, in notebooks
(displayed as the cell's value) and in the CLI (``fig.savefig(...)``). In a notebook they show as
a PNG drawn at twice the resolution and displayed at normal size, so they stay sharp on HiDPI
screens without any ``%config``. Legends sit outside the axes, never over bars or curves.
"""

from __future__ import annotations

import struct
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from memlab.errors import ValidationError
from memlab.evaluate.sweep import Recommendation


class CrispFigure(Figure):
    """A Figure that a notebook displays as a 2x PNG at 1x size (sharp on HiDPI screens).

    IPython asks ``_repr_mimebundle_`` before its own figure formatter, so this works whatever
    the matplotlib backend (``MPLBACKEND=Agg`` included) and without ``%matplotlib inline``.
    """

    def _repr_mimebundle_(self, include=None, exclude=None):
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=2 * self.dpi, bbox_inches="tight")
        png = buf.getvalue()
        width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
        return ({"image/png": png, "text/plain": repr(self)},
                {"image/png": {"width": width // 2, "height": height // 2}})


def _fig(size=(6.4, 4.2)) -> tuple:
    fig = CrispFigure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def legend_outside(ax) -> None:
    """(Re)draw the axes' legend to the right of the plot, where it cannot hide data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small", frameon=False)


def pr_curve(sweeps: "pd.DataFrame | dict", recommendation: Optional[Recommendation] = None,
             title: str = "Precision–recall over thresholds") -> Figure:
    """Precision (macro, answerable queries) against recall, one curve per sweep (dict: label → sweep)."""
    sweeps = sweeps if isinstance(sweeps, dict) else {"run": sweeps}
    fig, ax = _fig()
    for label, sw in sweeps.items():
        ax.plot(sw["recall"], sw["precision"], marker=".", markersize=3, label=label)
    if recommendation is not None:
        m = recommendation.metrics
        ax.scatter([m["recall"]], [m["precision"]], s=80, color="crimson", zorder=5,
                   label=f"recommended t={recommendation.threshold:.2f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return fig


def metrics_vs_threshold(sweep: pd.DataFrame, recommendation: Optional[Recommendation] = None,
                         metrics: Sequence[str] = ("precision", "recall", "f1", "empty_rate_answerable",
                                                   "empty_rate_unanswerable"),
                         title: str = "Metrics vs similarity threshold") -> Figure:
    """Chosen metrics against the threshold, with the recommended threshold marked."""
    missing = [m for m in metrics if m not in sweep.columns]
    if missing:
        raise ValidationError(f"sweep has no column(s) {missing}.")
    fig, ax = _fig((8.2, 4.2))
    for m in metrics:
        ax.plot(sweep["threshold"], sweep[m], label=m.replace("_", " "),
                linestyle="--" if m.startswith("empty") else "-")
    if recommendation is not None:
        ax.axvline(recommendation.threshold, color="crimson", linestyle=":",
                   label=f"recommended {recommendation.threshold:.2f} ({recommendation.criterion})")
    ax.set(xlabel="threshold (score >= t is returned)", ylabel="value", ylim=(-0.02, 1.02), title=title)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return fig


def score_distributions(run: pd.DataFrame, qrels: pd.DataFrame, queries: Optional[pd.DataFrame] = None, *,
                        k: Optional[int] = None, threshold: Optional[float] = None, bins: int = 40,
                        title: str = "Scores of relevant vs non-relevant results") -> Figure:
    """Histograms of scores: relevant pairs, non-relevant pairs of answerable queries, and results
    of unanswerable queries (everything they return is a false positive)."""
    df = run if k is None else run[run["rank"] <= k]
    rel = qrels[qrels["relevance"] > 0].assign(_rel=True).set_index(["query_id", "memory_id"])["_rel"]
    is_rel = rel.reindex(pd.MultiIndex.from_frame(df[["query_id", "memory_id"]])).fillna(False).to_numpy(bool)
    answerable_ids = set(qrels.loc[qrels["relevance"] > 0, "query_id"])
    if queries is not None:
        answerable_ids = set(queries.loc[queries["answerable"].astype(bool), "id"])
    ans = df["query_id"].isin(answerable_ids).to_numpy()
    scores = df["score"].to_numpy(float)
    fig, ax = _fig()
    edges = np.histogram_bin_edges(scores, bins=bins) if len(scores) else bins
    groups = [("relevant", scores[is_rel]), ("non-relevant (answerable)", scores[ans & ~is_rel]),
              ("unanswerable queries", scores[~ans])]
    for label, vals in groups:
        if len(vals):
            ax.hist(vals, bins=edges, density=True, alpha=0.45, label=f"{label} (n={len(vals)})")
    if threshold is not None:
        ax.axvline(threshold, color="crimson", linestyle=":", label=f"threshold {threshold:.2f}")
    ax.set(xlabel="score", ylabel="density", title=title)
    legend_outside(ax)
    return fig


def category_bars(by_category: pd.DataFrame, metrics: Sequence[str] = ("recall", "precision", "hit", "ndcg"),
                  title: str = "Metrics per query category") -> Figure:
    """Grouped bars of metrics per category (rows of :func:`memlab.evaluate.metrics.aggregate_by`)."""
    metrics = [m for m in metrics if m in by_category.columns]
    if not metrics:
        raise ValidationError("none of the requested metrics is a column of the per-category table.")
    fig, ax = _fig((min(13.0, max(7.4, 0.8 * len(by_category) + 3)), 4.2))
    x = np.arange(len(by_category))
    width = 0.8 / len(metrics)
    for i, m in enumerate(metrics):
        ax.bar(x + i * width - 0.4 + width / 2, by_category[m].fillna(0.0), width, label=m)
    # a category whose metrics are all undefined (no answerable query: 0/0) has no bars: say so in its slot
    empty = by_category[metrics].isna().all(axis=1).to_numpy()
    for xi in x[empty]:
        ax.text(xi, 0.03, "no answerable\nqueries (n/a)", ha="center", va="bottom", fontsize="small",
                color="0.35", rotation=90)
    ax.set_xticks(x, [str(c) for c in by_category.index], rotation=20, ha="right")
    ax.set(ylabel="value", ylim=(0, 1.05), title=title)
    legend_outside(ax)
    ax.grid(axis="y", alpha=0.3)
    return fig
