"""The embedded graph engine: LadybugDB (Kùzu's maintained continuation) through Cypher.

One node table ``Entity`` and one relationship table ``RELATES`` (the relationship's name is a
property, as in mem0's kuzu graph), so new relationship names never change the schema. Every
node carries its scope (``user_id`` / ``agent_id`` / ``run_id``; ``""`` when absent) and its key is
``scope + name``, so the same name in two scopes is two nodes and an edge never crosses scopes.
Relationships keep the ids of the memories they were extracted with (``memory_ids``), which is
what graph-augmented search ranks by. docs/graph.md explains why LadybugDB and not ``kuzu``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional

from memlab.errors import ConfigError, MemlabError

SCOPE_KEYS = ("user_id", "agent_id", "run_id")
_SEP = "\x1f"  # unit separator: cannot occur in validated ids (control characters are rejected)

_SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Entity(key STRING PRIMARY KEY, name STRING, entity_type STRING, "
    "user_id STRING, agent_id STRING, run_id STRING, created STRING, mentions INT64)",
    "CREATE REL TABLE IF NOT EXISTS RELATES(FROM Entity TO Entity, name STRING, memory_ids STRING[], "
    "created STRING, updated STRING, mentions INT64)",
)


class GraphEngineError(MemlabError):
    """The graph database failed (corrupt file, locked by another process, ...)."""


def load_ladybug():
    """The ``ladybug`` module, or a ConfigError naming the extra that brings it."""
    try:
        import ladybug
    except ImportError:
        raise ConfigError(
            "Graph memory (graph_store) needs the embedded graph engine: pip install 'memlab[graph]' "
            "(it installs the 'ladybug' package, LadybugDB)."
        ) from None
    return ladybug


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def scope_tuple(scope: dict) -> tuple[str, str, str]:
    """(user_id, agent_id, run_id) with "" for absent values: the engine's exact scope."""
    return tuple(str(scope.get(k) or "") for k in SCOPE_KEYS)  # type: ignore[return-value]


def node_key(scope: dict, name: str) -> str:
    return _SEP.join((*scope_tuple(scope), name))


def _where(scope: dict, var: str, params: dict) -> str:
    """Cypher conditions selecting nodes of ``scope`` (given keys only; "*" = any non-empty value)."""
    parts = []
    for k in SCOPE_KEYS:
        value = scope.get(k)
        if value is None:
            continue
        if value == "*":
            parts.append(f"{var}.{k} <> ''")
        else:
            params[f"s_{k}"] = str(value)
            parts.append(f"{var}.{k} = $s_{k}")
    return " AND ".join(parts) if parts else "true"


