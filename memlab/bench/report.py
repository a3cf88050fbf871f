"""A benchmark's results: ``results.json`` (schema ``memlab-bench/1``), per-question records,
Markdown / HTML report and PNG plots. See docs/bench.md for the schema."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from memlab.bench.data import describe
from memlab.bench.stats import ci_table, pairwise_tests

SCHEMA = "memlab-bench/1"


def md_table(frame: pd.DataFrame, *, index: bool = True, digits: int = 3) -> str:
    """A GitHub Markdown table (no tabulate dependency); floats with ``digits`` decimals, p-values 4 sig."""
    df = frame.reset_index() if index else frame

    def fmt(col: str, v: Any) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return "–"
            return f"{v:.3g}" if col.startswith("p") else f"{v:.{digits}f}"
        return str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt(c, v) for c, v in zip(cols, row)) + " |")
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (np.floating,)):
        return _clean(float(value))
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass
class BenchResult:
    """Everything a run measured. ``metrics`` and ``pairwise`` are tidy DataFrames."""

    meta: dict
    metrics: pd.DataFrame
    pairwise: pd.DataFrame
    records: list
    scores: pd.DataFrame
    extra: dict = field(default_factory=dict)

    @classmethod
    def build(cls, bench, scores: pd.DataFrame, records: list, extra: dict) -> "BenchResult":
        import memlab

        metrics = ci_table(scores, n_boot=bench.n_boot, seed=bench.seed) if len(scores) else pd.DataFrame(
            columns=["system", "metric", "k", "category", "mean", "low", "high", "n"])
        pairwise = pairwise_tests(scores, n_perm=bench.n_perm, n_boot=bench.n_boot, alpha=bench.alpha,
                                  seed=bench.seed) if len(scores) else pd.DataFrame()
        systems = []
        from memlab.bench.systems import make_system

        for spec in bench.specs:
            try:
                systems.append(make_system(spec).describe())
            except Exception as exc:  # a description must never sink the results
                systems.append({"label": spec.label, "system": spec.kind, "error": str(exc)})
        meta = {"schema": SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "memlab": getattr(memlab, "__version__", "?"),
                "dataset": {**describe(bench.dataset), "source": bench.source, "slice": bench.slice},
                "systems": systems, "ks": bench.ks,
                "settings": {"n_boot": bench.n_boot, "n_perm": bench.n_perm, "alpha": bench.alpha, "seed": bench.seed,
                             "answerer": bench.answerer_setting if isinstance(bench.answerer_setting, str) else
                             {k: v for k, v in dict(bench.answerer_setting or {}).items() if k != "api_key"},
                             "judge": None if bench.judge_setting is None else
                             {k: v for k, v in dict(bench.judge_setting).items() if k != "api_key"},
                             "judge_runs": bench.judge_runs, "context_k": bench.context_k,
                             "ci": "percentile bootstrap over questions",
                             "test": "paired sign-flip randomization, Holm-Bonferroni per (metric, k)"}}
        return cls(meta, metrics, pairwise, records, scores, extra)

    # ------------------------------------------------------------------ views
    @property
    def systems(self) -> list[str]:
        return [s["label"] for s in self.meta["systems"]]

    def table(self, metric: str = "recall", category: str = "all") -> pd.DataFrame:
        """Systems × k of one metric: ``mean [low, high]`` strings (for reports)."""
        m = self.metrics[(self.metrics["metric"] == metric) & (self.metrics["category"] == category)]
        if m.empty:
            return pd.DataFrame()
        cell = m.assign(cell=[f"{a:.3f} [{lo:.3f}, {hi:.3f}]" for a, lo, hi in zip(m["mean"], m["low"], m["high"])])
        out = cell.pivot(index="system", columns="k", values="cell")
        out.columns = [f"{metric}@{k}" for k in out.columns]
        return out.reindex([s for s in self.systems if s in out.index])

    def summary_table(self, k: Optional[int] = None) -> pd.DataFrame:
        """One row per system: recall@k for every k, nDCG@k at ``k`` (default 10 or the largest), answer scores."""
        ks = self.meta["ks"]
        k = k if k in ks else (10 if 10 in ks else ks[-1])
        allm = self.metrics[self.metrics["category"] == "all"]
        rows = []
        for s in self.systems:
            mine = allm[allm["system"] == s]
            row: dict = {"system": s}

            def cell(metric, kk):
                r = mine[(mine["metric"] == metric) & (mine["k"] == kk)]
                return "–" if r.empty else f"{r['mean'].iloc[0]:.3f} ({r['low'].iloc[0]:.3f}–{r['high'].iloc[0]:.3f})"

            for kk in ks:
                row[f"recall@{kk}"] = cell("recall", kk)
            row[f"nDCG@{k}"] = cell("ndcg", k)
            for metric in ("f1", "bleu1", "j"):
                r = mine[mine["metric"] == metric]
                if not r.empty:
                    row[metric.upper() if metric == "j" else metric] = f"{r['mean'].iloc[0]:.3f}"
            t = self.extra.get("timing", {}).get(s, {})
            row["search ms (median)"] = t.get("search_ms_median")
            rows.append(row)
        return pd.DataFrame(rows).set_index("system")

    def pairwise_table(self, metric: str = "recall", k: Optional[int] = None) -> pd.DataFrame:
        ks = self.meta["ks"]
        k = k if k is not None else (10 if 10 in ks else ks[-1])
        if self.pairwise.empty:
            return self.pairwise
        p = self.pairwise[(self.pairwise["metric"] == metric) & (self.pairwise["k"] == k)]
        return p[["system_a", "system_b", "n", "diff", "diff_low", "diff_high", "cohens_dz", "wins", "ties", "losses",
                  "p", "p_holm", "significant"]].reset_index(drop=True)

    def per_question(self) -> pd.DataFrame:
        """One row per (system, question) with scores (hits left out; see ``records``)."""
        return pd.DataFrame([{k: v for k, v in r.items() if k != "hits"} for r in self.records])

    # ------------------------------------------------------------------ output
    def to_json(self) -> dict:
        return _clean({**self.meta, "metrics": self.metrics.to_dict("records"),
                       "pairwise": self.pairwise.to_dict("records"), **self.extra})

    def markdown(self) -> str:
        d = self.meta["dataset"]
        lines = [f"# memlab bench: {d['name']}", "",
                 f"{d['queries']} questions ({d['answerable']} answerable), {d['memories']} turns in "
                 f"{d['scopes']} conversations. Means with 95% bootstrap CIs over answerable questions.", "",
                 md_table(self.summary_table()), ""]
        ks = self.meta["ks"]
        k = 10 if 10 in ks else ks[-1]
        for metric in ("recall", "ndcg"):
            pt = self.pairwise_table(metric, k)
            if len(pt):
                lines += [f"## Paired tests, {metric}@{k} (randomization test, Holm-adjusted p)", "",
                          md_table(pt, index=False), ""]
        cats = self.metrics[(self.metrics["metric"] == "recall") & (self.metrics["k"] == k)
                            & (self.metrics["category"] != "all")]
        if len(cats):
            wide = cats.pivot(index="system", columns="category", values="mean")
            lines += [f"## recall@{k} per category", "", md_table(wide), ""]
        for js in self.extra.get("judge_spread", []):
            if js.get("runs"):
                lines.append(f"- judge spread, {js['system']}: {js['runs']} runs, J {js['mean']:.3f} ± {js['std']:.3f} "
                             f"(min {js['min']:.3f}, max {js['max']:.3f}), all runs agree on "
                             f"{100 * js['unanimous_share']:.0f}% of answers")
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        return (f"<h4>memlab bench: {html.escape(self.meta['dataset']['name'])}</h4>"
                + self.summary_table().to_html())

    def write(self, out: Path) -> list[Path]:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = []

        def put(name: str, text: str) -> None:
            path = out / name
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            written.append(path)

        put("results.json", json.dumps(self.to_json(), indent=2, default=str))
        put("per_question.jsonl", "".join(json.dumps(_clean(r), default=str) + "\n" for r in self.records))
        put("report.md", self.markdown())
        put("report.html", "<html><head><meta charset='utf-8'><title>memlab bench</title></head><body>"
            + self._repr_html_() + "".join(f"<h4>Paired tests, {m}</h4>" + self.pairwise_table(m).to_html()
                                           for m in ("recall", "ndcg") if len(self.pairwise_table(m)))
            + "<p><img src='plots/recall_at_k.png'> <img src='plots/categories.png'></p></body></html>")
        from memlab.bench.plots import write_plots

        written += write_plots(self, out / "plots")
        return written
