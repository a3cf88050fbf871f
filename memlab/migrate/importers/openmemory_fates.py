"""Where every table and column of an OpenMemory database goes on import (mem0's
``openmemory/api/app/models.py``). :func:`source_fates` turns this map plus the tables and columns
a database really has into the report rows of :class:`~memlab.migrate.importers.report.ImportReport`,
so nothing of the source is dropped without a word: a column memlab does not know is listed as such.
"""

from __future__ import annotations

import sqlite3

USERS_CFG = "configs['openmemory:users']"
APPS_CFG = "configs['openmemory:apps']"
KEPT_TABLE = "configs['openmemory:table:{table}'] (rows verbatim; memlab has no equivalent table)"

FATES: dict[str, dict[str, str]] = {
    "users": {
        "id": f"{USERS_CFG}.id (memories are scoped by the user_id string)",
        "user_id": f"memories.user_id of the user's memories; {USERS_CFG}.user_id",
        "name": f"{USERS_CFG}.name", "email": f"{USERS_CFG}.email", "metadata": f"{USERS_CFG}.metadata",
        "created_at": f"{USERS_CFG}.created_at", "updated_at": f"{USERS_CFG}.updated_at",
    },
    "apps": {
        "id": f"memories.metadata['app_id']; {APPS_CFG}.id", "owner_id": f"{APPS_CFG}.owner (the owner's user_id)",
        "name": f"memories.metadata['app']; {APPS_CFG}.name", "description": f"{APPS_CFG}.description",
        "metadata": f"{APPS_CFG}.metadata", "is_active": f"{APPS_CFG}.is_active",
        "created_at": f"{APPS_CFG}.created_at", "updated_at": f"{APPS_CFG}.updated_at",
    },
    "configs": {
        "id": "configs['openmemory:config_id:<key>']", "key": "configs key 'openmemory:config:<key>'",
        "value": "configs['openmemory:config:<key>'].value", "created_at": "configs.created_at",
        "updated_at": "configs.updated_at",
    },
    "memories": {
        "id": "memories.id", "user_id": "memories.user_id (the user's user_id string)",
        "app_id": "memories.metadata['app_id'] (+ metadata['app'] = the app's name)", "content": "memories.memory",
        "vector": "not imported: OpenMemory keeps vectors in its vector store (this column is normally NULL); texts are "
                  "embedded with the target's embedder",
        "metadata": "memories.metadata", "state": "memories.state (items' state)",
        "created_at": "memories.created_at", "updated_at": "memories.updated_at",
        "archived_at": "memories.archived_at", "deleted_at": "memories.deleted_at",
    },
    "categories": {c: f"categories.{c}" for c in ("id", "name", "description", "created_at", "updated_at")},
    "memory_categories": {"memory_id": "memory_categories.memory_id (items' categories)",
                          "category_id": "memory_categories.category_id"},
    "memory_status_history": {
        "id": "history.id", "memory_id": "history.memory_id",
        "changed_by": "history.actor_id (the changing user's user_id)",
        "old_state": "history.event (ADD for the creation row, STATE:old->new, DELETE)",
        "new_state": "history.event", "changed_at": "history.updated_at",
    },
}
TABLE_FATES = {
    "users": "configs['openmemory:users'] + the scope of their memories",
    "apps": "configs['openmemory:apps'] + memories.metadata['app'/'app_id']",
    "configs": "configs['openmemory:config:<key>']",
    "memories": "memories",
    "categories": "categories",
    "memory_categories": "memory_categories (items' categories)",
    "memory_status_history": "history",
}
# Tables memlab has no use for, kept verbatim so an export/round trip still carries them.
VERBATIM = ("memory_access_logs", "access_controls", "archive_policies")


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def source_fates(conn: sqlite3.Connection, tables: set) -> list[dict]:
    """One row per source table and column: ``table``, ``column`` (None for the table row), ``rows``, ``fate``."""
    out = []
    for table in sorted(tables):
        if table.startswith("sqlite_"):
            continue
        rows = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        known = FATES.get(table)
        fate = TABLE_FATES.get(table) or KEPT_TABLE.format(table=table)
        if table not in TABLE_FATES and table not in VERBATIM:
            fate += " - a table memlab's importer does not know"
        out.append({"table": table, "column": None, "rows": rows, "fate": fate})
        for column in table_columns(conn, table):
            if known is None:
                col_fate = f"kept verbatim with its table ({KEPT_TABLE.format(table=table).split(' (')[0]})"
            else:
                col_fate = known.get(column) or "NOT IMPORTED: a column memlab's importer does not know"
            out.append({"table": table, "column": column, "rows": rows, "fate": col_fate})
    return out


def verbatim_rows(conn: sqlite3.Connection, table: str) -> list[dict]:
    """Every row of a table as JSON-able dicts (bytes as hex)."""
    cur = conn.execute(f'SELECT * FROM "{table}"')
    cols = [d[0] for d in cur.description]
    return [{c: (v.hex() if isinstance(v, bytes) else v) for c, v in zip(cols, r)} for r in cur]
