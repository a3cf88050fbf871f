"""``memlab bench`` on the command line, configuration grids, and the LoCoMo dev split (when ../shared exists)."""

from __future__ import annotations

import json

import pytest

from memlab.bench import Benchmark
from memlab.bench.grid import plot_grid
from memlab.cli import main


def test_cli_writes_the_run_folder_and_prints_the_table(sample_path, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["bench", str(sample_path), "--dataset", "locomo", "--system", "bm25", "--system",
                 "memlab:embedder=hash,mode=keyword,label=kw", "--k", "1,5", "--only", "retrieval", "--out", str(out),
                 "--n-perm", "200", "--n-boot", "100", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| bm25 |" in printed and "| kw |" in printed and "Paired tests" in printed
    data = json.loads((out / "results.json").read_text())
    assert data["dataset"]["queries"] == 20 and data["settings"]["answerer"] == "extractive"
    # bm25 is the keyword mode of the hash-embedded engine: the same lists, so no difference at all
    pair = [p for p in data["pairwise"] if p["metric"] == "recall" and p["k"] == 5][0]
    assert pair["diff"] == 0 and pair["p"] == 1.0 and not pair["significant"]


def test_cli_errors_are_one_line_messages(sample_path, tmp_path, capsys):
    assert main(["bench", str(sample_path), "--system", "weaviate", "--out", str(tmp_path / "x")]) == 2
    assert "unknown system 'weaviate'" in capsys.readouterr().err
    out = tmp_path / "run"
    args = ["bench", str(sample_path), "--system", "bm25", "--only", "retrieval", "--out", str(out), "--no-progress",
            "--n-perm", "100", "--n-boot", "50"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0


def test_grid_reuses_stores_and_returns_a_tidy_frame(sample_path, tmp_path):
    bench = Benchmark(sample_path, ks=(1, 5), out=tmp_path, n_boot=100, progress=False)
    grid = {"fusion_weights.speaker": [0, 2], "context_window": [0, 1]}
    frame = bench.run_grid(grid, base="memlab:embedder=hash")
    ingests = [e for e in bench.log if e["stage"] == "ingest"]
    searches = [e for e in bench.log if e["stage"] == "search"]
    assert len(ingests) == 2 and len(searches) == 4  # one store per context window, re-opened per weight
    assert list(frame.columns) == ["fusion_weights.speaker", "context_window", "metric", "k", "mean", "low", "high",
                                   "n"]
    assert len(frame) == 4 * 2 * 4  # points x ks x metrics
    cell = frame[(frame.metric == "recall") & (frame.k == 5)]
    assert set(cell["n"]) == {18}
    # the speaker weight changes the ranking (and nothing else differs between these points)
    r = cell.set_index(["fusion_weights.speaker", "context_window"])["mean"]
    assert r.notna().all()
    ax = plot_grid(frame)
    assert ax.get_title() == "recall@5 over the grid"
    again = Benchmark(sample_path, ks=(1, 5), out=tmp_path, resume=True, n_boot=100, progress=False)
    frame2 = again.run_grid(grid, base="memlab:embedder=hash")
    assert all(e["done"] == 0 for e in again.log)
    assert frame2["mean"].tolist() == pytest.approx(frame["mean"].tolist())


def test_grid_refuses_non_memlab_bases_and_bad_grids(sample_path, tmp_path):
    from memlab.errors import ValidationError

    bench = Benchmark(sample_path, out=tmp_path)
    with pytest.raises(ValidationError, match="base must be memlab"):
        bench.run_grid({"context_window": [0]}, base="mem0")
    with pytest.raises(ValidationError, match="non-empty list"):
        bench.run_grid({"context_window": []}, base="bm25")


def test_locomo_dev_slice_runs(shared_dir, tmp_path):
    path = shared_dir / "datasets" / "locomo" / "locomo-dev.json"
    if not path.is_file():
        pytest.skip(f"LoCoMo dev split not found at {path}")
    bench = Benchmark(path, ["bm25", "memlab:embedder=hash"], dataset_format="locomo", scopes=1, questions=15,
                      ks=(5, 10), out=tmp_path, n_boot=100, n_perm=200, progress=False)
    result = bench.run(only="retrieval")
    m = result.metrics[(result.metrics.metric == "recall") & (result.metrics.category == "all")]
    assert set(m["system"]) == {"bm25", "memlab:embedder=hash"} and (m["n"] > 0).all()
    assert (m["mean"] > 0.2).all()
