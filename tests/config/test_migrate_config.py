"""migrate_config: every legacy shape migrates faithfully, nothing is dropped silently, idempotent."""

from __future__ import annotations

import ast
import json
import re

import pytest

from memlab.config import MemoryConfig
from memlab.errors import ConfigError
from memlab.migrate import Change, ConfigMigration, migrate_config
from tests.config.cfg_cases import CASES, GUIDE_FLAT, MALFORMED, OPENMEMORY


def _leaves(data, prefix=""):
    """Dotted paths of every leaf (and of empty dicts) of a nested dict."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix


def _lookup(data, path):
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return KeyError
        data = data[part]
    return data


def _accounted(path: str, changes: list[Change]) -> bool:
    for change in changes:
        for side in change.path.split(" -> "):
            if path == side or path.startswith(side + ".") or side.startswith(path + "."):
                return True
    return False


def assert_nothing_dropped_silently(source: dict, migration: ConfigMigration) -> None:
    """Every input setting is either in the migrated config with the same value or reported."""
    new = migration.config.to_dict()
    for path in _leaves(source):
        if not path or _lookup(source, path) is None:  # None means "not set"
            continue
        same = _lookup(new, path) == _lookup(source, path)
        assert same or _accounted(path, migration.changes), f"{path} vanished without a reported change"


@pytest.mark.parametrize("case_id,old,expect", CASES, ids=[c[0] for c in CASES])
def test_legacy_shapes_migrate_faithfully(case_id, old, expect):
    m = migrate_config(old)
    cfg = m.config
    assert isinstance(cfg, MemoryConfig)
    MemoryConfig.from_dict(cfg.to_dict())  # round-trips through strict validation
    if "emb" in expect:
        assert cfg.embedder.provider == expect["emb"]
    if "llm" in expect:
        assert cfg.llm.provider == expect["llm"]
    if "vs" in expect:
        assert cfg.vector_store.provider == expect["vs"]
    if "dims" in expect:
        assert cfg.vector_store.config.get("embedding_model_dims") == expect["dims"]
    if "base_url" in expect:
        assert cfg.embedder.config["base_url"] == expect["base_url"]
    if "llm_base_url" in expect:
        assert cfg.llm.config["base_url"] == expect["llm_base_url"]
    if "llm_model" in expect:
        assert cfg.llm.config["model"] == expect["llm_model"]
    if "collection" in expect:
        assert cfg.vector_store.config["collection_name"] == expect["collection"]
    paths = [c.path for c in m.changes]
    if expect.get("changed") == []:
        assert m.changes == [], paths
    for wanted in expect.get("changed", []):
        assert wanted in paths, f"{wanted!r} not reported; got {paths}"
    for wanted in expect.get("warn", []):
        assert any(wanted in w for w in m.warnings), f"no warning about {wanted!r}: {m.warnings}"
    for change in m.changes:
        assert change.reason and isinstance(change.reason, str)
    assert_nothing_dropped_silently(m.source, m)


@pytest.mark.parametrize("case_id,old,expect", CASES, ids=[c[0] for c in CASES])
def test_migration_is_idempotent(case_id, old, expect):
    first = migrate_config(old)
    second = migrate_config(first.config.to_dict())
    assert second.changes == []
    assert second.config == first.config
    assert second.diff() == ""
    third = migrate_config(first.config)  # a MemoryConfig is accepted too
    assert third.changes == [] and third.config == first.config


@pytest.mark.parametrize("case_id,old,message", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_configs_fail_with_a_clear_error(case_id, old, message):
    with pytest.raises(ConfigError) as info:
        migrate_config(old)
    assert message in str(info.value)


def test_enough_shapes_are_covered():
    assert len(CASES) >= 20 and len(MALFORMED) >= 10


def test_flat_guide_config_report():
    m = migrate_config(GUIDE_FLAT)
    assert m.changed
    cfg = m.config.to_dict()
    assert cfg["embedder"] == {"provider": "openai", "config": m.config.embedder.config}
    assert m.config.embedder.config["model"] == "text-embedding-3-small"
    assert m.config.vector_store.config["collection_name"] == "mem0"
    flat = [c for c in m.changes if c.path == "embedder"][0]
    assert flat.old == "openai" and "flat legacy form" in flat.reason
    assert set(m.to_dict()) == {"config", "changes", "warnings"}
    json.dumps(m.to_dict())
    frame = m.changes_frame()
    assert list(frame.columns) == ["path", "old", "new", "reason"] and len(frame) == len(m.changes)
    diff = m.diff()
    assert diff.startswith("--- old config\n+++ migrated config\n")
    assert '-  "vector_store": "qdrant"' in diff and '+    "provider": "faiss"' in diff
    assert "qdrant -> faiss" in m.report()


def test_secrets_are_masked_in_report_and_diff_but_kept_in_config():
    old = {"llm": {"provider": "groq", "config": {"api_key": "gsk-secret-123", "model": "llama3-8b-8192"}},
           "vector_store": {"provider": "pgvector", "config": {"password": "hunter2", "user": "u"}}}
    m = migrate_config(old)
    assert m.config.llm.config["api_key"] == "gsk-secret-123"  # the user's key still works
    text = m.report() + m.diff() + json.dumps([c.to_dict() for c in m.changes])
    assert "gsk-secret-123" not in text and "hunter2" not in text
    assert "***" in text
    # no key warning when the key is given
    assert not any("GROQ_API_KEY" in w for w in m.warnings)


def test_euclidean_faiss_warns_about_thresholds():
    m = migrate_config({"vector_store": {"provider": "faiss", "config": {"distance_strategy": "euclidean"}}})
    assert m.config.vector_store.config["distance_strategy"] == "cosine"
    change = [c for c in m.changes if c.path == "vector_store.config.distance_strategy"][0]
    assert (change.old, change.new) == ("euclidean", "cosine")
    assert any("thresholds" in w and "re-tune" in w for w in m.warnings)


def test_text_yaml_and_path_inputs(tmp_path):
    yaml_text = "embedder: huggingface\nvector_store:\n  provider: chroma\n  config:\n    path: /tmp/db\n"
    from_text = migrate_config(yaml_text)
    assert from_text.config.vector_store.provider == "faiss"
    (tmp_path / "old.yaml").write_text(yaml_text)
    (tmp_path / "old.json").write_text(json.dumps(GUIDE_FLAT))
    assert migrate_config(tmp_path / "old.yaml").config == from_text.config
    assert migrate_config(str(tmp_path / "old.json")).config == migrate_config(GUIDE_FLAT).config
    assert migrate_config(json.dumps(GUIDE_FLAT)).config == migrate_config(GUIDE_FLAT).config
    assert migrate_config(json.dumps(GUIDE_FLAT).encode()).config == migrate_config(GUIDE_FLAT).config
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        migrate_config(tmp_path / "empty.json")
    (tmp_path / "broken.json").write_text("{'a': 1")
    with pytest.raises(ConfigError, match="not valid JSON"):
        migrate_config(tmp_path / "broken.json")


def test_input_dict_is_not_mutated():
    old = json.loads(json.dumps(OPENMEMORY))
    snapshot = json.dumps(old, sort_keys=True)
    migrate_config(old)
    assert json.dumps(old, sort_keys=True) == snapshot


def test_client_objects_in_a_legacy_config_are_reported_not_serialised():
    class FakeQdrantClient:  # mem0 allowed a client instance in the qdrant config
        pass

    m = migrate_config({"vector_store": {"provider": "qdrant", "config": {"client": FakeQdrantClient()}}})
    change = [c for c in m.changes if c.path == "vector_store.config.client"][0]
    assert change.old == "<FakeQdrantClient object>" and change.new is None
    assert "FakeQdrantClient object" in m.diff()


# ------------------------------------------------------------------ the reference migration guide
def _guide_configs(text: str) -> list[tuple[str, dict]]:
    """Every config literal in the guide's python blocks: ``*config = {...}`` and ``MemoryConfig(...)``."""
    found = []
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        try:
            tree = ast.parse(block)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if any(n.endswith("config") for n in names):
                    found.append((names[0], ast.literal_eval(node.value)))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "MemoryConfig" and node.keywords:
                found.append(("MemoryConfig", {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}))
    return found


