"""Graph memory: entities and relations per scope on an embedded graph engine (``memlab[graph]``).

Importing this package needs nothing beyond memlab's core; the engine (LadybugDB, PyPI
``ladybug``) is loaded when a graph is opened, and a missing engine is a ConfigError naming
``memlab[graph]``. See docs/graph.md.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Optional

from memlab.errors import ConfigError
from memlab.graph.graph_memory import GRAPH_FILE, GraphMemory, GraphPlan, graph_path, self_name
from memlab.graph.normalize import entity_name, relationship_name

REMOTE_PROVIDERS = ("neo4j", "memgraph", "neptune")


def make_extractor(llm: Any, custom_prompt: Optional[str] = None):
    """The graph extractor for an LLM object: mem0's tool calls for chat models, rules offline."""
    if hasattr(llm, "call_tools"):
        from memlab.graph.llm_tools import ToolCallGraphExtractor

        return ToolCallGraphExtractor(llm, custom_prompt=custom_prompt)
    if all(hasattr(llm, m) for m in ("entities", "relations", "deletions")):
        return llm  # a custom graph extractor passed as the LLM
    if getattr(llm, "name", None) == "rules":
        from memlab.graph.rules import RulesGraphExtractor

        return RulesGraphExtractor()
    raise ConfigError(
        f"The LLM {getattr(llm, 'name', type(llm).__name__)!r} cannot extract graph relations: use the 'rules' or "
        "'openai' llm (or set graph_store.llm), or pass an object with entities/relations/deletions methods."
    )


def open_graph(config: Any, store_path: Optional[str], llm_getter: Callable[[], Any]) -> Optional[GraphMemory]:
    """The GraphMemory of a MemoryConfig (None when it has no graph_store)."""
    block = getattr(config, "graph_store", None)
    if block is None:
        return None
    from memlab.graph.engine import GraphEngine

    if block.provider in REMOTE_PROVIDERS:
        warnings.warn(
            f"graph_store.provider {block.provider!r}: memlab runs graphs in-process on its embedded engine; "
            f"the relations stored in your {block.provider} server are not reachable offline and start empty "
            "here. Use {'provider': 'kuzu', 'config': {'db': PATH}} to silence this warning.",
            UserWarning, stacklevel=3)
        db = None
    else:
        db = block.config.get("db")
    engine = GraphEngine(graph_path(db, store_path))

    def factory():
        if block.llm is not None:
            from memlab.llms import create_llm

            llm = create_llm(block.llm.provider, block.llm.config)
        else:
            llm = llm_getter()
        return make_extractor(llm, custom_prompt=block.custom_prompt)

    return GraphMemory(engine, factory)


__all__ = ["GraphMemory", "GraphPlan", "GRAPH_FILE", "open_graph", "make_extractor", "graph_path",
           "self_name", "entity_name", "relationship_name"]
