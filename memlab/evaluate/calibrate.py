"""Refit the relevance calibration on your own labelled data (``memlab calibrate``).

The score every search returns is a calibrated estimate of P(relevant) (memlab.ranking.calibration); the
shipped parameters were fitted on the LoCoMo dev split and the bundled assistant set. Your memories and
questions may differ (other embedder, other domain). :func:`calibrate` stores a dataset in a Memory
built from your config, searches every question in each mode with ``explain=True`` (each result carries
its calibration features), refits each mode's model on those features and the dataset's relevance
labels, and reports the expected calibration error over the top ``k`` before and after — the "after"
measured on scopes the refit did not see (folds by scope) when the dataset has several — with a
reliability diagram. :meth:`CalibrationReport.save` writes the parameters; point
``vector_store.config.calibration`` at the file and every search uses them.

    from memlab.evaluate import load_dataset
    from memlab.evaluate.calibrate import calibrate

    report = calibrate(load_dataset("assistant"), config={"embedder": {"provider": "minilm"}})
    print(report.summary())
    report.save("my-calibration.json"); report.plot().savefig("reliability.png")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from memlab.errors import ValidationError
from memlab.evaluate.datasets import Dataset
from memlab.ranking.calibration import Calibration, LogisticModel, ece

MODES = ("fusion", "dense", "keyword", "hybrid")


@dataclass
class CalibrationReport:
    calibration: Calibration
    k: int
    before: dict = field(default_factory=dict)  # mode -> (scores, labels) over the top k, old model
    after: dict = field(default_factory=dict)  # mode -> (scores, labels) over the top k, refit (held-out scopes)
    held_out: bool = False

    def ece(self) -> dict:
        """mode -> (ECE before, ECE after)."""
        return {m: (ece(*self.before[m]), ece(*self.after[m])) for m in self.after}

    def summary(self) -> str:
        how = "on scopes the refit did not see" if self.held_out else "in-sample (one scope: no held-out check)"
        lines = [f"Calibration refit for embedder {self.calibration.embedder!r}: ECE (10 bins) of the score over the "
                 f"top {self.k}, before -> after ({how}):"]
        for mode, (b, a) in self.ece().items():
            lines.append(f"- {mode}: {b:.3f} -> {a:.3f} ({len(self.after[mode][0])} results)")
        return "\n".join(lines)

    def save(self, path: Union[str, Path]) -> Path:
        """Write the parameters (JSON); set ``vector_store.config.calibration`` to this path to use them."""
        return self.calibration.save(path)

    def plot(self, mode: str = "fusion"):
        """Reliability diagram of ``mode`` before and after (a matplotlib Figure)."""
        import matplotlib.pyplot as plt

        from memlab.ranking.calibration import plot_reliability

        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        plot_reliability({"before": self.before[mode], "after": self.after[mode]}, ax=ax,
                         title=f"{mode}: score over the top {self.k}")
        return fig


def _features_of(memory: Any, dataset: Dataset, mode: str, depth: int) -> list:
    """Per question: (scope, feature names, matrix over its results, labels, old scores), in result order."""
    rel = set(zip(dataset.qrels.loc[dataset.qrels["relevance"] > 0, "query_id"],
                  dataset.qrels.loc[dataset.qrels["relevance"] > 0, "memory_id"]))
    ids = getattr(memory, "dataset_ids", None) or {}
    out = []
    for qid, scope, text in zip(dataset.queries["id"], dataset.queries["scope"], dataset.queries["text"]):
        res = memory.search(text, user_id=str(scope), mode=mode, limit=depth, rerank=False, explain=True)["results"]
        if not res:
            continue
        names = list(res[0]["explain"]["calibration"]["features"])
        X = np.array([[r["explain"]["calibration"]["features"][f]["value"] for f in names] for r in res])
        y = np.array([(qid, ids.get(r["id"], r["id"])) in rel for r in res], dtype=float)
        out.append((str(scope), names, X, y, np.array([r["score"] for r in res])))
    return out


def _fit(rows: list, k: int) -> LogisticModel:
    names = rows[0][1]
    model = LogisticModel.fit(np.vstack([r[2] for r in rows]), np.concatenate([r[3] for r in rows]), names)
    lin = [model.linear(r[2])[:k] for r in rows]
    ln = [model._clipped(r[2][:k])[:, names.index("log_n")] for r in rows] if "log_n" in names else None
    model.recalibrate(np.concatenate(lin), np.concatenate([r[3][:k] for r in rows]),
                      log_n=np.concatenate(ln) if ln is not None else None)
    return model


def calibrate(dataset: Dataset, *, config: Optional[dict] = None, embedder: Any = None, k: int = 10,
              depth: int = 50, modes: Sequence[str] = MODES, folds: int = 5) -> CalibrationReport:
    """Refit the calibration of ``modes`` on ``dataset`` (module docstring). ``config``: the Memory config
    whose embedder and search settings to calibrate (default: minilm); ``embedder``: an embedder object
    instead; ``depth``: results per question the refit learns from; ``folds``: scope folds for the
    held-out "after" measurement."""
    from memlab.evaluate.retrieval import build_memory

    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= depth:
        raise ValidationError(f"k must be an integer between 1 and depth ({depth}), got {k!r}.")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValidationError(f"modes must be among {', '.join(MODES)}, got {unknown}.")
    if dataset.qrels.empty:
        raise ValidationError("The dataset has no relevance labels (qrels): there is nothing to calibrate on.")
    cfg = dict(config or {"embedder": {"provider": "minilm"}})
    memory = build_memory(dataset, embedder if embedder is not None else cfg, config=cfg if embedder else None)
    try:
        old = memory.search_settings.calibration
        report = CalibrationReport(Calibration(memory.embedder.name, dict(old.models),
                                               {"fitted_on": dataset.name, "questions": len(dataset.queries)}), k)
        for mode in modes:
            rows = _features_of(memory, dataset, mode, depth)
            if not rows or not any(r[3].any() for r in rows):
                continue
            report.before[mode] = (np.concatenate([r[4][:k] for r in rows]), np.concatenate([r[3][:k] for r in rows]))
            scopes = sorted({r[0] for r in rows})
            fold_of = {s: i % min(folds, len(scopes)) for i, s in enumerate(scopes)}
            p_after, y_after = [], []
            for f in sorted(set(fold_of.values())) if len(scopes) > 1 else []:
                train = [r for r in rows if fold_of[r[0]] != f]
                if not any(r[3].any() for r in train):
                    continue
                model = _fit(train, k)
                for r in rows:
                    if fold_of[r[0]] == f:
                        lg = model.logit(r[2])
                        top = np.lexsort((np.arange(len(lg)), -lg))[:k]
                        p_after.append(model.proba_of(lg[top]))
                        y_after.append(r[3][top])
            report.held_out = bool(p_after)
            final = _fit(rows, k)
            report.calibration.models[mode] = final
            if not p_after:  # one scope: in-sample
                for r in rows:
                    lg = final.logit(r[2])
                    top = np.lexsort((np.arange(len(lg)), -lg))[:k]
                    p_after.append(final.proba_of(lg[top]))
                    y_after.append(r[3][top])
            report.after[mode] = (np.concatenate(p_after), np.concatenate(y_after))
    finally:
        memory.close()
    if not report.after:
        raise ValidationError("No search returned a relevant memory: the labels do not match the dataset's memories.")
    return report
