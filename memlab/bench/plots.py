"""PNG plots of a benchmark (matplotlib, imported only when drawing; Agg backend when headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # pragma: no cover (a GUI backend already running)
            pass
    import matplotlib.pyplot as plt

    return plt


def plot_recall_at_k(result, metric: str = "recall", ax=None):
    """``metric`` against k per system, with the 95% CI as a band."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    m = result.metrics[(result.metrics["metric"] == metric) & (result.metrics["category"] == "all")]
    for s in result.systems:
        r = m[m["system"] == s].sort_values("k")
        if r.empty:
            continue
        ax.plot(r["k"], r["mean"], marker="o", label=s)
        ax.fill_between(r["k"], r["low"], r["high"], alpha=0.15)
    ax.set_xscale("log")
    ax.set_xticks(result.meta["ks"], [str(k) for k in result.meta["ks"]])
    ax.set_xlabel("k")
    ax.set_ylabel(f"{metric}@k")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_categories(result, metric: str = "recall", k: Optional[int] = None, ax=None):
    """``metric@k`` per question category, one bar per system, CIs as error bars."""
    import numpy as np

    plt = _plt()
    ks = result.meta["ks"]
    k = k if k is not None else (10 if 10 in ks else ks[-1])
    m = result.metrics[(result.metrics["metric"] == metric) & (result.metrics["k"] == k)]
    cats = list(dict.fromkeys(m["category"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.5, 1.2 * len(cats) * max(1, len(result.systems)) / 2), 4))
    width = 0.8 / max(1, len(result.systems))
    x = np.arange(len(cats))
    for i, s in enumerate(result.systems):
        r = m[m["system"] == s].set_index("category").reindex(cats)
        err = np.vstack([(r["mean"] - r["low"]).fillna(0), (r["high"] - r["mean"]).fillna(0)])
        ax.bar(x + i * width, r["mean"].fillna(0), width, yerr=err, capsize=2, label=s)
    ax.set_xticks(x + width * (len(result.systems) - 1) / 2, cats)
    ax.set_ylabel(f"{metric}@{k}")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return ax


def write_plots(result, folder: Path) -> list[Path]:
    if result.metrics.empty or not (result.metrics["metric"] == "recall").any():
        return []
    plt = _plt()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, fn in (("recall_at_k.png", plot_recall_at_k), ("categories.png", plot_categories)):
        fig, ax = plt.subplots(figsize=(7, 4))
        fn(result, ax=ax)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        out.append(folder / name)
    return out
