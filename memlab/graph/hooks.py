"""What the ``Memory`` facade asks of graph memory: the scope of a read, and relations on an add's result.

Importing this module never imports the graph engine (``memlab[graph]``).
"""

from __future__ import annotations

from typing import Any, Optional

from memlab.enums import SCOPE_FIELDS


def graph_scope(merged: dict) -> dict:
    """The scope keys of a merged filter dict: relations are scoped like memories, other filters do not apply."""
    return {k: v for k, v in merged.items() if k in SCOPE_FIELDS and isinstance(v, str)}


def attach_relations(graph: Optional[Any], result: Any, plan: Optional[Any], scope: dict, items: list) -> Any:
    """Write the graph plan (linked to this call's memories); mem0's add ``relations`` and problems."""
    if graph is None or plan is None:
        return result
    written = [(i["id"], i["memory"]) for i in items if i.get("event") in ("ADD", "UPDATE")]
    relations = graph.apply(plan, scope, written)
    if isinstance(result, dict):  # v1.0 lists cannot carry relations
        result["relations"] = relations
        if plan.problems:
            result["problems"] = result.get("problems", []) + plan.problems
    return result
