"""``GraphMemory``: entity relations next to the memories, with mem0's graph verbs and shapes.

``Memory`` calls it in a few places: ``plan`` (the LLM work, before anything is written),
``apply`` (after the memories are written), ``search`` / ``get_all`` / ``delete_all`` /
``reset``. Scopes are those of the memories: writes go to the exact scope of the ``add`` call;
reads match the scope keys that are given (``user_id="u"`` sees every agent/run of ``u``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from memlab.graph.engine import SCOPE_KEYS, GraphEngine
from memlab.graph.normalize import clean_triples, display, entity_name

GRAPH_FILE = "graph.lbug"
NEIGHBOUR_WEIGHT = 0.5  # a relation of a query entity's neighbour counts half a direct one
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class GraphPlan:
    """What one ``add`` will do to the graph (computed before any write)."""

    entities: dict = field(default_factory=dict)
    to_add: list = field(default_factory=list)
    to_delete: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    trace: list = field(default_factory=list)


def _stems(text: str) -> set[str]:
    """Crude suffix-stripped word stems ("live", "lives", "lived", "living" -> "liv") for ranking relations."""
    out = set()
    for word in _TOKEN.findall(text.lower()):
        for suffix in ("ing", "es", "ed", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        out.add(word[:-1] if word.endswith("e") and len(word) > 3 else word)
    return out


def link_memories(triple: dict, memories: list[tuple[str, str]]) -> list[str]:
    """Ids of the memories whose text names the relation's source or destination (else all)."""
    names = {f" {display(triple['source'])} ", f" {display(triple['destination'])} "}
    named = [mid for mid, text in memories
             if any(n in " " + " ".join(_TOKEN.findall(text.lower())) + " " for n in names)]
    return named or [mid for mid, _ in memories]


def exact_scope(scope: dict) -> dict:
    """The write scope: every key present, ``""`` where the add call gave none."""
    return {k: scope.get(k) or "" for k in SCOPE_KEYS}


def self_name(scope: dict) -> Optional[str]:
    """The entity that 'I' / 'me' / 'my' stand for: the user id (mem0), else the agent or run id."""
    for key in SCOPE_KEYS:
        if scope.get(key) and scope[key] != "*":
            return entity_name(scope[key])
    return None


def graph_path(db: Optional[str], store_path: Optional[str]) -> Optional[str]:
    """Where the graph lives: ``db`` if given (":memory:" = in memory), else beside memlab.db, else in memory."""
    if db == ":memory:":
        return None
    if db:
        return str(Path(db).expanduser())
    return str(Path(store_path) / GRAPH_FILE) if store_path else None


