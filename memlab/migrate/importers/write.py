"""The one write path of every import: portable records -> ``Memory.add_records``, in ONE transaction.

Importers turn a source into *portable records* (the dicts :meth:`memlab.Memory.add_records`
takes, plus ``history`` = the memory's history rows and ``categories`` = category names);
:func:`write_records` writes rows, history, categories and configs in one store transaction (if
anything fails, nothing is written) and decides, in this one place, whether a snapshot is taken
first (:func:`import_snapshot`).

Why the facade and not the store's import path (``memlab.store.records.insert_records``) directly:
``Memory.add_records`` is that path plus the target's checked embedder (and its cache), so an import
embeds exactly as ``add`` does, and the importers stay above the facade like every workbench tool;
inside the transaction they use only the engine-independent ``StoreTransaction`` protocol.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from memlab.enums import SCOPE_FIELDS as SCOPES
from memlab.errors import ConflictError, MemlabError, MigrationError, ValidationError
from memlab.migrate.importers.report import ImportReport

ON_CONFLICT = ("error", "skip", "replace")


def checked_identity(memory_id: str, source: dict) -> dict:
    """The id and the scope/actor ids of a source item, validated as memlab would on add.

    Raises:
        ValidationError: the id or one of the ids is malformed (the caller reports a skip).
    """
    from memlab.validation import check_id, check_memory_id

    check_memory_id(memory_id)
    return {key: check_id(key, source.get(key)) for key in ("user_id", "agent_id", "run_id", "actor_id")}


def scope_counts(records: list[dict]) -> dict:
    """Counts per scope value and per state of portable records."""
    out: dict[str, dict] = {}
    for key in (*SCOPES, "state"):
        c = Counter(r.get(key) or ("active" if key == "state" else None) for r in records)
        c.pop(None, None)
        out[key] = dict(c)
    return out


def check_on_conflict(on_conflict: Any) -> str:
    if on_conflict not in ON_CONFLICT:
        raise ValidationError(f"on_conflict must be 'error', 'skip' or 'replace', got {on_conflict!r}.")
    return on_conflict


def import_snapshot(memory: Any, on_conflict: str, snapshot: Optional[bool], report: ImportReport) -> Optional[str]:
    """Take the one snapshot an import may take, right before it writes; its id (None if none was taken).

    ``snapshot``: True = always (``memlab import`` into an existing store: the import can be rolled back),
    False = never, None = only when ``on_conflict="replace"`` (replacing rows is destructive). In-memory and
    PostgreSQL stores take none (``MemoryStore.snapshot`` returns None there; PostgreSQL has pg_dump).
    """
    wanted = on_conflict == "replace" if snapshot is None else bool(snapshot)
    if not wanted:
        return None
    snap = memory.store.snapshot("pre-import-replace" if on_conflict == "replace" else "pre-import")
    if snap is not None:
        report.details["snapshot"] = snap
    return snap


def write_records(memory: Any, records: list[dict], report: ImportReport, *, on_conflict: str = "error",
                  categories: Optional[list[dict]] = None, configs: Optional[list[dict]] = None,
                  snapshot: Optional[bool] = None) -> ImportReport:
    """Write portable records (+ their history, categories) and configs in one transaction.

    Records without ``history`` get one synthetic ADD row (so ``history(id)`` works). On any
    error the transaction is rolled back and a :class:`MigrationError` is raised. ``snapshot``: see
    :func:`import_snapshot` (its id lands in ``report.details["snapshot"]``).
    """
    check_on_conflict(on_conflict)
    histories = {r["id"]: r.get("history") for r in records}
    # Copies, so the caller's dicts stay as they were. Every record names its categories ([] = none),
    # so a replace clears old links.
    records = [{**{k: v for k, v in r.items() if k != "history"}, "categories": r.get("categories") or []}
               for r in records]
    category_rows = {c["name"]: c for c in (categories or []) if isinstance(c, dict) and c.get("name")}
    stats = {"history": 0, "categories": 0}

    def in_tx(tx, written: list[str]) -> None:
        by_id = {r["id"]: r for r in records}
        for memory_id in written:
            if on_conflict == "replace":
                tx.clear_history(memory_id)
            rows = histories.get(memory_id)
            if rows is None:
                rec = by_id[memory_id]
                rows = [{"event": "ADD", "old_memory": None, "new_memory": rec["memory"],
                         "created_at": rec.get("created_at"), "updated_at": rec.get("updated_at"),
                         "actor_id": rec.get("actor_id"), "role": rec.get("role")}]
            for h in rows:
                tx.add_history(memory_id, h.get("old_memory"), h.get("new_memory"), h.get("event") or "ADD",
                               created_at=h.get("created_at"), updated_at=h.get("updated_at"),
                               is_deleted=bool(h.get("is_deleted")), actor_id=h.get("actor_id"),
                               role=h.get("role"), history_id=h.get("id"))
                stats["history"] += 1
        # the memories' links were written with their rows (Transaction.put_row); categories of the
        # source that no memory names are kept too, so the catalogue round-trips whole
        for cat in category_rows.values():
            tx.ensure_category(cat)
        stats["categories"] = len(memory.store.categories()) - cats_before
        for cfg in configs or []:
            tx.put_config(cfg["key"], cfg["value"], created_at=cfg.get("created_at"), updated_at=cfg.get("updated_at"))

    import_snapshot(memory, on_conflict, snapshot, report)
    cats_before = len(memory.store.categories())
    try:
        written = memory.add_records(records, history=False, on_conflict=on_conflict, in_transaction=in_tx,
                                     category_catalog=list(category_rows.values()))
    except ConflictError as exc:
        raise MigrationError(f"Import from {report.source} conflicts with rows already in the store ({exc}); "
                             "nothing was written. Import into an empty store or pass on_conflict='replace'.") from None
    except ValidationError as exc:
        raise MigrationError(f"Import from {report.source} was rejected: {exc} Nothing was written.") from None
    except MemlabError:
        raise
    done = set(written)
    for r in records:
        if r["id"] not in done:
            report.skip(r["id"], "already in the target store (on_conflict='skip')")
    report.imported = written
    report.history_rows = stats["history"]
    report.categories = stats["categories"]
    report.configs = len(configs or [])
    report.counts = scope_counts([r for r in records if r["id"] in done])
    return report

