"""`memlab import | export | verify | db` on store directories."""

from __future__ import annotations

from memlab.cli import main
from memlab.migrate import schema as S


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
    assert "0002_categories (current)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--store", store]) == 0
    assert main(["db", "rollback", "--store", store]) == 0  # back to before the upgrade
    assert S.current(store) == "0002_categories"
    assert main(["db", "snapshots", "--store", store]) == 0
    assert "pre-rollback" in capsys.readouterr().out
    assert main(["db", "downgrade", "nope", "--store", store]) == 2
    assert "Unknown revision" in capsys.readouterr().err
    assert main(["verify", "--source", store, "--target", copy]) == 0  # re-opening upgraded it again
