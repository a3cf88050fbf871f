"""`memlab config migrate|validate`: reports, exit codes, nothing written on error."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from memlab.cli import main
from memlab.config import MemoryConfig
from tests.config.cfg_cases import GUIDE_AFTER, GUIDE_FLAT


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(GUIDE_FLAT))
    return path


def test_migrate_prints_report_and_config(old_file, capsys):
    assert main(["config", "migrate", str(old_file)]) == 0
    out = capsys.readouterr().out
    assert "vector_store.provider: qdrant -> faiss" in out and "memlab import" in out
    config_text = out[out.index("\n{") + 1:]
    assert MemoryConfig.from_dict(json.loads(config_text)).vector_store.provider == "faiss"


def test_migrate_writes_yaml_and_validate_accepts_it(old_file, tmp_path, capsys):
    new = tmp_path / "new.yaml"
    assert main(["config", "migrate", str(old_file), "-o", str(new)]) == 0
    assert "Wrote the migrated config" in capsys.readouterr().out
    assert yaml.safe_load(new.read_text())["embedder"]["provider"] == "openai"
    assert main(["config", "validate", str(new)]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {new} is a valid memlab config")
    # migrating the migrated file changes nothing
    assert main(["config", "migrate", str(new), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == []


def test_migrate_json_report_and_format_flag(old_file, tmp_path, capsys):
    assert main(["config", "migrate", str(old_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"config", "changes", "warnings"} and doc["changes"]
    out = tmp_path / "cfg.txt"
    assert main(["config", "migrate", str(old_file), "-o", str(out), "--format", "yaml"]) == 0
    assert yaml.safe_load(out.read_text())["vector_store"]["provider"] == "faiss"


def test_migrate_reads_stdin(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("embedder: huggingface\nllm: ollama\n"))
    assert main(["config", "migrate", "-", "--format", "yaml"]) == 0
    out = capsys.readouterr().out
    assert "llm.provider: ollama -> openai" in out and "provider: minilm" in out


@pytest.mark.parametrize("content", [
    '{"embedder": {"provider": "opnai"}}',
    '{"version": "v9"}',
    "{not: [valid",
    "",
    '["a", "list"]',
    '{"graph_store": {"provider": "neo4j", "config": {"url": "bolt://x"}}}',
])
def test_invalid_input_exits_nonzero_with_one_line_and_writes_nothing(tmp_path, capsys, content):
    old = tmp_path / "bad.yaml"
    old.write_text(content)
    new = tmp_path / "new.json"
    code = main(["config", "migrate", str(old), "-o", str(new)])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("memlab: error: ") and err.count("\n") == 1, err
    assert not new.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]  # no temp file left either


def test_migrate_refuses_to_overwrite(old_file, tmp_path, capsys):
    assert main(["config", "migrate", str(old_file), "-o", str(old_file)]) == 2
    assert "Refusing to overwrite the input" in capsys.readouterr().err
    assert json.loads(old_file.read_text()) == GUIDE_FLAT
    existing = tmp_path / "existing.json"
    existing.write_text("keep me")
    assert main(["config", "migrate", str(old_file), "-o", str(existing)]) == 2
    assert "--force" in capsys.readouterr().err and existing.read_text() == "keep me"
    assert main(["config", "migrate", str(old_file), "-o", str(existing), "--force"]) == 0
    assert json.loads(existing.read_text())["vector_store"]["provider"] == "faiss"
    assert main(["config", "migrate", str(old_file), "-o", str(tmp_path / "nope" / "x.json")]) == 2


def test_missing_input_file(tmp_path, capsys):
    assert main(["config", "migrate", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_validate_rejects_legacy_and_inconsistent_configs(tmp_path, capsys):
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps(GUIDE_AFTER))
    assert main(["config", "validate", str(legacy)]) == 2
    err = capsys.readouterr().err
    assert "legacy (mem0) config" in err and "memlab config migrate" in err and err.count("\n") == 1
    inconsistent = tmp_path / "dims.yaml"
    inconsistent.write_text(yaml.safe_dump({"embedder": {"provider": "hash", "config": {"embedding_dims": 64}},
                                            "vector_store": {"provider": "faiss",
                                                             "config": {"embedding_model_dims": 1536}}}))
    assert main(["config", "validate", str(inconsistent)]) == 2
    assert "embedding_model_dims" in capsys.readouterr().err
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"version": 3}')
    assert main(["config", "validate", str(garbage)]) == 2
    assert "version" in capsys.readouterr().err


def test_validate_prints_warnings_of_a_valid_config(tmp_path, capsys):
    path = tmp_path / "v10.json"
    MemoryConfig.from_dict({"version": "v1.0", "embedder": {"provider": "hash"}}).save(path)
    assert main(["config", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK:") and "'v1.0' is kept" in out


@pytest.mark.parametrize("action", ["migrate", "validate"])
def test_directory_or_binary_input_is_one_clear_error(tmp_path, capsys, action):
    assert main(["config", action, str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    binary = tmp_path / "cfg.json"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    assert main(["config", action, str(binary)]) == 2
    assert "Cannot read config file" in capsys.readouterr().err


def test_migrate_output_that_is_a_directory_is_refused_even_with_force(old_file, tmp_path, capsys):
    target = tmp_path / "outdir"
    target.mkdir()
    assert main(["config", "migrate", str(old_file), "-o", str(target), "--force"]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert list(target.iterdir()) == []
