"""`memlab import | export | verify | db` on store directories."""

from __future__ import annotations

from memlab.cli import main
from memlab.store.faiss import revisions as S


def test_cli_import_export_verify_and_db(shared_dir, tmp_path, capsys):
    store, copy = str(tmp_path / "store"), str(tmp_path / "copy")
    mem0 = str(shared_dir / "fixtures" / "mem0" / "v0_1_118")
    assert main(["import", "mem0", mem0, "--store", store, "--embedder", "hash"]) == 0
    out = capsys.readouterr().out
    assert "39 memories imported" in out and "repair unreachable" in out
    om = str(shared_dir / "fixtures" / "openmemory" / "openmemory.db")
    assert main(["import", "openmemory", om, "--store", store]) == 0  # existing store: its embedder is kept
    assert "snapshot" in capsys.readouterr().err
    assert main(["export", "--store", store, str(tmp_path / "all.parquet")]) == 0
    assert "exported 59 memories" in capsys.readouterr().out
    assert main(["import", "jsonl", str(tmp_path / "all.parquet"), "--store", copy]) == 0
    capsys.readouterr()
    assert main(["verify", "--source", store, "--target", copy]) == 0
    assert capsys.readouterr().out.startswith("OK: 59/59")
    # a conflicting re-import fails cleanly (exit 2) and changes nothing
    assert main(["import", "jsonl", str(tmp_path / "all.parquet"), "--store", copy]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["verify", "--source", store, "--target", copy]) == 0
    capsys.readouterr()

    assert main(["db", "current", "--store", store]) == 0
    assert capsys.readouterr().out.strip() == f"{S.HEAD_REVISION} (head)"
    assert main(["db", "downgrade", "-1", "--store", store]) == 0
    assert main(["db", "history", "--store", store]) == 0
    assert f"{S.REVISIONS[-2]} (current)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--store", store]) == 0
    assert main(["db", "rollback", "--store", store]) == 0  # back to before the upgrade
    assert S.current(store) == S.REVISIONS[-2]
    assert main(["db", "snapshots", "--store", store]) == 0
    assert "pre-rollback" in capsys.readouterr().out
    assert main(["db", "downgrade", "nope", "--store", store]) == 2
    assert "Unknown revision" in capsys.readouterr().err
    assert main(["verify", "--source", store, "--target", copy]) == 0  # re-opening upgraded it again


def test_cli_failed_import_leaves_no_empty_store(tmp_path, capsys):
    new_dir = tmp_path / "new_store"
    assert main(["import", "mem0", str(tmp_path / "nope"), "--store", str(new_dir), "--embedder", "hash"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not new_dir.exists()  # the store directory the import would have created is gone again
    existing_dir = tmp_path / "empty_dir"
    existing_dir.mkdir()
    (existing_dir / "keep.txt").write_text("mine")
    assert main(["import", "openmemory", str(tmp_path / "nope.db"), "--store", str(existing_dir),
                 "--embedder", "hash"]) == 2
    assert sorted(p.name for p in existing_dir.iterdir()) == ["keep.txt"]  # user's directory kept, no memlab.db


def test_cli_export_and_verify_refuse_a_missing_store(tmp_path, capsys):
    assert main(["export", "--store", str(tmp_path / "typo"), str(tmp_path / "out.jsonl")]) == 2
    assert "No memlab store" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists() and not (tmp_path / "out.jsonl").exists()
    assert main(["verify", "--source", str(tmp_path / "a"), "--target", str(tmp_path / "b")]) == 2
    assert "No memlab store" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_downgrade_to_base_says_how_to_get_the_data_back(tmp_path, capsys):
    from memlab import Memory

    store = str(tmp_path / "s")
    with Memory({"embedder": {"provider": "hash"}}, path=store) as m:
        m.add("kept in the snapshot", user_id="u", infer=False)
    assert main(["db", "downgrade", "base", "--store", store]) == 0
    assert "db rollback" in capsys.readouterr().out
    assert main(["export", "--store", store, str(tmp_path / "x.jsonl")]) == 2
    assert "downgraded to <base>" in capsys.readouterr().err
    assert main(["db", "rollback", "--store", store]) == 0
    assert "1 memories" in capsys.readouterr().out


def test_cli_export_to_a_directory_and_verify_without_queries_file(tmp_path, capsys):
    from memlab import Memory

    store = str(tmp_path / "s")
    with Memory({"embedder": {"provider": "hash"}}, path=store) as m:
        m.add("one memory", user_id="u", infer=False)
    target_dir = tmp_path / "outdir"
    target_dir.mkdir()
    assert main(["export", "--store", store, str(target_dir)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert list(tmp_path.glob(".*.partial")) == []  # no stray temp file next to it
    assert main(["verify", "--source", store, "--target", store, "--queries", str(tmp_path / "q.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["verify", "--source", store, "--target", store, "-k", "0"]) == 2
    assert "-k must be a positive integer" in capsys.readouterr().err


def test_cli_import_into_a_file_path_is_one_clear_error(tmp_path, capsys):
    clash = tmp_path / "notes.txt"
    clash.write_text("mine")
    assert main(["import", "openmemory", str(tmp_path / "x.db"), "--store", str(clash), "--embedder", "hash"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert clash.read_text() == "mine"


def test_cli_mem0_json_import_of_a_directory_is_one_clear_error(tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    assert main(["import", "mem0-json", str(folder), "--store", str(tmp_path / "s"), "--embedder", "hash"]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
