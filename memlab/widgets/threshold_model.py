"""The logic of the threshold explorer, as a plain class (no ipywidgets; state settable and assertable).

One retrieval run per embedder is computed once; threshold, k, embedder and category are plain
attributes; metrics, the sweep plot and the table of queries that gain or lose results are
recomputed offline from the runs. Each embedder keeps its own threshold (scores of different
models or of BM25 are not on one scale): switching embedder restores that embedder's threshold,
its recommended one at first. The plot's x axis is the score domain of the embedder (0-1 for
scores in [0, 1]), fixed while the threshold moves.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from memlab.errors import ValidationError
from memlab.evaluate.datasets import Dataset
from memlab.evaluate.metrics import aggregate, cut, evaluate_run, rank_run
from memlab.evaluate.sweep import recommend_threshold, sweep_thresholds

ALL = "all"
STEP = 0.01  # the slider's step: a threshold to two decimals is as fine as labelled data can support


class ThresholdExplorerModel:
    """State and computations of the explorer.

    Args:
        dataset: the evaluation dataset.
        runs: ``{embedder label: run DataFrame}`` (e.g. from :func:`memlab.evaluate.retrieve`).
        threshold: the first embedder's starting threshold (default: its recommended one); the
            others start at their own recommended threshold.
        k: results per query (results = top ``k`` with score ``>= threshold``).
    """

    def __init__(self, dataset: Dataset, runs: dict, *, threshold: Optional[float] = None, k: int = 5,
                 beta: float = 1.0):
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
        self._sweeps: dict = {}
        self._metrics: dict = {}
        self._thresholds: dict = {}  # each embedder's own threshold
        self._threshold = 0.0
        self.threshold = self._initial(self._embedder) if threshold is None else threshold
        self.previous_threshold = self._threshold

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
        if value == self._embedder:
            return
        self._embedder = value
        # another scale: this embedder's own threshold (its recommended one the first time), nothing "changed"
        self._threshold = self.previous_threshold = self._thresholds.get(value, self._initial(value))
        self._thresholds[value] = self._threshold
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
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValidationError(f"k must be a positive integer, got {value!r}.")
        self._k = int(value)
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
        if not math.isfinite(value):
            raise ValidationError(f"threshold must be a finite number, got {value!r}.")
        self.previous_threshold = self._threshold
        self._threshold = self._thresholds[self._embedder] = value
        self._notify("threshold")

    def domain(self, embedder: Optional[str] = None) -> tuple:
        """The x axis and slider range of an embedder: (0, 1) for scores up to 1, else up to the next whole
        number above its scores (raw BM25 is unbounded). Below 0 nothing is worth keeping: it starts at 0."""
        scores = self.runs[embedder or self._embedder]["score"]
        return (0.0, max(1.0, math.ceil(float(scores.max())))) if len(scores) else (0.0, 1.0)

    def score_range(self) -> tuple:
        """(min, max) score over all runs."""
        scores = pd.concat([r["score"] for r in self.runs.values()])
        return (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 1.0)

    def _initial(self, embedder: str) -> float:
        """An embedder's starting threshold: its recommended one over all queries."""
        keep = self._embedder, self._category
        self._embedder, self._category = embedder, ALL
        try:
            rec = self.recommendation()
            return rec.threshold if rec is not None else self.domain(embedder)[0]
        except ValidationError:
            return self.domain(embedder)[0]
        finally:
            self._embedder, self._category = keep

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
        """Aggregated metrics at the current settings (cached per settings: a redraw asks several times)."""
        key = (self._embedder, self._category, self._k, self._threshold)
        if key not in self._metrics:
            if len(self._metrics) > 256:
                self._metrics.clear()
            self._metrics[key] = aggregate(self.per_query())
        return self._metrics[key]

    def has_answerable(self) -> bool:
        return bool(self._queries()["answerable"].astype(bool).sum())

    def sweep(self) -> pd.DataFrame:
        """Metrics over all thresholds for the current embedder/category/k (cached)."""
        key = (self._embedder, self._category, self._k)
        if key not in self._sweeps:
            q = self._queries()
            qrels = self.dataset.qrels[self.dataset.qrels["query_id"].isin(q["id"])]
            self._sweeps[key] = sweep_thresholds(self._run(), qrels, q, k=self._k, beta=self.beta)
        return self._sweeps[key]

    def recommendation(self):
        """The recommended threshold here (max F1), or None where no query is answerable (no basis)."""
        if not self.has_answerable():
            return None
        return recommend_threshold(self.sweep())

    def apply_recommended(self) -> float:
        """Set the threshold to the recommended one; returns it."""
        rec = self.recommendation()
        if rec is None:
            raise ValidationError(f"no recommendation in category {self._category!r}: it has no answerable "
                                  "queries; pick a category that has some.")
        self.threshold = rec.threshold
        return self._threshold

    def expected_precision(self) -> float:
        """Precision of the results kept at the current threshold, measured on the labelled queries (NaN
        where no query is answerable): what to expect of the results a search at this threshold returns."""
        return float(self.metrics()["precision"]) if self.has_answerable() else float("nan")

    def changes(self, baseline: Optional[float] = None) -> pd.DataFrame:
        """Queries whose result lists differ between ``baseline`` (default: the previous threshold) and now.

        Columns: ``query_id, scope, text, answerable, n_before, n_after, gained, lost, relevant_gained,
        relevant_lost`` (``gained``/``lost``: memory texts that appear/disappear).
        """
        baseline = self.previous_threshold if baseline is None else float(baseline)
        run = cut(self._run(), self._k, None)
        before = cut(run, None, baseline)
        after = cut(run, None, self._threshold)
        positive = self.dataset.qrels[self.dataset.qrels["relevance"] > 0]
        rel = set(zip(positive["query_id"], positive["memory_id"]))
        texts = dict(zip(self.dataset.memories["id"], self.dataset.memories["text"]))
        b = before.groupby("query_id")["memory_id"].apply(set).to_dict()
        a = after.groupby("query_id")["memory_id"].apply(set).to_dict()
        rows = []
        for q in self._queries().itertuples(index=False):
            sb, sa = b.get(q.id, set()), a.get(q.id, set())
            if sb == sa:
                continue
            gained, lost = sa - sb, sb - sa
            rows.append({"query_id": q.id, "scope": q.scope, "text": q.text, "answerable": bool(q.answerable),
                         "n_before": len(sb), "n_after": len(sa),
                         "gained": [texts.get(m, m) for m in sorted(gained)],
                         "lost": [texts.get(m, m) for m in sorted(lost)],
                         "relevant_gained": sum((q.id, m) in rel for m in gained),
                         "relevant_lost": sum((q.id, m) in rel for m in lost)})
        cols = ["query_id", "scope", "text", "answerable", "n_before", "n_after", "gained", "lost",
                "relevant_gained", "relevant_lost"]
        return pd.DataFrame(rows, columns=cols)

    def figure(self):
        """Metrics vs threshold on the embedder's fixed score domain, the current threshold and (where
        there is one) the recommendation marked."""
        from memlab.evaluate.plots import legend_outside, metrics_vs_threshold

        rec = self.recommendation()
        fig = metrics_vs_threshold(self.sweep(), rec,
                                   title=f"{self._embedder} · category {self._category} · k={self._k}")
        ax = fig.axes[0]
        for line in list(ax.lines):  # a metric undefined everywhere here (no answerable query) has no line
            if np.all(np.isnan(np.asarray(line.get_ydata(), dtype=float))):
                line.remove()
        ax.set_xlim(*self.domain())  # fixed: the axis never rescales while the threshold moves
        ax.axvline(self._threshold, color="black", linewidth=1.2, label=f"current {self._threshold:.2f}")
        if rec is None:
            ax.text(0.5, 0.5, "no answerable queries here:\nno recommendation", transform=ax.transAxes,
                    ha="center", va="center", color="#666")
        legend_outside(ax)  # again, so the legend lists the current threshold too
        return fig

    def export_png(self, path: Any = None, *, dpi: int = 192) -> Path:
        """Save the current chart as PNG (default name from the settings, in the working folder);
        returns the absolute path."""
        if path is None:
            path = f"threshold_{self._embedder}_{self._category}_k{self._k}_t{self._threshold:.2f}.png"
        path = Path(path).expanduser().resolve()
        if not path.parent.is_dir():
            raise ValidationError(f"Folder {str(path.parent)!r} does not exist.")
        fig = self.figure()
        fig.savefig(path, format="png", dpi=dpi)
        return path

    def metrics_text(self) -> str:
        """The metrics line as plain text; undefined metrics (no answerable query here) say why."""
        m = self.metrics()
        if not self.has_answerable():
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
