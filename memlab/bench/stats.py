"""Statistics of a benchmark: bootstrap CIs, paired randomization tests, Holm–Bonferroni, effect sizes.

All tests are *paired*: two systems are compared over the same questions, question by question.

- **CI**: percentile bootstrap of the mean over questions (:func:`memlab.stats.bootstrap_mean_ci`,
  the same bootstrap as ``memlab eval`` and ``compare``), ``n_boot`` resamples, seeded.
- **Paired randomization test** (sign-flip permutation test): under H0 the two systems are
  exchangeable on each question, so each per-question difference ``d_i = a_i - b_i`` keeps or flips
  its sign with probability 1/2. The two-sided p-value is ``(1 + #{|mean(d*)| >= |mean(d)|}) /
  (1 + n_perm)`` (never 0; Phipson & Smyth 2010). When ``2**n <= n_perm`` every sign pattern is
  enumerated and the p-value is exact.
- **Holm–Bonferroni**: within one family (all system pairs for one metric at one cut-off), the
  sorted p-values are multiplied by ``m, m-1, ...``, made monotone and capped at 1.
- **Effect sizes**: the mean difference with its bootstrap CI, Cohen's ``d_z`` (mean difference /
  SD of the differences; 0 when all differences are 0), and wins / ties / losses per question.
"""

from __future__ import annotations

from itertools import combinations, product
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from memlab.errors import ValidationError
from memlab.stats import bootstrap_mean_ci


def mean_ci(values: Sequence[float], *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> dict:
    """``{"mean", "low", "high", "n"}`` of the finite values (NaNs when there are none)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    mean, low, high = bootstrap_mean_ci(x, n_boot=n_boot, alpha=alpha, rng=np.random.default_rng(seed))
    return {"mean": mean, "low": low, "high": high, "n": int(x.size)}


def paired_randomization_test(a: Sequence[float], b: Sequence[float], *, n_perm: int = 10_000,
                              seed: int = 0) -> float:
    """Two-sided p-value of the sign-flip test on ``a - b`` (see the module docstring)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.shape[0] != np.asarray(b).shape[0] or d.ndim != 1:
        raise ValidationError("paired test: a and b must be 1-d and of the same length.")
    if d.size == 0:
        return float("nan")
    observed = abs(d.mean())
    tol = 1e-12 * max(1.0, observed)
    if d.size <= 20 and 2 ** d.size <= n_perm:
        signs = np.array(list(product((1.0, -1.0), repeat=d.size)))
        stats = np.abs(signs @ d) / d.size
        return float(np.mean(stats >= observed - tol))
    rng = np.random.default_rng(seed)
    count = 0
    for start in range(0, n_perm, 2000):  # chunks keep memory flat for large question sets
        m = min(2000, n_perm - start)
        signs = rng.choice((-1.0, 1.0), size=(m, d.size))
        count += int(np.sum(np.abs(signs @ d) / d.size >= observed - tol))
    return float((count + 1) / (n_perm + 1))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaNs stay NaN and do not count in the family)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adjusted
    return out


def effect_size(a: Sequence[float], b: Sequence[float], *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Mean difference ``a - b`` with its bootstrap CI, Cohen's d_z and wins/ties/losses."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    ci = mean_ci(d, n_boot=n_boot, seed=seed)
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    dz = 0.0 if sd == 0 else float(d.mean() / sd)
    return {"diff": ci["mean"], "diff_low": ci["low"], "diff_high": ci["high"], "cohens_dz": dz,
            "wins": int(np.sum(d > 0)), "ties": int(np.sum(d == 0)), "losses": int(np.sum(d < 0))}


def pairwise_tests(scores: pd.DataFrame, *, value: str = "value", family: Iterable[str] = ("metric", "k"),
                   n_perm: int = 10_000, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Every pair of systems on every (metric, k), paired over shared questions, Holm per family.

    Args:
        scores: long table ``system, question_id, <family columns>, value`` (NaN = undefined for
            that question, e.g. recall of an unanswerable one; such questions are dropped pairwise).

    Returns: one row per (family, system_a, system_b): ``n, mean_a, mean_b, diff, diff_low,
    diff_high, cohens_dz, wins, ties, losses, p, p_holm, significant``.
    """
    family = list(family)
    rows = []
    systems = list(pd.unique(scores["system"]))
    for key, group in scores.groupby(family, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        wide = group.pivot_table(index="question_id", columns="system", values=value, aggfunc="first")
        fam_rows = []
        for sa, sb in combinations([s for s in systems if s in wide.columns], 2):
            pair = wide[[sa, sb]].dropna()
            a, b = pair[sa].to_numpy(), pair[sb].to_numpy()
            row = {**dict(zip(family, key)), "system_a": sa, "system_b": sb, "n": len(pair),
                   "mean_a": float(a.mean()) if len(a) else np.nan, "mean_b": float(b.mean()) if len(b) else np.nan}
            row.update(effect_size(a, b, n_boot=n_boot, seed=seed) if len(a) else {})
            row["p"] = paired_randomization_test(a, b, n_perm=n_perm, seed=seed) if len(a) else np.nan
            fam_rows.append(row)
        adjusted = holm([r["p"] for r in fam_rows])
        for r, ph in zip(fam_rows, adjusted):
            r["p_holm"] = float(ph)
            r["significant"] = bool(np.isfinite(ph) and ph < alpha)
        rows += fam_rows
    cols = family + ["system_a", "system_b", "n", "mean_a", "mean_b", "diff", "diff_low", "diff_high", "cohens_dz",
                     "wins", "ties", "losses", "p", "p_holm", "significant"]
    return pd.DataFrame(rows, columns=cols)


def ci_table(scores: pd.DataFrame, *, by: Sequence[str] = ("system", "metric", "k"), value: str = "value",
             n_boot: int = 1000, seed: int = 0, category: Optional[str] = "category") -> pd.DataFrame:
    """Mean and bootstrap CI per group, overall (``category = "all"``) and per category."""
    by = list(by)
    frames = [scores.assign(**{category: "all"})] if category else [scores]
    if category and category in scores.columns:
        frames.append(scores.assign(**{category: scores[category].astype(str)}))
    full = pd.concat(frames, ignore_index=True)
    keys = by + ([category] if category else [])
    rows = []
    for key, group in full.groupby(keys, sort=False, dropna=False):
        rows.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,))),
                     **mean_ci(group[value].to_numpy(float), n_boot=n_boot, seed=seed)})
    return pd.DataFrame(rows, columns=keys + ["mean", "low", "high", "n"])