class GraphEngine:
    """A LadybugDB database holding the entity graphs of every scope.

    Args:
        path: database file; ``None`` keeps the graph in memory.
    """

    def __init__(self, path: Optional[str] = None):
        lb = load_ladybug()
        self.path = str(path) if path else None
        if self.path:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        try:
            self._db = lb.Database(self.path)  # None = in memory
            self._conn = lb.Connection(self._db)
            for stmt in _SCHEMA:
                self._conn.execute(stmt)
        except RuntimeError as exc:
            hint = (" Another process has this graph open: LadybugDB lets one process at a time open a database "
                    "file (the memories in memlab.db can be shared between processes, the graph cannot)."
                    if "lock" in str(exc).lower() else "")
            raise GraphEngineError(f"Cannot open the graph database {self.path or ':memory:'}: {exc}.{hint}") from None

    # ------------------------------------------------------------------ low level
    def query(self, cypher: str, params: Optional[dict] = None) -> list[dict]:
        """Run one Cypher statement; rows as dicts."""
        with self.lock:
            try:
                result = self._conn.execute(cypher, params or {})
                return list(result.rows_as_dict())
            except RuntimeError as exc:
                raise GraphEngineError(f"Graph query failed: {exc}") from None

    def transaction(self):
        return _Transaction(self)

    def close(self) -> None:
        with self.lock:
            for obj in (getattr(self, "_conn", None), getattr(self, "_db", None)):
                if obj is not None:
                    obj.close()
            self._conn = self._db = None

    # ------------------------------------------------------------------ writes
    def add_relation(self, scope: dict, source: str, relationship: str, destination: str, *,
                     source_type: str = "entity", destination_type: str = "entity",
                     memory_ids: Iterable[str] = (), now: Optional[str] = None) -> bool:
        """Merge both nodes and the edge; returns True when the edge is new."""
        now = now or now_iso()
        user_id, agent_id, run_id = scope_tuple(scope)
        for name, etype in ((source, source_type), (destination, destination_type)):
            self.query(
                "MERGE (n:Entity {key: $key}) ON CREATE SET n.name = $name, n.entity_type = $etype, "
                "n.user_id = $u, n.agent_id = $a, n.run_id = $r, n.created = $now, n.mentions = 1 "
                "ON MATCH SET n.mentions = n.mentions + 1",
                {"key": node_key(scope, name), "name": name, "etype": etype, "u": user_id, "a": agent_id,
                 "r": run_id, "now": now})
        params = {"s": node_key(scope, source), "d": node_key(scope, destination), "rel": relationship}
        existed = self.query("MATCH (a:Entity {key: $s})-[r:RELATES {name: $rel}]->(b:Entity {key: $d}) "
                             "RETURN count(r) AS n", params)[0]["n"] > 0
        self.query(
            "MATCH (a:Entity {key: $s}), (b:Entity {key: $d}) MERGE (a)-[r:RELATES {name: $rel}]->(b) "
            "ON CREATE SET r.memory_ids = $ids, r.created = $now, r.updated = $now, r.mentions = 1 "
            "ON MATCH SET r.memory_ids = list_distinct(list_concat(r.memory_ids, $ids)), r.updated = $now, "
            "r.mentions = r.mentions + 1",
            {**params, "ids": [str(i) for i in memory_ids], "now": now})
        return not existed

    def delete_relation(self, scope: dict, source: str, relationship: str, destination: str) -> bool:
        """Delete one edge of the exact scope; True if it existed."""
        params = {"s": node_key(scope, source), "d": node_key(scope, destination), "rel": relationship}
        match = "MATCH (a:Entity {key: $s})-[r:RELATES {name: $rel}]->(b:Entity {key: $d}) "
        if self.query(match + "RETURN count(r) AS n", params)[0]["n"] == 0:
            return False
        self.query(match + "DELETE r", params)
        return True

    def set_memory_ids(self, scope: dict, source: str, relationship: str, destination: str,
                       memory_ids: list[str]) -> None:
        """Replace the memory links of one edge of the exact scope."""
        self.query("MATCH (a:Entity {key: $s})-[r:RELATES {name: $rel}]->(b:Entity {key: $d}) "
                   "SET r.memory_ids = $ids",
                   {"s": node_key(scope, source), "d": node_key(scope, destination), "rel": relationship,
                    "ids": [str(i) for i in memory_ids]})

    def delete_scope(self, scope: dict) -> int:
        """Remove every node (and edge) of a scope; returns the number of nodes removed."""
        params: dict = {}
        cond = _where(scope, "n", params)
        n = self.query(f"MATCH (n:Entity) WHERE {cond} RETURN count(n) AS n", params)[0]["n"]
        self.query(f"MATCH (n:Entity) WHERE {cond} DETACH DELETE n", params)
        return n

    def wipe(self) -> None:
        self.query("MATCH (n:Entity) DETACH DELETE n")

    # ------------------------------------------------------------------ reads
    _REL_COLUMNS = ("a.name AS source, r.name AS relationship, b.name AS destination, "
                    "a.entity_type AS source_type, b.entity_type AS destination_type, r.memory_ids AS memory_ids, "
                    "r.created AS created, r.updated AS updated, r.mentions AS mentions, "
                    "a.user_id AS user_id, a.agent_id AS agent_id, a.run_id AS run_id")

    def relations(self, scope: dict, limit: Optional[int] = None) -> list[dict]:
        """Every edge of the scope, oldest first."""
        params: dict = {}
        cond = _where(scope, "a", params)
        cypher = f"MATCH (a:Entity)-[r:RELATES]->(b:Entity) WHERE {cond} RETURN {self._REL_COLUMNS} " \
                 "ORDER BY r.created, a.name, r.name, b.name"
        if limit is not None:
            cypher += " LIMIT $limit"
            params["limit"] = int(limit)
        return self.query(cypher, params)

    def relations_touching(self, scope: dict, names: Iterable[str]) -> list[dict]:
        """Edges of the scope with a source or destination among ``names``."""
        names = sorted(set(names))
        if not names:
            return []
        params: dict = {"names": names}
        cond = _where(scope, "a", params)
        return self.query(
            f"MATCH (a:Entity)-[r:RELATES]->(b:Entity) WHERE {cond} AND (a.name IN $names OR b.name IN $names) "
            f"RETURN {self._REL_COLUMNS} ORDER BY r.created, a.name, r.name, b.name", params)

    def entity_names(self, scope: dict) -> list[str]:
        params: dict = {}
        cond = _where(scope, "n", params)
        return sorted({r["name"] for r in self.query(f"MATCH (n:Entity) WHERE {cond} RETURN n.name AS name", params)})

    def count(self) -> dict:
        nodes = self.query("MATCH (n:Entity) RETURN count(n) AS n")[0]["n"]
        edges = self.query("MATCH ()-[r:RELATES]->() RETURN count(r) AS n")[0]["n"]
        return {"entities": nodes, "relations": edges}


class _Transaction:
    """``with engine.transaction():`` — one LadybugDB write transaction (rolled back on error)."""

    def __init__(self, engine: GraphEngine):
        self.engine = engine

    def __enter__(self) -> GraphEngine:
        self.engine.lock.acquire()
        try:
            self.engine.query("BEGIN TRANSACTION")
        except BaseException:
            self.engine.lock.release()
            raise
        return self.engine

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.engine.query("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.engine.lock.release()


__all__ = ["GraphEngine", "GraphEngineError", "load_ladybug", "node_key", "scope_tuple", "SCOPE_KEYS"]

