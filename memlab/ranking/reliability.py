"""How well a score reads as a probability: expected calibration error and reliability diagrams.

``ece`` (10 equal-width bins by default), ``reliability`` (the per-bin data) and ``plot_reliability``
(matplotlib, imported on use). Pure numpy; also importable from :mod:`memlab.ranking.calibration`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: Σ_bins (n_bin / n) |mean predicted - observed rate|, equal-width bins."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if len(probs) == 0:
        return 0.0
    idx = np.minimum((probs * bins).astype(int), bins - 1)
    n = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, probs, bins) - np.bincount(idx, labels, bins))
    return float(gap.sum() / len(probs)) if n.sum() else 0.0


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict:
    """Per equal-width bin: its edges, count, mean predicted probability and observed relevant rate
    (NaN for an empty bin) — the data of a reliability diagram."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    idx = np.minimum((probs * bins).astype(int), bins - 1)
    n = np.bincount(idx, minlength=bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(idx, probs, bins) / n
        rate = np.bincount(idx, labels, bins) / n
    return {"lo": np.arange(bins) / bins, "hi": np.arange(1, bins + 1) / bins, "count": n.astype(int),
            "predicted": mean_p, "observed": rate}


def plot_reliability(curves: Mapping[str, tuple], ax=None, title: str = "Reliability (top-10 results)"):
    """Reliability diagram: per label, (probs, labels) binned; the diagonal is perfect calibration."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect")
    for label, (probs, labels) in curves.items():
        r = reliability(probs, labels)
        ok = r["count"] > 0
        ax.plot(r["predicted"][ok], r["observed"][ok], marker="o", label=f"{label} (ECE {ece(probs, labels):.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="score (predicted P(relevant))", ylabel="observed relevant rate",
           title=title)
    ax.legend(loc="upper left", fontsize=8)
    return ax
