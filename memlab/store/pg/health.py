"""``memlab doctor`` / ``Memory.check()`` on a PostgreSQL store: what PostgreSQL does not already guarantee.

PostgreSQL keeps its own files consistent (WAL, checksums, typed ``vector(N)`` columns), so there is no
index to rebuild and no blob to re-read; these checks look at memlab's own rules instead: the server and
pgvector, the schema revision, the vector size, the rows, history that matches the rows, and the indexes
the schema declares. Each returns ``(check, status, message, ids)`` with status ok | warning | error.
Nothing is repaired here: fix rows with the verbs (update / delete) or SQL, inside a transaction; an
invalid index with ``REINDEX INDEX name``.

:func:`check_collection` runs them on a plain connection and only reads, so ``memlab doctor`` can
examine a store without opening it (opening creates or upgrades tables).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from memlab.enums import MemoryState
from memlab.store.pg import schema as S
from memlab.store.pg.stats import SUFFIX as STATS

MAX_IDS = 20
STATES = tuple(s.value for s in MemoryState)


def _ids(conn: Any, sql: str, params: Any = ()) -> list[str]:
    return [r[0] for r in conn.execute(sql + f" LIMIT {MAX_IDS + 1}", params).fetchall()]


def declared_indexes(t: str, dims: int) -> list[str]:
    """The index names the schema's revision chain creates for collection ``t`` (primary keys aside)."""
    return [m.group(1) for _, ddls in S.revisions(t, dims) for ddl in ddls
            for m in [re.match(r"\s*CREATE INDEX (?:IF NOT EXISTS )?(\w+)", ddl)] if m]


def health(store: Any, embedder_name: Optional[str] = None) -> tuple[list[tuple], dict]:
    """Findings and stats of ``store`` (a :class:`memlab.store.pg.engine.PgStore`)."""
    with store._conn() as conn:
        return check_collection(conn, store.table_name, store.dims, embedder_name)


def check_collection(conn: Any, t: str, dims: Optional[int] = None,
                     embedder_name: Optional[str] = None) -> tuple[list[tuple], dict]:
    """Findings and stats of collection ``t`` through connection ``conn`` (reads only).

    ``dims``: the vector size the caller expects (an open store's); None takes the store's own.
    """
    out: list[tuple] = []
    server = conn.execute("SHOW server_version").fetchone()[0]
    out.append(("server", "ok", f"PostgreSQL {server}, user {conn.info.user!r}, database {conn.info.dbname!r}"))
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = %s", (S.EXTENSION,)).fetchone()
    out.append(("pgvector", "ok" if version else "error",
                f"pgvector {version[0]} enabled" if version else "pgvector extension missing: CREATE EXTENSION vector"))
    meta = dict(conn.execute(f"SELECT key, value FROM {t}_meta").fetchall())
    head = S.head_revision()
    out.append(("schema", "ok" if meta.get("schema_version") == head else "error",
                f"schema {meta.get('schema_version')} (head {head}), table {t!r}"
                + ("" if meta.get("schema_version") == head else ": opening the store as its owner upgrades it")))
    out.append(_dims_finding(conn, t, meta, dims))
    want = dims if dims is not None else S.existing_dims(conn, t) or 1
    rules = [
        ("vectors", "error", "vectors that are not unit length (re-embed them)",
         f"SELECT id FROM {t} WHERE abs(vector_norm(embedding) - 1) > 1e-3"),
        ("rows", "error", "rows with an unknown state",
         f"SELECT id FROM {t} WHERE NOT (state = ANY(%s))"),
        ("rows", "warning", "live memories without user_id / agent_id / run_id",
         f"SELECT id FROM {t} WHERE state <> 'deleted' AND user_id IS NULL AND agent_id IS NULL AND run_id IS NULL"),
        ("rows", "warning", "memories whose hash is not the md5 of their text",
         f"SELECT id FROM {t} WHERE hash <> md5(memory)"),
        ("rows", "error", "metadata that is not a JSON object",
         f"SELECT id FROM {t} WHERE jsonb_typeof(metadata) <> 'object'"),
        ("links", "warning", "category links to missing memories or categories",
         f"SELECT mc.memory_id FROM {t}_memory_categories mc LEFT JOIN {t} m ON m.id = mc.memory_id "
         f"LEFT JOIN {t}_categories c ON c.id = mc.category_id WHERE m.id IS NULL OR c.id IS NULL"),
        # every verb writes a row and its history in one transaction; add_records(history=False) and
        # imports of bare rows are the legitimate exceptions, hence warnings
        ("history", "warning", "memories without any history row",
         f"SELECT m.id FROM {t} m WHERE NOT EXISTS (SELECT 1 FROM {t}_history h WHERE h.memory_id = m.id)"),
        ("history", "warning", "history rows of memories that are not in the store",
         f"SELECT DISTINCT h.memory_id FROM {t}_history h WHERE NOT EXISTS (SELECT 1 FROM {t} m WHERE m.id = h.memory_id)"),
        ("history", "warning", "deleted memories whose last history event is not DELETE",
         f"SELECT m.id FROM {t} m WHERE m.state = 'deleted' AND (SELECT h.event FROM {t}_history h "
         f"WHERE h.memory_id = m.id ORDER BY h.hseq DESC LIMIT 1) IS DISTINCT FROM 'DELETE'"),
    ]
    for check, severity, what, sql in rules:
        ids = _ids(conn, sql, (list(STATES),) if "%s" in sql else ())
        if ids:
            shown = ids[:MAX_IDS]
            out.append((check, severity, f"{len(shown)}{'+' if len(ids) > MAX_IDS else ''} {what}", shown))
        else:
            out.append((check, "ok", f"no {what}", []))
    out.append(_stats_finding(conn, t))
    out.extend(_index_findings(conn, t, want))
    total, active = conn.execute(f"SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM {t}").fetchone()
    events = conn.execute(f"SELECT count(*) FROM {t}_history").fetchone()[0]
    if embedder_name is not None:
        same = meta.get("embedder") == embedder_name
        out.append(("embedder", "ok" if same else "error",
                    f"embedder {embedder_name!r}" + ("" if same else f" differs from the store's {meta.get('embedder')!r}")))
    return out, {"rows": int(total), "active": int(active), "history": int(events),
                 "dims": dims if dims is not None else S.existing_dims(conn, t), "embedder": meta.get("embedder")}


