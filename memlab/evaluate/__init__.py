"""Retrieval evaluation: datasets, metrics, threshold sweeps, plots and reports.

matplotlib is imported only when a plot is drawn (:mod:`memlab.evaluate.plots`).
"""

from __future__ import annotations

from memlab.evaluate.datasets import (
    Dataset,
    LoadReport,
    load_bundled,
    load_jsonl,
    save_jsonl,
)
from memlab.evaluate.loaders import load_dataset, load_locomo, load_longmemeval
from memlab.evaluate.metrics import (
    aggregate,
    aggregate_by,
    bootstrap_ci,
    evaluate_run,
    rank_run,
)
from memlab.evaluate.report import EvaluationReport, run_evaluation
from memlab.evaluate.retrieval import (
    bm25_retrieve,
    build_memory,
    dense_retrieve,
    engine_retrieve,
    retrieve,
)
from memlab.evaluate.sweep import Recommendation, recommend_threshold, sweep_thresholds

__all__ = [
    "Dataset", "EvaluationReport", "LoadReport", "Recommendation", "aggregate", "aggregate_by", "bm25_retrieve",
    "bootstrap_ci", "build_memory", "dense_retrieve", "engine_retrieve", "evaluate_run", "load_bundled",
    "load_dataset", "load_jsonl", "load_locomo", "load_longmemeval", "rank_run", "recommend_threshold", "retrieve",
    "run_evaluation", "save_jsonl", "sweep_thresholds",
]
