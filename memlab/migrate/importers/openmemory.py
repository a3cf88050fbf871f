"""Import an OpenMemory SQLite database (users, apps, memories, categories, status history).

OpenMemory (mem0's MCP server) keeps its own SQLAlchemy tables: UUIDs as 32-char hex, naive UTC
datetimes and the state enum by name. Each memory becomes a memlab memory of its user
(``user_id`` = OpenMemory's user string) with ``metadata["app"]``/``["app_id"]`` naming the app,
its state and archived/deleted times, its categories (schema 0002 tables; items carry them as
``categories``) and its status history (``ADD`` for creation, ``STATE:old->new`` / ``DELETE`` for
changes). Users, apps and configs are kept in the store's ``configs`` table under ``openmemory:*``
keys, and the tables memlab has no use for (access logs, access controls, archive policies, or any
table it does not know) verbatim under ``openmemory:table:<name>``. ``report.fates`` says where every
source table and column went (see :mod:`memlab.migrate.importers.openmemory_fates`).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from memlab.errors import MigrationError
from memlab.migrate.importers.base import ImportBatch, Importer, run_import
from memlab.migrate.importers.report import ImportReport
from memlab.migrate.importers.openmemory_fates import FATES, TABLE_FATES, source_fates, verbatim_rows

STATES = ("active", "paused", "archived", "deleted")


def _uuid(value: Any) -> Optional[str]:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def _time(value: Any) -> Optional[str]:
    """OpenMemory's naive-UTC datetimes as ISO 8601 with +00:00."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat()


def _json(value: Any) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _rows(conn: sqlite3.Connection, sql: str) -> list[dict]:
    cur = conn.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur]


class OpenMemoryImporter(Importer):
    """An OpenMemory SQLite database (``openmemory.db``), opened read-only."""

    name = "openmemory"
    kind = "OpenMemory"
    source_help = "its SQLite db"

    def read(self, source: Any, into: Any) -> ImportBatch:
        p = Path(source)
        if not p.is_file():
            raise MigrationError(f"OpenMemory database {str(p)!r} does not exist.")
        try:
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise MigrationError(f"{p} is not a readable SQLite database ({exc}).") from None
        try:
            missing = {"users", "apps", "memories"} - tables
            if missing:
                raise MigrationError(f"{p} lacks OpenMemory table(s) {sorted(missing)}; is it an OpenMemory database?")
            return _read(conn, tables, str(p), self.kind)
        except sqlite3.DatabaseError as exc:
            raise MigrationError(f"{p}: cannot read OpenMemory tables ({exc}).") from None
        finally:
            conn.close()


def import_openmemory(path: Any, into: Any, *, on_conflict: str = "error") -> ImportReport:
    """Import an OpenMemory ``openmemory.db`` into ``into`` (atomically)."""
    return run_import(OpenMemoryImporter(), path, into, on_conflict=on_conflict)