class GraphMemory:
    """Entity graph of a Memory.

    Args:
        engine: the :class:`GraphEngine` holding the graph.
        extractor_factory: builds the extractor (rules or tool calls) on first use, so a Memory
            whose LLM is remote does not contact it until the graph needs it.
    """

    def __init__(self, engine: GraphEngine, extractor_factory: Callable[[], Any]):
        self.engine = engine
        self._factory = extractor_factory
        self._extractor = None
        self._last_query: Optional[tuple] = None  # (query key, extracted entities) of the latest query

    @property
    def extractor(self):
        if self._extractor is None:
            self._extractor = self._factory()
        return self._extractor

    # ------------------------------------------------------------------ add
    def plan(self, messages: list[dict], scope: dict) -> GraphPlan:
        """Ask the extractor what the messages add and delete (mem0's three steps); writes nothing."""
        text = "\n".join(m["content"] for m in messages
                         if m.get("role") not in ("system", "assistant") and m.get("content", "").strip())
        plan = GraphPlan()
        if not text.strip():
            return plan
        me = self_name(scope)
        ex = self.extractor
        if hasattr(ex, "problems"):
            ex.problems, ex.calls = [], []
        plan.entities = ex.entities(text, me)
        plan.to_add = clean_triples(ex.relations(text, me, plan.entities), self_name=me)  # custom extractors too
        names = set(plan.entities) | {t["source"] for t in plan.to_add} | {t["destination"] for t in plan.to_add}
        existing = self.engine.relations_touching(exact_scope(scope), names)
        existing = [{k: r[k] for k in ("source", "relationship", "destination")} for r in existing]
        current = {(r["source"], r["relationship"], r["destination"]) for r in existing}
        plan.to_delete = [d for d in clean_triples(ex.deletions(existing, text, me, plan.to_add), self_name=me)
                          if (d["source"], d["relationship"], d["destination"]) in current]
        if hasattr(ex, "problems"):
            plan.problems, plan.trace = list(ex.problems), list(ex.calls)
        return plan

    def apply(self, plan: GraphPlan, scope: dict, memories: list[tuple[str, str]]) -> dict:
        """Write a plan in one graph transaction; mem0's ``{"added_entities", "deleted_entities"}``.

        As in mem0, each entry is a one-element list ``[{"source", "relationship", "target"}]``.
        ``memories`` are the ``(id, text)`` pairs this add wrote: a relation is linked to those whose
        text names its source or destination (all of them when none does), for graph-fused search.
        """
        scope = exact_scope(scope)
        added, deleted = [], []
        with self.engine.transaction():
            for d in plan.to_delete:
                if self.engine.delete_relation(scope, d["source"], d["relationship"], d["destination"]):
                    deleted.append([{"source": d["source"], "relationship": d["relationship"],
                                     "target": d["destination"]}])
            for t in plan.to_add:
                self.engine.add_relation(scope, t["source"], t["relationship"], t["destination"],
                                         source_type=t.get("source_type", "entity"),
                                         destination_type=t.get("destination_type", "entity"),
                                         memory_ids=link_memories(t, memories))
                added.append([{"source": t["source"], "relationship": t["relationship"], "target": t["destination"]}])
        return {"added_entities": added, "deleted_entities": deleted}

    # ------------------------------------------------------------------ reads
    def get_all(self, scope: dict, limit: int = 100) -> list[dict]:
        """Relations of a scope, oldest first: ``source, relationship, destination`` (+ mem0's ``target``)."""
        return [{"source": r["source"], "relationship": r["relationship"], "destination": r["destination"],
                 "target": r["destination"]} for r in self.engine.relations(scope, limit)]

    def query_entities(self, query: str, scope: dict) -> list[str]:
        """Entities of the query that exist in the scope: the extractor's, plus known names in the text."""
        known = self.engine.entity_names(scope)
        if not known:
            return []
        key = (query, tuple(sorted(scope.items())))
        if self._last_query is None or self._last_query[0] != key:  # search + graph=True ask once, not twice
            self._last_query = (key, dict(self.extractor.entities(query, self_name(scope))))
        found = set(self._last_query[1]) & set(known)
        low = " " + " ".join(_TOKEN.findall(query.lower())) + " "
        found |= {n for n in known if f" {display(n)} " in low}
        return sorted(found)

    def neighbourhood(self, query: str, scope: dict) -> list[tuple[dict, float]]:
        """Relations of the query's entities (weight 1) and of their one-hop neighbours (weight 0.5)."""
        names = self.query_entities(query, scope)
        direct = self.engine.relations_touching(scope, names)
        seen = {(r["source"], r["relationship"], r["destination"], r["user_id"], r["agent_id"], r["run_id"])
                for r in direct}
        neighbours = ({r["source"] for r in direct} | {r["destination"] for r in direct}) - set(names)
        second = [r for r in self.engine.relations_touching(scope, neighbours)
                  if (r["source"], r["relationship"], r["destination"], r["user_id"], r["agent_id"],
                      r["run_id"]) not in seen]
        return [(r, 1.0) for r in direct] + [(r, NEIGHBOUR_WEIGHT) for r in second]

    def search(self, query: str, scope: dict, limit: int = 100) -> list[dict]:
        """Relations around the query's entities, ranked: direct before neighbours' relations, then by
        the share of query words the relation contains; ``[{"source", "relationship", "destination"}]``."""
        words = _stems(query)
        ranked, seen = [], set()
        for order, (r, weight) in enumerate(self.neighbourhood(query, scope)):
            key = (r["source"], r["relationship"], r["destination"])
            if key in seen:  # the same triple in two runs of one user: shown once
                continue
            seen.add(key)
            rel_words = _stems(" ".join(key).replace("_", " "))
            overlap = len(words & rel_words) / (len(rel_words) or 1)
            ranked.append((-(weight + overlap), order, key))
        ranked.sort()
        return [{"source": s, "relationship": rel, "destination": d} for _, _, (s, rel, d) in ranked[:limit]]

    def linked_memories(self, query: str, scope: dict) -> dict[str, float]:
        """Memory ids linked to the query's entities (1 per relation) and their neighbours (0.5 per relation)."""
        out: dict[str, float] = {}
        for r, weight in self.neighbourhood(query, scope):
            for mid in r.get("memory_ids") or []:
                out[mid] = out.get(mid, 0.0) + weight
        return out

    # ------------------------------------------------------------------ removal, export
    def delete_all(self, scope: dict) -> int:
        return self.engine.delete_scope(scope)

    def forget(self, memory_ids: set, scope: dict) -> list[dict]:
        """Unlink deleted memories from the scope's relations; a relation left without any memory goes.

        Returns the removed relations as ``{"source", "relationship", "destination"}``.
        """
        ids = {str(i) for i in memory_ids}
        rows = [r for r in self.engine.relations(scope) if ids & set(r["memory_ids"] or [])]
        removed = []
        with self.engine.transaction():
            for r in rows:
                exact = {k: r[k] for k in SCOPE_KEYS}
                keep = [m for m in r["memory_ids"] if m not in ids]
                if keep:
                    self.engine.set_memory_ids(exact, r["source"], r["relationship"], r["destination"], keep)
                else:
                    self.engine.delete_relation(exact, r["source"], r["relationship"], r["destination"])
                    removed.append({k: r[k] for k in ("source", "relationship", "destination")})
        return removed

    def reset(self) -> None:
        self.engine.wipe()

    def export_relations(self, scopes: Optional[set] = None) -> list[dict]:
        """Relations as plain records for memlab's export: all, or those whose exact scope
        ``(user_id, agent_id, run_id)`` (``""`` for absent) is in ``scopes``."""
        rows = [r for r in self.engine.relations({})
                if scopes is None or (r["user_id"], r["agent_id"], r["run_id"]) in scopes]
        keys = ("source", "relationship", "destination", "source_type", "destination_type", "memory_ids",
                "created", "updated", "mentions")
        out = []
        for r in rows:
            rec = {k: r[k] for k in keys}
            rec.update({k: r[k] or None for k in SCOPE_KEYS})
            out.append(rec)
        return out

    def import_relations(self, records: list) -> tuple[int, list[str]]:
        """Write exported relation records in one transaction: (number written, reasons of skipped ones).

        Names are normalised again, so records written by hand import the same way as exported ones.
        """
        valid, skipped = [], []
        for n, rec in enumerate(records if isinstance(records, list) else [], 1):
            parts = clean_triples([rec]) if isinstance(rec, dict) else []
            scope = {k: rec.get(k) for k in SCOPE_KEYS} if isinstance(rec, dict) else {}
            if not parts or not any(isinstance(v, str) and v for v in scope.values()):
                skipped.append(f"relation {n} lacks source/relationship/destination or a scope")
                continue
            ids = rec.get("memory_ids")
            valid.append((scope, {**rec, **parts[0]}, [str(i) for i in ids] if isinstance(ids, list) else []))
        with self.engine.transaction():
            for scope, rec, ids in valid:
                self.engine.add_relation(exact_scope(scope), rec["source"], rec["relationship"], rec["destination"],
                                         source_type=str(rec.get("source_type") or "entity"),
                                         destination_type=str(rec.get("destination_type") or "entity"),
                                         memory_ids=ids, now=str(rec.get("created") or "") or None)
        return len(valid), skipped

    def to_networkx(self, scope: dict):
        """A ``networkx.MultiDiGraph`` of a scope's relations (for drawing)."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for r in self.engine.relations(scope):
            g.add_node(r["source"], entity_type=r["source_type"])
            g.add_node(r["destination"], entity_type=r["destination_type"])
            g.add_edge(r["source"], r["destination"], key=r["relationship"], relationship=r["relationship"])
        return g

    def close(self) -> None:
        self.engine.close()
