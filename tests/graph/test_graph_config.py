"""graph_store configs: mem0's kuzu block runs as is; server blocks migrate to the embedded engine."""

from __future__ import annotations

import pytest

from memlab import MemoryConfig
from memlab.errors import ConfigError
from memlab.migrate import migrate_config


def test_mem0_kuzu_block_is_current_and_kept(tmp_path):
    block = {"provider": "kuzu", "config": {"db": str(tmp_path / "g.kuzu")}}
    m = migrate_config({"graph_store": block})
    assert m.config.graph_store.provider == "kuzu"
    assert m.config.graph_store.config == {"db": str(tmp_path / "g.kuzu")}
    assert not [c for c in m.changes if c.path.startswith("graph_store")]
    assert not [w for w in m.warnings if "graph" in w]
    assert MemoryConfig.from_dict({"graph_store": {"provider": "kuzu"}}).graph_store.config == {}


@pytest.mark.parametrize("block", [
    {"provider": "neo4j", "config": {"url": "bolt://db:7687", "username": "neo4j", "password": "s3cret"}},
    {"provider": "memgraph", "config": {"url": "bolt://mg:7687", "username": "u", "password": "p"},
     "llm": {"provider": "openai", "config": {"model": "gpt-4o-mini"}}, "custom_prompt": "People only.",
     "threshold": 0.8},
    {"provider": "neptunedb", "config": {"endpoint": "neptune-db://host"}},
])
def test_server_blocks_map_to_the_embedded_engine(block):
    m = migrate_config({"graph_store": block})
    g = m.config.graph_store
    assert g.provider == "kuzu" and g.config == {}
    assert any(c.path == "graph_store.provider" and c.new == "kuzu" for c in m.changes)
    removed = {c.path for c in m.changes if c.new is None}
    assert {f"graph_store.config.{k}" for k in block["config"]} <= removed
    assert "s3cret" not in m.report()  # secrets masked in the report
    assert any("not reachable offline" in w for w in m.warnings)
    if "custom_prompt" in block:
        assert g.custom_prompt == "People only." and g.threshold == 0.8 and g.llm.provider == "openai"
    assert migrate_config(m.config.to_dict()).changes == []  # idempotent


def test_broken_server_block_is_still_an_error():
    with pytest.raises(ConfigError, match="graph_store.config.password"):
        migrate_config({"graph_store": {"provider": "neo4j", "config": {"url": "bolt://x"}}})