def test_every_config_example_of_the_migration_guide(shared_dir):
    text = (shared_dir / "reference" / "mem0-migration-guide.md").read_text(encoding="utf-8")
    examples = _guide_configs(text)
    assert len(examples) >= 5, examples  # flat, hierarchical, version, graph (x2 in text), rollback
    for name, old in examples:
        m = migrate_config(old)
        assert_nothing_dropped_silently(old, m)
        assert migrate_config(m.config.to_dict()).changes == []
        for block in ("embedder", "llm", "vector_store"):
            value = old.get(block)
            provider = value if isinstance(value, str) else (value or {}).get("provider")
            if provider == "qdrant":
                assert m.config.vector_store.provider == "faiss"
                assert any("qdrant" in w and "memlab import" in w for w in m.warnings)
            elif provider == "openai":
                assert getattr(m.config, block).provider == "openai"
        if "graph_store" in old:
            assert m.config.graph_store.provider == "kuzu"  # servers run on the embedded engine
            if old["graph_store"]["provider"] != "kuzu":
                assert any("graph" in w and "not reachable offline" in w for w in m.warnings)
        if "embedding_model_dims" in json.dumps(old):
            assert m.config.vector_store.config["embedding_model_dims"] == 1536  # text-embedding-3-small


def test_real_mem0_fixture_vector_store_configs(shared_dir):
    """The vector_store configs mem0 0.1.118 / 1.0.9 / 2.2.1 actually wrote the fixtures with."""
    for version in ("v0_1_118", "v1_0_9", "v2_2_1"):
        expected = json.loads((shared_dir / "fixtures" / "mem0" / version / "expected.json").read_text())
        vs = expected["vector_store"]
        old = {"vector_store": {"provider": vs["provider"], "config": vs["config"]},
               "embedder": {"provider": "huggingface", "config": {"model": expected["embedding"]["model"]}}}
        m = migrate_config(old)
        assert m.config.embedder.provider == "minilm"
        assert m.config.vector_store.config["embedding_model_dims"] == expected["embedding"]["dims"] == 384
        assert m.config.vector_store.config["collection_name"] == "mem0"
        euclid = vs["config"]["distance_strategy"] == "euclidean"
        assert any("thresholds tuned on euclidean" in w for w in m.warnings) == euclid
        assert_nothing_dropped_silently(old, m)


