"""`memlab compare` end to end on stores, configs with --records, and recorded runs."""

from __future__ import annotations

import json

import pandas as pd

from memlab import Memory
from memlab.cli import main
from tests.compare.compare_data import HASH_CONFIG, QUERIES, records


def _store(path, recs):
    with Memory(HASH_CONFIG, path=str(path)) as m:
        m.add_records(recs)
    return str(path)


def _queries(tmp_path):
    path = tmp_path / "queries.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUERIES))
    return str(path)


def test_cli_two_stores(tmp_path, capsys):
    before = _store(tmp_path / "before", records())
    after = _store(tmp_path / "after", records()[1:])
    out = tmp_path / "out"
    code = main(["compare", "--before", before, "--after", after, "--queries", _queries(tmp_path),
                 "--out", str(out), "-k", "3", "--answers"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "before vs after: 4 queries, k=3" in printed and "overlap@k" in printed
    for name in ("comparison.json", "per_query.csv", "summary.csv", "report.html", "before_run.json",
                 "after_run.json", "answers.csv", "answers_summary.csv"):
        assert (out / name).is_file(), name
    per_query = pd.read_csv(out / "per_query.csv").set_index("query_id")
    assert json.loads(per_query.loc["home", "lost"]) == ["Alice lives in Berlin."]
    answers = pd.read_csv(out / "answers.csv").set_index("query_id")
    assert answers.loc["home", "answer_before"] == "Alice lives in Berlin."
    # The saved before run replays: comparing it with the before store shows no change.
    again = tmp_path / "again"
    assert main(["compare", "--before", str(out / "before_run.json"), "--after", before,
                 "--queries", _queries(tmp_path), "--out", str(again), "-k", "3"]) == 0
    assert "0 changed" in capsys.readouterr().out


def test_cli_configs_with_records(tmp_path, capsys):
    src = _store(tmp_path / "src", records())
    cfg_a = tmp_path / "hash128.json"
    cfg_a.write_text(json.dumps(HASH_CONFIG))
    cfg_b = tmp_path / "hash64.yaml"
    cfg_b.write_text("embedder:\n  provider: hash\n  config:\n    embedding_dims: 64\n")
    code = main(["compare", "--before", str(cfg_a), "--after", str(cfg_b), "--records", src,
                 "--queries", _queries(tmp_path), "--out", str(tmp_path / "o"), "--labels", "h128", "h64"])
    assert code == 0
    assert "h128 vs h64" in capsys.readouterr().out
    recs_file = tmp_path / "recs.jsonl"
    recs_file.write_text("".join(json.dumps(r) + "\n" for r in records()))
    assert main(["compare", "--before", str(cfg_a), "--after", str(cfg_a), "--records", str(recs_file),
                 "--queries", _queries(tmp_path), "--out", str(tmp_path / "o2")]) == 0
    assert "0 changed" in capsys.readouterr().out


def test_cli_errors_are_reported_not_raised(tmp_path, capsys):
    code = main(["compare", "--before", str(tmp_path / "nope"), "--after", str(tmp_path / "nope"),
                 "--queries", _queries(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "neither a store directory nor a file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written on error


def test_cli_missing_queries_file_is_an_error_not_a_query(tmp_path, capsys):
    store = _store(tmp_path / "s", records())
    code = main(["compare", "--before", store, "--after", store, "--queries", str(tmp_path / "typo.txt"),
                 "--out", str(tmp_path / "o")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_out_that_is_a_file_is_one_clear_error(tmp_path, capsys):
    store = _store(tmp_path / "s", records())
    clash = tmp_path / "out.txt"
    clash.write_text("x")
    assert main(["compare", "--before", store, "--after", store, "--queries", _queries(tmp_path),
                 "--out", str(clash)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_cli_missing_llm_config_writes_nothing(tmp_path, capsys):
    store = _store(tmp_path / "s", records())
    assert main(["compare", "--before", store, "--after", store, "--queries", _queries(tmp_path),
                 "--out", str(tmp_path / "o"), "--answers", "--llm-config", str(tmp_path / "nope.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # checked before the first output file is written


def test_cli_side_that_is_not_a_config_names_the_side(tmp_path, capsys):
    store = _store(tmp_path / "s", records())
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n")
    assert main(["compare", "--before", str(notes), "--after", store, "--queries", _queries(tmp_path),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "before side" in err and "not a store directory, a saved run or a valid config file" in err
    assert not (tmp_path / "o").exists()
