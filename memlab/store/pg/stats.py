"""Per-scope statistics of the PostgreSQL engine: a version per scope that every process sees, and a cache.

BM25 needs corpus figures of the rows a search allows (their number, lengths, the document frequencies
of the vocabulary when some idf is negative: memlab.ranking.bm25). Recounting them on every search costs
a scan of the scope; a cache of them is only right while nobody wrote to the scope, in any process.

``<collection>_scope_stats`` holds one row per *cell*: the memories sharing one exact (user_id,
agent_id, run_id) triple (NULLs included). Statement-level triggers on the memories table (revision
``0004_scope_stats``) keep, in the same transaction as the write, each cell's

- ``writes``: its version: the cell's creation time in microseconds, then +1 per write statement that
  touches one of its rows (insert, update, delete, ``COPY``; ``TRUNCATE`` bumps every cell) -- so it
  only grows, and a cell dropped and created again starts above anything it held before;
- ``n_docs`` / ``total_len`` / ``context_len``: its active rows, Σ their keyword-document lengths,
  Σ their context-document lengths (the context window's terms, else the row's own);
- ``expiring``: its active rows with an ``expiration_date``.

Every write path of the engine goes through the table, so no verb can forget the bookkeeping, and
neither can a user's own SQL. A *scope* (a search filter that is only equalities on scope ids, or no
filter: the whole store) is the union of the cells matching it; its version is Σ writes over them,
read by the search's own statement (no extra round trip). Cells are per triple, not per scope id, so
writers of different users never wait for each other on a counter row; writers of one cell do (a
short row lock until their commit, taken in cell order so it cannot deadlock with itself).

:class:`ScopeCache` maps (scope, expiry date) to ``(version, payload)`` in this process; an entry is
used only while the version the search reads equals the cached one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Optional

from memlab.store import filters as F

SUFFIX = "_scope_stats"
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
CACHE_SCOPES = 4096  # scopes cached per store (least recently used dropped first)

Scope = tuple  # ((field, value), ...) sorted by field; () = the whole store


def upgrade_ddl(t: str) -> list[str]:
    """Revision 0004: the cell table, its triggers, and its backfill from the rows already stored."""
    s = t + SUFFIX
    delta = f"""
        SELECT jsonb_build_array(d.user_id, d.agent_id, d.run_id)::text AS cell, d.user_id, d.agent_id, d.run_id,
               sum(d.n) AS n, sum(d.len) AS len, sum(d.clen) AS clen, sum(d.exp) AS exp
        FROM ({{rows}}) d GROUP BY 1, 2, 3, 4 ORDER BY 1"""
    side = ("SELECT user_id, agent_id, run_id, {sign} * (state = 'active')::int AS n, "
            "{sign} * CASE WHEN state = 'active' THEN cardinality(tokens) ELSE 0 END AS len, "
            "{sign} * CASE WHEN state = 'active' THEN cardinality(coalesce(context_tokens, tokens)) ELSE 0 END AS clen, "
            "{sign} * (state = 'active' AND expiration_date IS NOT NULL)::int AS exp FROM {rows}")
    upsert = f"""INSERT INTO {s} AS s (cell, user_id, agent_id, run_id, writes, n_docs, total_len, context_len, expiring)
        SELECT c.cell, c.user_id, c.agent_id, c.run_id, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
               c.n, c.len, c.clen, c.exp FROM ({delta}) c
        ON CONFLICT (cell) DO UPDATE SET writes = s.writes + 1, n_docs = s.n_docs + excluded.n_docs,
            total_len = s.total_len + excluded.total_len, context_len = s.context_len + excluded.context_len,
            expiring = s.expiring + excluded.expiring"""
    new, old = side.format(sign=1, rows="new_rows"), side.format(sign=-1, rows="old_rows")
    return [
        f"""CREATE TABLE IF NOT EXISTS {s} (
            cell TEXT PRIMARY KEY, user_id TEXT, agent_id TEXT, run_id TEXT,
            writes BIGINT NOT NULL, n_docs BIGINT NOT NULL DEFAULT 0, total_len BIGINT NOT NULL DEFAULT 0,
            context_len BIGINT NOT NULL DEFAULT 0, expiring BIGINT NOT NULL DEFAULT 0)""",
        f"DELETE FROM {s}",
        f"CREATE INDEX IF NOT EXISTS {s}_user ON {s} (user_id)",
        f"CREATE INDEX IF NOT EXISTS {s}_agent ON {s} (agent_id)",
        f"CREATE INDEX IF NOT EXISTS {s}_run ON {s} (run_id)",
        f"""CREATE OR REPLACE FUNCTION {s}_fn() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {upsert.format(rows=new)};
            ELSIF TG_OP = 'UPDATE' THEN
                {upsert.format(rows=new + ' UNION ALL ' + old)};
            ELSIF TG_OP = 'DELETE' THEN
                {upsert.format(rows=old)};
            ELSE  -- TRUNCATE
                UPDATE {s} SET writes = writes + 1, n_docs = 0, total_len = 0, context_len = 0, expiring = 0;
            END IF;
            RETURN NULL;
        END $fn$""",
        # (re)created: an upgrade re-run over a store whose revision record was set back keeps one set
        *(f"DROP TRIGGER IF EXISTS {s}_{k} ON {t}" for k in ("ins", "upd", "del", "trunc")),
        f"CREATE TRIGGER {s}_ins AFTER INSERT ON {t} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {s}_fn()",
        f"CREATE TRIGGER {s}_upd AFTER UPDATE ON {t} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {s}_fn()",
        f"CREATE TRIGGER {s}_del AFTER DELETE ON {t} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {s}_fn()",
        f"CREATE TRIGGER {s}_trunc AFTER TRUNCATE ON {t} FOR EACH STATEMENT EXECUTE FUNCTION {s}_fn()",
        # the backfill: the cells of the rows already stored, as the triggers would have counted them
        upsert.format(rows=side.format(sign=1, rows=t)),
    ]


def downgrade_ddl(t: str) -> list[str]:
    """Back to revision 0003: the triggers, their function and the table go (DROP TABLE drops its indexes)."""
    s = t + SUFFIX
    return [*(f"DROP TRIGGER IF EXISTS {s}_{k} ON {t}" for k in ("ins", "upd", "del", "trunc")),
            f"DROP FUNCTION IF EXISTS {s}_fn()", f"DROP TABLE IF EXISTS {s}"]


def conjuncts(node: Any) -> list:
    if isinstance(node, F.Logic) and node.kind == "and":
        return [leaf for child in node.children for leaf in conjuncts(child)]
    return [node]


def scope_of(node: Any) -> Optional[tuple[Scope, Optional[str]]]:
    """``(scope, expiry date)`` when filter ``node`` allows exactly the active rows of a scope: equalities on
    user_id / agent_id / run_id (none: the whole store), ANDed, optionally with the read path's
    not-expired condition (its date is returned: expiry depends on the day). None for any other filter."""
    if node is None:
        return (), None
    scope: dict[str, str] = {}
    expiry = None
    for leaf in conjuncts(node):
        if isinstance(leaf, F.Cond) and leaf.field in SCOPE_FIELDS and leaf.op == "eq" \
                and isinstance(leaf.value, str) and leaf.value != "*":
            if scope.setdefault(leaf.field, leaf.value) != leaf.value:
                return None
        elif isinstance(leaf, F.Logic) and leaf.kind == "not" and len(leaf.children) == 1 \
                and isinstance(c := leaf.children[0], F.Cond) and c.field == "expiration_date" and c.op == "lt" \
                and isinstance(c.value, str) and expiry in (None, c.value):
            expiry = c.value
        else:
            return None
    return tuple(sorted(scope.items())), expiry


def scope_sql(t: str, scope: Scope) -> tuple[str, dict]:
    """A one-row statement part (a CTE body): the scope's ``version`` (numeric), ``n`` (active rows),
    ``total_len``, ``context_len`` and ``expiring``, summed over its cells."""
    cond = " AND ".join(f"c.{field} = %(scope_{field})s" for field, _ in scope) or "true"
    return (f"SELECT coalesce(sum(c.writes), 0)::numeric AS version, coalesce(sum(c.n_docs), 0)::bigint AS n, "
            f"coalesce(sum(c.total_len), 0)::bigint AS total_len, "
            f"coalesce(sum(c.context_len), 0)::bigint AS context_len, "
            f"coalesce(sum(c.expiring), 0)::bigint AS expiring FROM {t}{SUFFIX} c WHERE {cond}",
            {f"scope_{field}": value for field, value in scope})


class ScopeCache:
    """(scope, expiry date) -> (version, payload dict) of one store, thread-safe, least recently used dropped."""

    def __init__(self, size: int = CACHE_SCOPES):
        self.size = int(size)
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def peek(self, key: Any) -> tuple[Any, Optional[dict]]:
        """(version, payload) cached for ``key``; (None, None) when absent. The caller compares the version
        with the one it reads from the database and reports the outcome with :meth:`count`."""
        with self._lock:
            got = self._d.get(key)
            if got is None:
                return None, None
            self._d.move_to_end(key)
            return got

    def count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def put(self, key: Any, version: Any, payload: dict) -> None:
        with self._lock:
            self._d[key] = (version, payload)
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
