"""ThresholdExplorer: pick a similarity threshold interactively, seeing what it costs.

:class:`ThresholdExplorerModel` holds all logic (plain Python, tested without a browser): one
retrieval run per embedder is computed once; threshold, k, embedder and category are plain
attributes; metrics, the sweep plot and the table of queries that gain or lose results are
recomputed offline from the runs. :class:`ThresholdExplorer` is a thin ipywidgets view over it.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from memlab.errors import ValidationError
from memlab.evaluate.datasets import Dataset
from memlab.evaluate.metrics import aggregate, cut, evaluate_run, rank_run
from memlab.evaluate.sweep import recommend_threshold, sweep_thresholds

ALL = "all"
DPI = 96  # CSS pixels per inch: the plot is drawn at 2 * DPI and shown at DPI, so it stays sharp on HiDPI


class ThresholdExplorerModel:
    """State and computations of the explorer.

    Args:
        dataset: the evaluation dataset.
        runs: ``{embedder label: run DataFrame}`` (e.g. from :func:`memlab.evaluate.retrieve`).
        threshold / k: initial settings (results = top ``k`` with score ``>= threshold``).
    """

    def __init__(self, dataset: Dataset, runs: dict, *, threshold: float = 0.3, k: int = 5, beta: float = 1.0):
        if not runs:
            raise ValidationError("ThresholdExplorerModel needs at least one run ({label: run DataFrame}).")
        self._listeners: list = []  # callbacks(name) run after a setting changes (the view syncs itself)
        self.dataset = dataset
        self.runs = {label: rank_run(run) for label, run in runs.items()}
        self.beta = beta
        self._embedder = next(iter(self.runs))
        self._category = ALL
        self._k = 1
        self.k = k
        self._threshold = 0.0
        self.threshold = threshold
        self.previous_threshold = self._threshold
        self._sweeps: dict = {}

    @classmethod
    def from_dataset(cls, dataset: Dataset, embedders: Sequence[Any] = ("minilm",), *, depth: int = 20,
                     **kwargs: Any) -> "ThresholdExplorerModel":
        """Retrieve once per embedder (provider names or embedder objects), then explore."""
        from memlab.evaluate.retrieval import build_memory, dense_retrieve

        runs = {}
        for emb in embedders:
            memory = build_memory(dataset, emb)
            try:
                runs[str(memory.embedder.name)] = dense_retrieve(dataset, memory, depth=depth)
            finally:
                memory.close()
        return cls(dataset, runs, **kwargs)

    def observe(self, callback) -> None:
        """Call ``callback(name)`` after ``threshold``, ``k``, ``embedder`` or ``category`` is set.

        The widget uses it so that ``model.threshold = 0.5`` in a later cell moves its slider.
        """
        self._listeners.append(callback)

    def _notify(self, name: str) -> None:
        for callback in list(self._listeners):
            callback(name)

    # ------------------------------------------------------------------ settings
    @property
    def embedders(self) -> list:
        return list(self.runs)

    @property
    def categories(self) -> list:
        cats = self.dataset.queries["category"].dropna().unique().tolist()
        return [ALL] + sorted(cats, key=str)

    @property
    def embedder(self) -> str:
        return self._embedder

    @embedder.setter
    def embedder(self, value: str) -> None:
        if value not in self.runs:
            raise ValidationError(f"unknown embedder {value!r}; choose one of {', '.join(self.runs)}.")
        self._embedder = value
        self._notify("embedder")

    @property
    def category(self) -> Any:
        return self._category

    @category.setter
    def category(self, value: Any) -> None:
        if value not in self.categories:
            raise ValidationError(f"unknown category {value!r}; choose one of {self.categories}.")
        self._category = value
        self._notify("category")

    @property
    def k(self) -> int:
        return self._k

    @k.setter
    def k(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValidationError(f"k must be a positive integer, got {value!r}.")
        self._k = value
        self._notify("k")

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValidationError(f"threshold must be a number, got {value!r}.") from None
        if value != value:
            raise ValidationError("threshold must not be NaN.")
        self.previous_threshold = getattr(self, "_threshold", value)
        self._threshold = value
        self._notify("threshold")

    def score_range(self) -> tuple:
        """(min, max) score over all runs (slider bounds)."""
        scores = pd.concat([r["score"] for r in self.runs.values()])
        return (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 1.0)

    # ------------------------------------------------------------------ computations
    def _queries(self) -> pd.DataFrame:
        q = self.dataset.queries
        return q if self._category == ALL else q[q["category"] == self._category]

    def _run(self) -> pd.DataFrame:
        run = self.runs[self._embedder]
        return run[run["query_id"].isin(self._queries()["id"])]

    def per_query(self, threshold: Optional[float] = None) -> pd.DataFrame:
        """Per-query metrics at the current settings (or another threshold)."""
        q = self._queries()
        qrels = self.dataset.qrels[self.dataset.qrels["query_id"].isin(q["id"])]
        t = self._threshold if threshold is None else threshold
        return evaluate_run(self._run(), qrels, q, k=self._k, threshold=t, beta=self.beta)

    def metrics(self) -> pd.Series:
        """Aggregated metrics at the current settings."""
        return aggregate(self.per_query())

    def sweep(self) -> pd.DataFrame:
        """Metrics over all thresholds for the current embedder/category/k (cached)."""
        key = (self._embedder, self._category, self._k)
        if key not in self._sweeps:
            q = self._queries()
            qrels = self.dataset.qrels[self.dataset.qrels["query_id"].isin(q["id"])]
            self._sweeps[key] = sweep_thresholds(self._run(), qrels, q, k=self._k, beta=self.beta)
        return self._sweeps[key]

    def recommendation(self):
        return recommend_threshold(self.sweep())

    def changes(self, baseline: Optional[float] = None) -> pd.DataFrame:
        """Queries whose result lists differ between ``baseline`` (default: the previous threshold) and now.

        Columns: ``query_id, text, answerable, n_before, n_after, gained, lost, relevant_gained,
        relevant_lost`` (``gained``/``lost``: memory texts that appear/disappear).
        """
        baseline = self.previous_threshold if baseline is None else float(baseline)
        run = cut(self._run(), self._k, None)
        before = cut(run, None, baseline)
        after = cut(run, None, self._threshold)
        rel = set(zip(self.dataset.qrels.loc[self.dataset.qrels["relevance"] > 0, "query_id"],
                      self.dataset.qrels.loc[self.dataset.qrels["relevance"] > 0, "memory_id"]))
        texts = dict(zip(self.dataset.memories["id"], self.dataset.memories["text"]))
        b = before.groupby("query_id")["memory_id"].apply(set).to_dict()
        a = after.groupby("query_id")["memory_id"].apply(set).to_dict()
        rows = []
        for q in self._queries().itertuples(index=False):
            sb, sa = b.get(q.id, set()), a.get(q.id, set())
            if sb == sa:
                continue
            gained, lost = sa - sb, sb - sa
            rows.append({"query_id": q.id, "text": q.text, "answerable": bool(q.answerable),
                         "n_before": len(sb), "n_after": len(sa),
                         "gained": [texts.get(m, m) for m in sorted(gained)],
                         "lost": [texts.get(m, m) for m in sorted(lost)],
                         "relevant_gained": sum((q.id, m) in rel for m in gained),
                         "relevant_lost": sum((q.id, m) in rel for m in lost)})
        cols = ["query_id", "text", "answerable", "n_before", "n_after", "gained", "lost", "relevant_gained",
                "relevant_lost"]
        return pd.DataFrame(rows, columns=cols)

    def figure(self):
        """Metrics vs threshold for the current settings, current threshold and recommendation marked."""
        from memlab.evaluate.plots import metrics_vs_threshold

        fig = metrics_vs_threshold(self.sweep(), self.recommendation(),
                                   title=f"{self._embedder} · category {self._category} · k={self._k}")
        from memlab.evaluate.plots import legend_outside

        fig.axes[0].axvline(self._threshold, color="black", linewidth=1.2, label=f"current {self._threshold:.2f}")
        legend_outside(fig.axes[0])  # again, so the legend lists the current threshold too
        return fig

    def metrics_text(self) -> str:
        """The metrics line as plain text; undefined metrics (no answerable query here) say why."""
        m = self.metrics()
        if self._queries()["answerable"].astype(bool).sum() == 0:
            return (f"no answerable queries in category {self._category!r}: precision, recall, F1 and hit are "
                    f"undefined here (n/a); unanswerable queries left empty "
                    f"{_pct(m['empty_rate_unanswerable'])} · {m['mean_results']:.2f} results/query")
        return (f"precision {_num(m['precision'])} · recall {_num(m['recall'])} · F1 {_num(m['f1'])} · "
                f"hit {_num(m['hit'])} · answerable empty {_pct(m['empty_rate_answerable'])} · "
                f"unanswerable empty {_pct(m['empty_rate_unanswerable'])} · {m['mean_results']:.2f} results/query")



def _num(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{x:.3f}"


def _pct(x: float) -> str:
    return "n/a (none in this category)" if pd.isna(x) else f"{x:.1%}"


class ThresholdExplorer:
    """ipywidgets view: threshold/k sliders, embedder/category dropdowns, metrics, plot, changes table."""

    def __init__(self, model: ThresholdExplorerModel):
        import ipywidgets as W

        self.model = model
        lo, hi = model.score_range()
        # the scale follows the score kind: cosines need 0.01 steps, fused z-sums or BM25 coarser ones
        step = float(10 ** np.floor(np.log10(max(hi - lo, 1e-6) / 100))) if hi > lo else 0.01
        step = min(max(step, 0.001), 1.0)
        digits = max(0, -int(np.floor(np.log10(step))))
        self.threshold = W.FloatSlider(value=model.threshold, min=round(min(lo, model.threshold), digits),
                                       max=round(max(hi, model.threshold), digits) + step, step=step,
                                       description="threshold", continuous_update=False,
                                       readout_format=f".{digits}f")
        depth = int(max(r["rank"].max() for r in model.runs.values() if len(r)) if any(
            len(r) for r in model.runs.values()) else 1)
        self.k = W.IntSlider(value=min(model.k, depth), min=1, max=depth, description="k",
                             continuous_update=False)
        self.embedder = W.Dropdown(options=model.embedders, value=model.embedder, description="embedder")
        self.category = W.Dropdown(options=model.categories, value=model.category, description="category")
        self.metrics_html = W.HTML()
        # PNG bytes: shows in any frontend, whatever the matplotlib backend; drawn at 2x and shown at 1x (crisp)
        self.plot = W.Image(format="png", layout=W.Layout(max_width="100%", height="auto"))
        self.table = W.HTML()  # plain HTML (not an Output): testable without a kernel, never holds stale rows
        self._syncing = False  # set while the view writes its own controls from the model
        for w in (self.threshold, self.k, self.embedder, self.category):
            w.observe(self._on_change, names="value")
        model.observe(self._on_model_change)
        self.widget = W.VBox([W.HBox([self.threshold, self.k]), W.HBox([self.embedder, self.category]),
                              self.metrics_html, self.plot, self.table])
        self.refresh()

    def _on_change(self, change) -> None:
        if self._syncing:
            return
        self._syncing = True  # the model notifies us back; the controls already show these values
        try:
            self.model.embedder = self.embedder.value
            self.model.category = self.category.value
            self.model.k = int(self.k.value)
            if change["owner"] is self.threshold:
                self.model.threshold = self.threshold.value
        finally:
            self._syncing = False
        self.refresh()

    def _on_model_change(self, name: str) -> None:
        """A setting was changed in code (e.g. ``model.threshold = 0.5``): move the control, redraw."""
        if self._syncing:
            return
        self._syncing = True
        try:
            if name == "threshold":
                t = self.model.threshold
                self.threshold.max = max(self.threshold.max, t)
                self.threshold.min = min(self.threshold.min, t)
                self.threshold.value = t
            elif name == "k":
                self.k.max = max(self.k.max, self.model.k)
                self.k.value = self.model.k
            else:
                getattr(self, name).value = getattr(self.model, name)
        finally:
            self._syncing = False
        self.refresh()

    def refresh(self, show_changes: bool = True) -> None:
        """Redraw metrics, plot and the table of changed queries from the model."""
        import html
        import io


        if self.model.metrics()["n_answerable"] == 0:
            advice = ("no recommendation here: every threshold is equally right for answerable queries "
                      "(there are none); pick it on a category that has some")
        else:
            advice = f"recommended: {self.model.recommendation().summary()}"
        self.metrics_html.value = (f"<b>{html.escape(self.model.metrics_text())}</b>"
                                   f"<br>{html.escape(advice)}")
        fig = self.model.figure()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=2 * DPI)
        self.plot.value = buf.getvalue()
        self.plot.layout.width = f"{round(fig.get_figwidth() * DPI)}px"
        # every setting redraws the table for the current embedder/category/k (never stale rows)
        self.table.value = self.changes_html() if show_changes else ""

    def changes_html(self, max_rows: int = 20) -> str:
        """The queries that gained or lost results between the previous and the current threshold."""
        import html

        prev, now = self.model.previous_threshold, self.model.threshold
        if prev == now:
            return "<p><i>Move the threshold to see which queries gain or lose results.</i></p>"
        ch = self.model.changes()
        head = (f"<p><b>{len(ch)} queries changed between threshold {prev:.2f} and {now:.2f}</b> "
                f"({html.escape(str(self.model.embedder))}, category {html.escape(str(self.model.category))}, "
                f"k={self.model.k})</p>")
        if ch.empty:
            return head
        shown = ch.drop(columns=["query_id"]).head(max_rows)
        more = f"<p>… and {len(ch) - max_rows} more (model.changes() has them all).</p>" if len(ch) > max_rows else ""
        return head + shown.to_html(index=False, escape=True).replace("<td>", "<td style='text-align:left'>") + more

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
