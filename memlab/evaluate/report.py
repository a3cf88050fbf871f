"""End-to-end evaluation: dataset → one retrieval pass → metrics, sweep, recommendation → report folder.

Used by ``memlab eval`` and ``memlab demo``; usable from notebooks as :func:`run_evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import pandas as pd

from memlab.evaluate.datasets import Dataset
from memlab.evaluate.metrics import aggregate, aggregate_by, bootstrap_ci, evaluate_run
from memlab.evaluate.retrieval import build_memory, engine_retrieve
from memlab.evaluate.sweep import Recommendation, recommend_threshold, sweep_thresholds

COMMON_DEFAULT = 0.1  # mem0 2.x's default search threshold; the summary shows what it does here


@dataclass
class EvaluationReport:
    """Everything one evaluation produced (DataFrames + the recommendation)."""

    dataset: Dataset
    label: str
    k: int
    run: pd.DataFrame
    per_query: pd.DataFrame
    overall: pd.Series
    ci: pd.DataFrame
    by_category: pd.DataFrame
    sweep: pd.DataFrame
    recommendation: Recommendation
    at_default: Optional[pd.Series]
    timings: dict = field(default_factory=dict)

    def summary(self) -> str:
        s = self.dataset.stats()
        o, ci = self.overall, self.ci
        lines = [
            f"# memlab evaluation: {self.dataset.name} with {self.label}",
            "",
            f"{s['memories']} memories in {s['scopes']} scopes; {s['queries']} queries "
            f"({s['unanswerable']} unanswerable). One retrieval pass, top {self.k}, no threshold:",
            "",
        ]
        for m in ("recall", "precision", "hit", "mrr", "ndcg"):
            lines.append(f"- {m}@{self.k}: {o[m]:.3f} (95% CI {ci.loc[m, 'low']:.3f}–{ci.loc[m, 'high']:.3f})")
        kind = self.run.attrs.get("score", "calibrated")
        lines += ["", f"Recommended {self.recommendation.summary()}."]
        if kind == "calibrated":  # the one relevance score: search(threshold=...) cuts on it in every mode
            lines.append("(The threshold is on the results' `score`, the calibrated relevance in [0, 1] that "
                         "search(threshold=...) cuts on, in every mode.)")
        else:  # a run recorded before the calibrated score: say what this one cuts
            field = {"cosine": "score", "bm25": "keyword_score", "fused": "rank_score",
                     "rerank": "rerank_score"}.get(kind, kind)
            lines.append(f"(This run was recorded before the calibrated score: the threshold is on its {kind} "
                         f"score (`{field}`), not on the score search(threshold=...) cuts today.)")
        if self.at_default is not None:
            d = self.at_default
            lines += ["", f"At threshold {COMMON_DEFAULT} (a common default): recall {d['recall']:.3f}, "
                      f"precision {d['precision']:.3f}, answerable queries left empty "
                      f"{_pct(d['empty_rate_answerable'])}, unanswerable queries correctly empty "
                      f"{_pct(d['empty_rate_unanswerable'])}."]
        if self.timings:
            lines += ["", "Timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items()) + "."]
        return "\n".join(lines)

    def write(self, out_dir: Union[str, Path]) -> list:
        """Write CSVs, PNG plots and summary.md into ``out_dir``; return the paths written."""
        from memlab.evaluate import plots

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        metrics = pd.concat([self.overall.rename("value"), self.ci[["low", "high"]]], axis=1)
        metrics.index.name = "metric"
        for name, frame, index in (("metrics.csv", metrics, True), ("per_query.csv", self.per_query, False),
                                   ("by_category.csv", self.by_category, True), ("sweep.csv", self.sweep, False)):
            frame.to_csv(out / name, index=index)
            written.append(out / name)
        figures = {
            "pr_curve.png": plots.pr_curve({self.label: self.sweep}, self.recommendation),
            "metrics_vs_threshold.png": plots.metrics_vs_threshold(self.sweep, self.recommendation),
            "score_distributions.png": plots.score_distributions(self.run, self.dataset.qrels, self.dataset.queries,
                                                                 k=self.k, threshold=self.recommendation.threshold),
            "by_category.png": plots.category_bars(self.by_category),
        }
        for name, fig in figures.items():
            fig.savefig(out / name, dpi=200, bbox_inches="tight")  # crisp when zoomed or on HiDPI
            written.append(out / name)
        (out / "summary.md").write_text(self.summary() + "\n", encoding="utf-8")
        written.append(out / "summary.md")
        return written


def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}%"


def run_evaluation(dataset: Dataset, *, embedder: Any = "minilm", method: str = "default", k: int = 10,
                   depth: Optional[int] = None, beta: float = 1.0, min_precision: Optional[float] = None,
                   n_boot: int = 1000, progress: bool = False) -> EvaluationReport:
    """Evaluate one embedder/method on a dataset: retrieval once, then everything offline.

    Args:
        embedder: provider name or embedder object (ignored for ``method="bm25"``).
        method: an engine search method (memlab.evaluate.retrieval.METHODS): ``default`` (the
            default search), ``fusion``, ``rerank``, ``dense``, ``bm25``/``keyword``, ``hybrid``, ...
        k: cut-off for the ranked metrics and the sweep (like ``search(limit=k)``).
        depth: results retrieved per query (default ``max(k, 20)``).
        beta / min_precision: how the threshold is recommended (max F-beta, or max recall at
            precision >= min_precision).
        progress: show tqdm progress bars (embedding memories, then queries) where someone watches
            (see :func:`memlab.progress.progress_enabled`: never in tests or CI).
    """
    import time

    from memlab.progress import progress_bar

    depth = depth or max(k, 20)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    mems, queries = len(dataset.memories), len(dataset.queries)
    if method in ("bm25", "keyword"):
        embedder = "hash"  # BM25 does not use vectors: skip the model
    with progress_bar(total=mems, desc="Storing memories", enabled=progress, unit="mem") as bar:
        memory = build_memory(dataset, embedder, progress=bar.update)
    timings["indexing"] = time.perf_counter() - t0  # load the model, embed and store every memory
    t_search = time.perf_counter()
    label = method if method in ("bm25", "keyword") else f"{method} ({memory.embedder.name})"
    try:
        with progress_bar(total=queries, desc="Searching queries", enabled=progress, unit="q") as bar:
            run = engine_retrieve(dataset, memory, method, depth=depth, progress=bar.update)
    finally:
        memory.close()
    timings["searching"] = time.perf_counter() - t_search  # every query once, no threshold
    t1 = time.perf_counter()
    per_query = evaluate_run(run, dataset.qrels, dataset.queries, k=k, beta=beta)
    sweep = sweep_thresholds(run, dataset.qrels, dataset.queries, k=k, beta=beta)
    rec = recommend_threshold(sweep, min_precision=min_precision) if min_precision is not None \
        else recommend_threshold(sweep)
    at_default = None
    if run.attrs.get("score") == "calibrated":
        at_default = sweep_thresholds(run, dataset.qrels, dataset.queries, k=k, beta=beta,
                                      thresholds=[COMMON_DEFAULT]).iloc[0]
    by_cat = aggregate_by(per_query, "category") if per_query["category"].notna().any() else pd.DataFrame()
    report = EvaluationReport(
        dataset=dataset, label=label, k=k, run=run, per_query=per_query, overall=aggregate(per_query),
        ci=bootstrap_ci(per_query, n_boot=n_boot, seed=0), by_category=by_cat, sweep=sweep,
        recommendation=rec, at_default=at_default, timings=timings,
    )
    timings["metrics"] = time.perf_counter() - t1
    return report
