"""Retrieval evaluation: datasets, metrics, threshold sweeps, plots and reports.

Names are imported lazily so ``import memlab`` stays light (no matplotlib until a plot is made).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Dataset": "datasets", "LoadReport": "datasets", "load_jsonl": "datasets", "save_jsonl": "datasets",
    "load_bundled": "datasets", "load_dataset": "datasets", "load_locomo": "loaders",
    "load_longmemeval": "loaders",
    "evaluate_run": "metrics", "aggregate": "metrics", "bootstrap_ci": "metrics", "rank_run": "metrics",
    "retrieve": "retrieval", "build_memory": "retrieval", "bm25_retrieve": "retrieval",
    "dense_retrieve": "retrieval", "engine_retrieve": "retrieval", "aggregate_by": "metrics",
    "sweep_thresholds": "sweep", "recommend_threshold": "sweep", "Recommendation": "sweep",
    "run_evaluation": "report", "EvaluationReport": "report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'memlab.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"memlab.evaluate.{_EXPORTS[name]}"), name)
