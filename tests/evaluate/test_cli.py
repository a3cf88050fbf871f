"""``memlab eval`` and ``memlab demo`` end to end (hash embedder: fast, offline)."""

from __future__ import annotations

import pandas as pd

from memlab.cli import main
from memlab.evaluate.datasets import load_bundled, save_jsonl

FILES = {"metrics.csv", "sweep.csv", "per_query.csv", "by_category.csv", "summary.md", "pr_curve.png",
         "metrics_vs_threshold.png", "score_distributions.png", "by_category.png"}


def test_eval_writes_a_report(tmp_path, capsys):
    path = save_jsonl(load_bundled().subset(scopes=["alice", "bruno", "chen"]), tmp_path / "small.jsonl")
    out = tmp_path / "report"
    code = main(["eval", str(path), "--embedder", "hash", "--k", "5", "--out", str(out), "--no-progress"])
    assert code == 0
    assert FILES <= {p.name for p in out.iterdir()}
    sweep = pd.read_csv(out / "sweep.csv")
    assert len(sweep) == 201 and {"threshold", "precision", "recall", "empty_rate_unanswerable"} <= set(sweep)
    metrics = pd.read_csv(out / "metrics.csv", index_col="metric")
    assert 0 <= metrics.loc["recall", "value"] <= 1 and metrics.loc["recall", "low"] <= metrics.loc["recall", "high"]
    printed = capsys.readouterr().out
    assert "Recommended threshold" in printed and str(out) in printed


def test_eval_bm25_with_categories_and_min_precision(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["eval", "assistant", "--method", "bm25", "--categories", "home,work", "--min-precision", "0.5",
                 "--out", str(out), "--no-progress"]) == 0
    per_query = pd.read_csv(out / "per_query.csv")
    assert set(per_query["category"]) == {"home", "work"}
    assert "precision >= 0.5" in (out / "summary.md").read_text()


def test_eval_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing.jsonl"), "--no-progress"]) == 2
    assert "neither a bundled dataset" in capsys.readouterr().err
    assert main(["eval", "assistant", "--categories", "nope", "--no-progress", "--out", str(tmp_path)]) == 2
    assert "unknown categories" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--embedder", "hash", "--out", str(out), "--no-progress"]) == 0
    assert FILES <= {p.name for p in out.iterdir()}
    printed = capsys.readouterr().out
    assert "assistant" in printed and "Recommended threshold" in printed and "Report folder" in printed


def test_eval_out_that_is_a_file_is_one_clear_error(tmp_path, capsys):
    clash = tmp_path / "report.txt"
    clash.write_text("not a folder")
    assert main(["eval", "assistant", "--embedder", "hash", "--out", str(clash), "--no-progress"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert clash.read_text() == "not a folder"


def test_demo_out_that_is_a_file_is_one_clear_error(tmp_path, capsys):
    clash = tmp_path / "demo.txt"
    clash.write_text("x")
    assert main(["demo", "--embedder", "hash", "--out", str(clash), "--no-progress"]) == 2
    assert "is a file" in capsys.readouterr().err