def _read(conn: sqlite3.Connection, tables: set, source: str, kind: str) -> ImportBatch:
    report = ImportReport(source=source, kind=kind)
    report.fates = source_fates(conn, tables)
    for f in report.fates:
        if f["column"] is not None and f["fate"].startswith("NOT IMPORTED") and f["rows"]:
            report.warnings.append(f"{f['table']}.{f['column']} ({f['rows']} rows) not imported: memlab's importer "
                                   "does not know this column")
    users = {u["id"]: u for u in _rows(conn, "SELECT * FROM users")}
    apps = {a["id"]: a for a in _rows(conn, "SELECT * FROM apps")}
    cats, links = {}, {}
    if {"categories", "memory_categories"} <= tables:
        cats = {c["id"]: c for c in _rows(conn, "SELECT * FROM categories")}
        for link in _rows(conn, "SELECT memory_id, category_id FROM memory_categories"):
            if link["category_id"] in cats:
                links.setdefault(link["memory_id"], []).append(cats[link["category_id"]]["name"])
            else:
                report.repair(_uuid(link["memory_id"]), "category_missing",
                              f"link to category {_uuid(link['category_id'])}, which is not in categories; dropped")
    status: dict = {}
    if "memory_status_history" in tables:
        for row in _rows(conn, "SELECT * FROM memory_status_history ORDER BY changed_at, rowid"):
            status.setdefault(row["memory_id"], []).append(row)
    records = []
    for m in _rows(conn, "SELECT * FROM memories ORDER BY created_at, rowid"):
        mid = _uuid(m["id"])
        user = users.get(m["user_id"])
        if user is None or not user.get("user_id"):
            report.skip(mid, f"memory's user {_uuid(m['user_id'])} is not in the users table")
            continue
        state = (m.get("state") or "active").lower()
        if state not in STATES:
            report.skip(mid, f"unknown state {m.get('state')!r}")
            continue
        app = apps.get(m["app_id"])
        meta = _json(m.get("metadata")) or {}
        if not isinstance(meta, dict):
            meta = {"openmemory_metadata": meta}
        if app is not None:
            meta = {**meta, "app": app["name"], "app_id": _uuid(app["id"])}
        else:
            report.repair(mid, "app_missing", f"app {_uuid(m['app_id'])} not found; no app in metadata")
        rec = {"id": mid, "memory": m["content"], "user_id": user["user_id"], "metadata": meta, "state": state,
               "created_at": _time(m.get("created_at")), "updated_at": _time(m.get("updated_at")),
               "archived_at": _time(m.get("archived_at")), "deleted_at": _time(m.get("deleted_at")),
               "categories": sorted(links.get(m["id"], []))}
        rec["history"] = _history(rec, status.get(m["id"], []), users)
        if m.get("vector") is not None:
            report.repair(mid, "vector_not_reused", "the SQLite vector column is set but its model is unknown; "
                          "the text was embedded with the target's embedder")
        records.append(rec)
    configs = [{"key": "openmemory:users", "value": [
        {"id": _uuid(u["id"]), "user_id": u["user_id"], "name": u.get("name"), "email": u.get("email"),
         "metadata": _json(u.get("metadata")), "created_at": _time(u.get("created_at")),
         "updated_at": _time(u.get("updated_at"))} for u in users.values()]},
        {"key": "openmemory:apps", "value": [
            {"id": _uuid(a["id"]), "owner": users.get(a["owner_id"], {}).get("user_id"), "name": a["name"],
             "description": a.get("description"), "is_active": bool(a.get("is_active")),
             "metadata": _json(a.get("metadata")), "created_at": _time(a.get("created_at")),
             "updated_at": _time(a.get("updated_at"))} for a in apps.values()]}]
    if "configs" in tables:
        for c in _rows(conn, "SELECT * FROM configs"):
            configs.append({"key": f"openmemory:config:{c['key']}", "value": _json(c["value"]),
                            "created_at": _time(c.get("created_at")), "updated_at": _time(c.get("updated_at"))})
            if c.get("id") is not None:
                configs.append({"key": f"openmemory:config_id:{c['key']}", "value": _uuid(c["id"])})
    for t in sorted(tables - set(TABLE_FATES)):
        if t.startswith("sqlite_"):
            continue
        rows = verbatim_rows(conn, t)
        configs.append({"key": f"openmemory:table:{t}", "value": rows})
        if rows:
            known = "" if t in FATES or t in ("memory_access_logs", "access_controls", "archive_policies") \
                else " (a table memlab's importer does not know)"
            report.warnings.append(f"{t} ({len(rows)} rows) kept verbatim in configs['openmemory:table:{t}']{known}: "
                                   "memlab has no equivalent table")
    categories = [{"id": _uuid(c["id"]), "name": c["name"], "description": c.get("description"),
                   "created_at": _time(c.get("created_at")), "updated_at": _time(c.get("updated_at"))}
                  for c in cats.values()]
    report.vectors_embedded = len(records)
    report.details["users"] = len(users)
    report.details["apps"] = len(apps)
    return ImportBatch(report, records, categories=categories, configs=configs)


def _history(rec: dict, rows: list, users: dict) -> list[dict]:
    out = []
    for i, row in enumerate(rows):
        old, new = (row.get("old_state") or "").lower(), (row.get("new_state") or "").lower()
        when = _time(row.get("changed_at"))
        base = {"id": _uuid(row["id"]), "created_at": rec["created_at"], "updated_at": when,
                "actor_id": users.get(row.get("changed_by"), {}).get("user_id"), "role": None}
        if i == 0 and new == "active" and old in ("deleted", ""):  # OpenMemory's create path
            out.append({**base, "event": "ADD", "old_memory": None, "new_memory": rec["memory"], "is_deleted": 0})
        elif new == "deleted":
            out.append({**base, "event": "DELETE", "old_memory": rec["memory"], "new_memory": None, "is_deleted": 1})
        else:
            out.append({**base, "event": f"STATE:{old}->{new}", "old_memory": rec["memory"],
                        "new_memory": rec["memory"], "is_deleted": 0})
    if not out:
        out.append({"event": "ADD", "old_memory": None, "new_memory": rec["memory"], "created_at": rec["created_at"],
                    "updated_at": rec["created_at"], "is_deleted": 0, "actor_id": None, "role": None})
    return out
