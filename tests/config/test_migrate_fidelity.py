"""Config-migration fidelity (issue 13, items 12 and 13).

mem0's ``MemoryConfig.version`` defaults to "v1.1" and mem0 2.x returns ``{"results": [...]}`` only
(mem0/configs/base.py, docs.mem0.ai "migration guide: v1.0 -> v1.1": read ``response["results"]``).
Embedding sizes follow the providers' model cards (OpenAI text-embedding-3-small 1536, -3-large 3072,
ada-002 1536; sentence-transformers all-MiniLM-L6-v2 384); mem0's vector stores default to 1536
whatever the model (mem0/configs/vector_stores/*.py ``embedding_model_dims``).
"""

from __future__ import annotations

import json

import pytest

from memlab import Memory
from memlab.cli import main
from memlab.migrate import migrate_config


def test_v10_migrates_to_v11_and_reports_the_client_code_change():
    m = migrate_config({"version": "v1.0", "embedder": {"provider": "openai"}})
    assert m.config.version == "v1.1"
    change = next(c for c in m.changes if c.path == "version")
    assert (change.old, change.new) == ("v1.0", "v1.1")
    assert any("response['results']" in w and "keep_version" in w for w in m.warnings)
    again = migrate_config(m.config.to_dict())
    assert again.changes == [] and again.config.version == "v1.1"


def test_staying_on_v10_is_an_explicit_opt_out(hash_config):
    m = migrate_config({"version": "v1.0"}, keep_version=True)
    assert m.config.version == "v1.0" and not any(c.path == "version" for c in m.changes)
    assert any("keep_version=True" in w and "response['results']" in w for w in m.warnings)
    with pytest.raises(Exception, match="keep_version"):
        migrate_config({"version": "v1.0"}, keep_version="yes")
    # a legacy config used directly keeps its response format (no silent change under running code)
    with pytest.warns(DeprecationWarning):
        legacy = Memory({"version": "v1.0", "embedder": "hash"})
    assert legacy.config.version == "v1.0"


def test_cli_migrate_moves_v10_unless_told_to_keep_it(tmp_path, capsys):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"version": "v1.0", "embedder": "openai", "llm": "openai"}))
    assert main(["config", "migrate", str(old), "-o", str(tmp_path / "new.json")]) == 0
    assert "response['results']" in capsys.readouterr().out
    assert json.loads((tmp_path / "new.json").read_text())["version"] == "v1.1"
    assert main(["config", "migrate", str(old), "-o", str(tmp_path / "kept.json"), "--keep-version"]) == 0
    assert json.loads((tmp_path / "kept.json").read_text())["version"] == "v1.0"
    assert main(["config", "validate", str(tmp_path / "kept.json")]) == 0  # v1.0 is valid, just deprecated


@pytest.mark.parametrize("embedder,dims", [
    ({"provider": "openai", "config": {"model": "text-embedding-3-small"}}, 1536),
    ({"provider": "openai", "config": {"model": "text-embedding-3-large"}}, 3072),
    ({"provider": "openai", "config": {"model": "text-embedding-ada-002"}}, 1536),
    ({"provider": "huggingface", "config": {"model": "sentence-transformers/all-MiniLM-L6-v2"}}, 384),
    ({"provider": "ollama", "config": {"model": "nomic-embed-text"}}, 768),
    ({"provider": "ollama", "config": {"model": "mxbai-embed-large:latest"}}, 1024),
    ("openai", 1536),  # the flat form: mem0's default model of the provider
])
def test_known_models_dimensions_are_written_into_the_migrated_config(embedder, dims):
    for extra in ({}, {"vector_store": {"provider": "qdrant", "config": {"embedding_model_dims": 1536}}}):
        m = migrate_config({"embedder": embedder, "llm": "openai", **extra})
        assert m.config.vector_store.config["embedding_model_dims"] == dims, extra
        assert any(c.path == "vector_store.config.embedding_model_dims" for c in m.changes) or dims == 1536


def test_unknown_models_get_a_warning_not_a_guess():
    m = migrate_config({"embedder": {"provider": "openai", "config": {"model": "acme-embed-7"}}, "llm": "openai"})
    assert "embedding_model_dims" not in m.config.vector_store.config
    assert any("acme-embed-7" in w and "not in memlab's table" in w for w in m.warnings)
    m = migrate_config({"embedder": {"provider": "openai", "config": {"model": "acme-embed-7"}}})
    assert any("acme-embed-7" in w for w in m.warnings)  # also for a config already in memlab's format
