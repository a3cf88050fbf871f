"""``memlab doctor`` / ``Memory.check()`` on a PostgreSQL store: what PostgreSQL does not already guarantee.

PostgreSQL keeps its own files consistent (WAL, checksums, typed ``vector(N)`` columns), so there is no
index to rebuild and no blob to re-read; these checks look at memlab's own rules instead. Each returns
``(check, status, message, ids)`` with status ok | warning | error. Nothing is repaired here: fix rows
with the verbs (update / delete) or SQL, inside a transaction.
"""

from __future__ import annotations

from typing import Any

from memlab.enums import MemoryState
from memlab.store.pg import schema as S

MAX_IDS = 20
STATES = tuple(s.value for s in MemoryState)


def _ids(conn: Any, sql: str, params: Any = ()) -> list[str]:
    return [r[0] for r in conn.execute(sql + f" LIMIT {MAX_IDS + 1}", params).fetchall()]


def health(store: Any, embedder_name: str | None = None) -> tuple[list[tuple], dict]:
    """Findings and stats of ``store`` (a :class:`memlab.store.pg.engine.PgStore`)."""
    t = store.table_name
    out: list[tuple] = []
    with store._conn() as conn:
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = %s", (S.EXTENSION,)).fetchone()
        out.append(("pgvector", "ok" if version else "error",
                    f"pgvector {version[0]} enabled" if version else "pgvector extension missing: CREATE EXTENSION vector"))
        meta = dict(conn.execute(f"SELECT key, value FROM {t}_meta").fetchall())
        head = S.head_revision()
        out.append(("schema", "ok" if meta.get("schema_version") == head else "error",
                    f"schema {meta.get('schema_version')} (head {head}), table {t!r}"))
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
        ]
        for check, severity, what, sql in rules:
            ids = _ids(conn, sql, (list(STATES),) if "%s" in sql else ())
            if ids:
                shown = ids[:MAX_IDS]
                out.append((check, severity, f"{len(shown)}{'+' if len(ids) > MAX_IDS else ''} {what}", shown))
            else:
                out.append((check, "ok", f"no {what}", []))
        total, active = conn.execute(f"SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM {t}").fetchone()
    if embedder_name is not None:
        same = meta.get("embedder") == embedder_name
        out.append(("embedder", "ok" if same else "error",
                    f"embedder {embedder_name!r}" + ("" if same else f" differs from the store's {meta.get('embedder')!r}")))
    return out, {"rows": int(total), "active": int(active), "dims": store.dims}