def test_real_openmemory_config_row(shared_dir):
    import sqlite3

    db = shared_dir / "fixtures" / "openmemory" / "openmemory.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT key, value FROM configs").fetchall()
    finally:
        con.close()
    assert rows
    for _key, value in rows:
        m = migrate_config(value)  # the JSON text as stored
        assert m.config.llm.provider == "openai" and m.config.embedder.provider == "openai"
        assert m.config.llm.config["max_tokens"] == 2000
        assert "api_key" not in m.config.llm.config  # env:OPENAI_API_KEY == memlab's default
        assert migrate_config(m.config.to_dict()).changes == []


def test_pointing_at_a_mem0_faiss_folder_warns_even_for_a_current_config(shared_dir):
    folder = shared_dir / "fixtures" / "mem0" / "v2_2_1" / "faiss"
    m = migrate_config({"vector_store": {"provider": "faiss", "config": {"path": str(folder),
                                                                          "collection_name": "mem0"}}})
    assert m.changes == []
    assert any("does not read mem0's FAISS files" in w for w in m.warnings)


def test_openmemory_database_file_is_read_directly(shared_dir, tmp_path):
    db = shared_dir / "fixtures" / "openmemory" / "openmemory.db"
    m = migrate_config(db)
    assert m.config.llm.config["model"] == "gpt-4o-mini" and m.config.embedder.provider == "openai"
    assert m.changes[0].path == "mem0 -> (top level)"
    not_db = tmp_path / "x.db"
    not_db.write_bytes(b"not sqlite")
    with pytest.raises(ConfigError, match="not an OpenMemory database"):
        migrate_config(not_db)


@pytest.mark.parametrize("model, dims", [("text-embedding-3-large", 3072), ("text-embedding-3-small", 1536),
                                         ("text-embedding-ada-002", 1536)])
def test_known_embedding_sizes_are_filled_in(model, dims):
    """mem0 assumed 1536 for every model; a known model's real size goes into the migrated config,
    also for an otherwise current config (no start-up probe of the server needed)."""
    for old in ({"embedder": {"provider": "openai", "config": {"model": model}}},
                {"embedder": {"provider": "openai", "config": {"model": model}}, "llm": "openai"},
                {"embedder": {"provider": "openai", "config": {"model": model}},
                 "vector_store": {"provider": "faiss", "config": {}}}):
        m = migrate_config(old)
        assert m.config.vector_store.config["embedding_model_dims"] == dims
        assert any(c.path == "vector_store.config.embedding_model_dims" and c.new == dims for c in m.changes)
        assert migrate_config(m.config.to_dict()).changes == []  # and migrating again changes nothing
    wrong = migrate_config({"embedder": {"provider": "openai", "config": {"model": model}},
                            "vector_store": {"provider": "qdrant", "config": {"embedding_model_dims": 999}}})
    assert wrong.config.vector_store.config["embedding_model_dims"] == dims