def _dims_finding(conn: Any, t: str, meta: dict, dims: Optional[int]) -> tuple:
    column = S.existing_dims(conn, t)
    recorded = int(meta["dims"]) if str(meta.get("dims", "")).isdigit() else None
    sizes = {"column": column, "recorded": recorded, **({"store": dims} if dims is not None else {})}
    if len(set(sizes.values())) == 1:
        return ("dims", "ok", f"{column}-d vectors (column, recorded{', store' if dims is not None else ''})")
    return ("dims", "error", "vector sizes disagree: " + ", ".join(f"{k} {v}" for k, v in sizes.items())
            + " (the embedder must make vectors of the column's size; see docs/engines.md)")


def _stats_finding(conn: Any, t: str) -> tuple:
    """The per-scope statistics (memlab.store.pg.stats) agree with the rows they count."""
    stats = f"{t}{STATS}"
    if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (stats,)).fetchone()[0]:
        return ("scope stats", "ok", f"no {stats} table (revision before 0004_scope_stats)", [])
    active = "FILTER (WHERE state = 'active')"
    cells = _ids(conn, f"""WITH w AS (SELECT jsonb_build_array(user_id, agent_id, run_id)::text AS cell,
            count(*) {active} AS n, coalesce(sum(cardinality(tokens)) {active}, 0) AS len,
            coalesce(sum(cardinality(coalesce(context_tokens, tokens))) {active}, 0) AS clen,
            count(expiration_date) {active} AS exp FROM {t} GROUP BY 1)
        SELECT coalesce(w.cell, s.cell) FROM w FULL JOIN {stats} s ON s.cell = w.cell
        WHERE (coalesce(w.n, 0), coalesce(w.len, 0), coalesce(w.clen, 0), coalesce(w.exp, 0))
              IS DISTINCT FROM (coalesce(s.n_docs, 0), coalesce(s.total_len, 0), coalesce(s.context_len, 0),
                                coalesce(s.expiring, 0))""")
    if cells:
        return ("scope stats", "error", f"{len(cells[:MAX_IDS])}{'+' if len(cells) > MAX_IDS else ''} scope cells whose "
                "statistics disagree with their rows (its triggers were disabled or dropped?): rebuild them with "
                "`memlab db downgrade -1` then `memlab db upgrade` (or open a Memory on the store)", cells[:MAX_IDS])
    return ("scope stats", "ok", "per-scope statistics agree with the rows", [])


def _index_findings(conn: Any, t: str, dims: int) -> list[tuple]:
    """The declared indexes exist and are valid; an approximate (HNSW / DiskANN) index is reported."""
    found = {name: (valid, method) for name, valid, method in conn.execute(
        "SELECT c.relname, i.indisvalid, am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = ANY(ARRAY[to_regclass(%s), to_regclass(%s), "
        "to_regclass(%s), to_regclass(%s)])", (t, f"{t}_history", f"{t}_memory_categories", f"{t}{STATS}")).fetchall()}
    declared = declared_indexes(t, dims)
    missing = [n for n in declared if n not in found]
    invalid = [n for n, (valid, _) in found.items() if not valid]
    out = []
    if missing:
        out.append(("indexes", "warning", f"missing indexes {', '.join(missing)}: searches and scoped reads scan "
                    "the table (recreate them with the DDL in memlab/store/pg/schema.py)", []))
    if invalid:
        out.append(("indexes", "error", f"invalid indexes {', '.join(invalid)} (a failed build): "
                    f"REINDEX INDEX {invalid[0]}", []))
    if not missing and not invalid:
        out.append(("indexes", "ok", f"{len(declared)} declared indexes present and valid", []))
    approx = sorted(f"{n} ({m})" for n, (_, m) in found.items() if m in ("hnsw", "ivfflat", "diskann"))
    out.append(("indexes", "ok", "approximate index: " + (", ".join(approx) if approx else "none (exact search)"), []))
    return out
