"""Small statistics shared by evaluation and comparison (pure numpy, no memlab imports).

One percentile bootstrap for the whole package, so a confidence interval means the same thing in a
retrieval report and in a before/after comparison.
"""

from __future__ import annotations

import numpy as np


def bootstrap_mean_ci(values: np.ndarray, *, n_boot: int, alpha: float,
                      rng: np.random.Generator) -> tuple[float, float, float]:
    """Mean of ``values`` and its two-sided percentile-bootstrap interval.

    ``n_boot`` resamples of ``len(values)`` draws with replacement are taken from ``rng``; the
    interval is the ``alpha/2`` and ``1 - alpha/2`` quantiles of the resampled means (numpy's
    default linear interpolation). ``values`` must be non-empty and finite. The draws are always
    taken, even for constant input, so that callers sharing one generator stay reproducible.

    Returns: ``(mean, low, high)``.
    """
    x = np.asarray(values, dtype=float)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    low, high = np.quantile(means, [alpha / 2, 1.0 - alpha / 2])
    return float(x.mean()), float(low), float(high)
