"""Configuration grids: every combination of memlab settings in one call, as a tidy DataFrame.

``run_grid(bench, {"fusion_weights.speaker": [0, 1, 2], "context_window": [0, 1, 2]})`` runs the
9 configurations of the base system (default ``memlab``) over the benchmark's dataset.

Work is shared where the grid allows it:

- keys that only change how a search ranks (``mode``, ``weights``, ``fusion_weights.*``,
  ``fusion_normalization``, ``bm25_k1``, ``bm25_b``, ``reranker``...) reuse ONE stored copy of
  the dataset: the store is ingested once per combination of the other keys and re-opened with each
  point's settings;
- keys that change what is indexed (``context_window``, ``embedder``, ``keyword_language``...)
  get their own store, but every text is embedded once per embedder for the whole run (a shared
  vector cache in ``OUT/cache``), so a context window of 2 re-embeds only the new context texts.

Each store and each point is checkpointed like a benchmark system (``OUT/grid/...``), so a grid
resumes too. The result has one row per (point, metric, k): the grid keys as columns, then
``metric, k, mean, low, high, n``.
"""

from __future__ import annotations

import hashlib
import json
from itertools import product
from pathlib import Path
from typing import Any, Optional, Sequence

import pandas as pd

from memlab.bench.stats import mean_ci
from memlab.bench.systems import MemlabSystem, SystemSpec
from memlab.errors import ValidationError

SEARCH_ONLY = ("mode", "weights", "fusion_normalization", "bm25_k1", "bm25_b", "reranker", "search_mode")
SEARCH_ONLY_PREFIXES = ("fusion_weights.", "reranker.")


def is_search_only(key: str) -> bool:
    return key in SEARCH_ONLY or key.startswith(SEARCH_ONLY_PREFIXES)


def _points(grid: dict) -> list[dict]:
    if not isinstance(grid, dict) or not grid:
        raise ValidationError("grid must be a non-empty dict {setting: [values, ...]}, "
                              "e.g. {'fusion_weights.speaker': [0, 1, 2]}.")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not len(values):
            raise ValidationError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}.")
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in product(*(grid[k] for k in keys))]


def _tag(options: dict) -> str:
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def run_grid(bench, grid: dict, *, base: Any = "memlab", metrics: Sequence[str] = ("recall", "ndcg", "hit", "mrr")):
    """Run every grid point (see the module docstring); returns the tidy DataFrame."""
    from memlab.bench.scoring import run_frame
    from memlab.bench.checkpoint import Checkpoint
    from memlab.evaluate.metrics import evaluate_run

    base_spec = SystemSpec.parse(base)
    if base_spec.kind not in ("memlab", "bm25", "dense"):
        raise ValidationError(f"grids vary memlab settings; base must be memlab, bm25 or dense, got {base_spec.kind!r}.")
    points = _points(grid)
    bench._prepare()
    root = bench.out / "grid"
    ds = bench.dataset
    rows = []
    stores: dict[str, Path] = {}
    for point in points:
        ingest_opts = {**base_spec.options, **{k: v for k, v in point.items() if not is_search_only(k)}}
        gtag = f"{base_spec.kind}-{_tag(ingest_opts)}"
        gdir = root / gtag
        if gtag not in stores:  # one stored copy per combination of indexing keys
            gspec = SystemSpec(base_spec.kind, ingest_opts, f"grid store {gtag}")
            system = MemlabSystem(gspec)
            try:
                bench._ingest(gspec, system, sdir=gdir)
            finally:
                system.close()
            stores[gtag] = gdir
        options = {**base_spec.options, **point}
        label = ",".join(f"{k}={v}" for k, v in point.items())
        pspec = SystemSpec(base_spec.kind, options, f"{base_spec.kind}:{label}")
        pdir = gdir / "points" / _tag(options)
        system = MemlabSystem(pspec)
        try:
            system.open(gdir / "store", bench.out / "cache")
            bench._search(pspec, system, sdir=pdir, ingest_dir=gdir)
        finally:
            system.close()
        search = Checkpoint(pdir / "search.jsonl").records()
        run = run_frame(search)
        for k in bench.ks:
            per = evaluate_run(run, ds.qrels, ds.queries, k=k)
            per = per[per["answerable"]]
            for m in metrics:
                ci = mean_ci(per[m].to_numpy(float), n_boot=bench.n_boot, seed=bench.seed)
                rows.append({**point, "metric": m, "k": k, **ci})
    frame = pd.DataFrame(rows)
    frame.attrs["grid"] = {k: list(v) for k, v in grid.items()}
    frame.to_csv(root / "grid.csv", index=False)
    return frame


def plot_grid(frame: pd.DataFrame, *, metric: str = "recall", k: Optional[int] = None, ax=None):
    """A heatmap (two grid keys), an interaction plot (three or more: lines of the 2nd key over the
    1st, others averaged) or a line (one key) of ``metric@k``."""
    from memlab.bench.plots import _plt

    plt = _plt()
    keys = list(frame.attrs.get("grid") or [c for c in frame.columns if c not in
                                             ("metric", "k", "mean", "low", "high", "n")])
    ks = sorted(frame["k"].unique())
    k = k if k is not None else (10 if 10 in ks else ks[-1])
    sub = frame[(frame["metric"] == metric) & (frame["k"] == k)]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    if len(keys) == 1:
        ax.errorbar(sub[keys[0]].astype(str), sub["mean"], yerr=[sub["mean"] - sub["low"], sub["high"] - sub["mean"]],
                    marker="o", capsize=3)
        ax.set_xlabel(keys[0])
    elif len(keys) == 2:
        table = sub.pivot_table(index=keys[0], columns=keys[1], values="mean")
        im = ax.imshow(table.to_numpy(), cmap="viridis", aspect="auto")
        ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
        ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
        ax.set_xlabel(keys[1])
        ax.set_ylabel(keys[0])
        for i in range(table.shape[0]):
            for j in range(table.shape[1]):
                ax.text(j, i, f"{table.iat[i, j]:.3f}", ha="center", va="center", color="w", fontsize=8)
        ax.figure.colorbar(im, ax=ax, label=f"{metric}@{k}")
    else:
        table = sub.groupby(keys[:2])["mean"].mean().unstack(keys[1])
        for col in table.columns:
            ax.plot(table.index.astype(str), table[col], marker="o", label=f"{keys[1]}={col}")
        ax.set_xlabel(keys[0])
        ax.legend(fontsize=8)
    if len(keys) != 2:
        ax.set_ylabel(f"{metric}@{k}")
    ax.set_title(f"{metric}@{k} over the grid")
    return ax
