"""Legacy configs still run: Memory(config=old) migrates on the fly with a DeprecationWarning."""

from __future__ import annotations

import warnings

import pytest

from memlab import Memory
from memlab.errors import ConfigError
from memlab.migrate import migrate_config
from tests.config.cfg_cases import GUIDE_FLAT

LEGACY_OFFLINE = {
    "version": "v1.1",
    "embedder": {"provider": "huggingface", "config": {"model": "sentence-transformers/all-MiniLM-L6-v2",
                                                       "embedding_dims": 1536}},
    "vector_store": {"provider": "faiss", "config": {"collection_name": "mem0", "distance_strategy": "euclidean",
                                                     "normalize_L2": False, "embedding_model_dims": 1536}},
    "llm": {"provider": "aws_bedrock", "config": {"model": "anthropic.claude-3-haiku"}},
    "custom_prompt": "Extract personal preferences.",
}


def _build(config, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = Memory(config=config, **kwargs)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    return m, deprecations


def test_legacy_offline_config_runs_on_the_fly(minilm, tmp_path):
    m, deprecations = _build(LEGACY_OFFLINE, path=str(tmp_path / "store"))
    try:
        assert len(deprecations) == 1
        message = str(deprecations[0].message)
        migrated = migrate_config(LEGACY_OFFLINE).config
        assert migrated.to_json() in message  # the warning shows the migrated form to copy
        assert "thresholds tuned on euclidean" in message
        actual = m.config.to_dict()
        assert actual["vector_store"]["config"].pop("path") == str(tmp_path / "store")
        assert actual == migrated.to_dict()
        assert m.embedder.name == "minilm:all-MiniLM-L6-v2" and m.store.dims == 384
        assert m.config.custom_fact_extraction_prompt == "Extract personal preferences."
        m.add("I am allergic to peanuts", user_id="maya", infer=False)
        m.add("I play bass guitar in a jazz trio", user_id="maya", infer=False)
        hits = m.search("food allergy", user_id="maya", limit=1)["results"]
        assert hits[0]["memory"] == "I am allergic to peanuts"
        assert 0 < hits[0]["score"] <= 1  # cosine, not a euclidean distance
    finally:
        m.close()


def test_from_config_accepts_legacy_dicts():
    old = {"embedder": {"provider": "fastembed", "config": {"model": "sentence-transformers/all-MiniLM-L6-v2"}},
           "vector_store": {"provider": "chroma", "config": {"collection_name": "notes", "path": "/tmp/chroma"}}}
    with pytest.warns(DeprecationWarning, match="migrated on the fly"):
        m = Memory.from_config(old)
    try:
        assert m.config.vector_store.provider == "faiss"
        assert m.config.vector_store.config["collection_name"] == "notes"
        assert m.config.vector_store.config.get("path") is None  # chroma's folder is not reused
        assert m.store.dims == 384
    finally:
        m.close()


def test_current_configs_do_not_warn(hash_config):
    m, deprecations = _build(hash_config)
    m.close()
    assert deprecations == []


def test_guide_flat_config_needs_an_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ConfigError, match="api_key"):
            Memory(config=dict(GUIDE_FLAT))


def test_guide_flat_config_runs_against_an_openai_compatible_server(monkeypatch):
    """The guide's rollback path verbatim: Memory(config=old_flat) with key and URL from the environment."""
    from tests.openai_server import OpenAICompatServer

    srv = OpenAICompatServer(embedding_dims=1536).start()  # text-embedding-3-small's size
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        m, deprecations = _build(dict(GUIDE_FLAT))
        try:
            assert len(deprecations) == 1 and "qdrant" in str(deprecations[0].message)
            assert (m.config.embedder.provider, m.config.vector_store.provider) == ("openai", "faiss")
            assert m.store.dims == 1536
            m.add("I live in Lyon", user_id="oren", infer=False)
            assert m.search("Lyon", user_id="oren")["results"][0]["memory"] == "I live in Lyon"
            assert any(r["path"].endswith("/embeddings") for r in srv.requests)
        finally:
            m.close()
    finally:
        srv.stop()


def test_legacy_openai_base_url_config_runs(openai_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    old = {"embedder": {"provider": "openai", "config": {"model": "test-embed", "openai_base_url": openai_server.base_url,
                                                         "embedding_dims": openai_server.embedding_dims}},
           "vector_store": "qdrant"}
    m, deprecations = _build(old)
    try:
        assert deprecations
        assert m.config.embedder.config["base_url"] == openai_server.base_url
        assert m.config.vector_store.config["embedding_model_dims"] == openai_server.embedding_dims
        m.add("I prefer tea over coffee", user_id="bob", infer=False)
        assert m.search("tea", user_id="bob")["results"][0]["memory"] == "I prefer tea over coffee"
    finally:
        m.close()


def test_unmigratable_config_is_a_clear_error():
    with pytest.raises(ConfigError) as info:
        Memory(config={"embedder": {"provider": "opnai"}})
    text = str(info.value)
    assert "opnai" in text and "not a legacy config memlab can migrate" in text


def test_legacy_graph_config_keeps_relations_key(hash_config):
    old = {**hash_config, "graph_store": {"provider": "neptunedb", "config": {"endpoint": "neptune-db://h"}}}
    m, deprecations = _build(old)
    try:
        # the neptune server is not reachable offline: the migration runs the embedded graph instead
        assert deprecations and m.config.graph_store.provider == "kuzu"
        assert any("not reachable offline" in str(w.message) for w in deprecations)
        assert m.add("hello there", user_id="u", infer=False)["relations"] == {"added_entities": [],
                                                                                "deleted_entities": []}
    finally:
        m.close()
