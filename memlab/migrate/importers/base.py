"""What every importer shares: the :class:`ImportReport` and the one atomic write.

Importers turn a source into *portable records* (the dicts :meth:`memlab.Memory.add_records`
takes, plus ``history`` = the memory's history rows and ``categories`` = category names), then
call :func:`write_records`, which writes rows, history, categories and configs in ONE store
transaction: if anything fails, nothing is written.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from memlab.enums import SCOPE_FIELDS as SCOPES
from memlab.errors import ConflictError, MemlabError, MigrationError, ValidationError

HISTORY_KEYS = ("id", "old_memory", "new_memory", "event", "created_at", "updated_at", "is_deleted",
                "actor_id", "role")


@dataclass
class ImportReport:
    """The outcome of one import: what was written, skipped and repaired, and why."""

    source: str
    kind: str
    imported: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)     # {"id", "reason"}
    repairs: list[dict] = field(default_factory=list)     # {"id", "repair", "detail"}
    warnings: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)            # {"user_id": {...}, ..., "state": {...}}
    vectors_reused: int = 0
    vectors_embedded: int = 0
    history_rows: int = 0
    categories: int = 0
    configs: int = 0
    details: dict = field(default_factory=dict)           # importer-specific diagnostics
    fates: list = field(default_factory=list)             # {"table", "column", "rows", "fate"} of the source

    # ---------------------------------------------------------------- recording
    def repair(self, memory_id: Optional[str], repair: str, detail: str) -> None:
        self.repairs.append({"id": memory_id, "repair": repair, "detail": detail})

    def skip(self, memory_id: Optional[str], reason: str) -> None:
        self.skipped.append({"id": memory_id, "reason": reason})

    # ---------------------------------------------------------------- reading
    @property
    def ok(self) -> bool:
        """True when nothing was skipped (repairs are fine: they recovered data)."""
        return not self.skipped

    def repaired_ids(self, repair: Optional[str] = None) -> set[str]:
        return {r["id"] for r in self.repairs if r["id"] and (repair is None or r["repair"] == repair)}

    def repair_counts(self) -> dict[str, int]:
        return dict(Counter(r["repair"] for r in self.repairs))

    def summary(self) -> str:
        lines = [f"{self.kind} import from {self.source}: {len(self.imported)} memories imported, "
                 f"{len(self.skipped)} skipped, {len(self.repairs)} repairs, {self.history_rows} history rows",
                 f"vectors: {self.vectors_reused} reused, {self.vectors_embedded} embedded"]
        if self.repairs:
            lines.append("repairs: " + ", ".join(f"{k}={v}" for k, v in sorted(self.repair_counts().items())))
        for scope in (*SCOPES, "state"):
            if self.counts.get(scope):
                lines.append(f"{scope}: " + ", ".join(f"{k}={v}" for k, v in sorted(self.counts[scope].items())))
        lines.extend(f"warning: {w}" for w in self.warnings)
        if self.fates:
            lines.append("source tables: " + "; ".join(f"{f['table']} ({f['rows']} rows) -> {f['fate']}"
                                                         for f in self.fates if f["column"] is None))
        return "\n".join(lines)

    def fates_frame(self):
        """Where every table and column of the source went (one row each; ``column`` is None for a table)."""
        import pandas as pd

        return pd.DataFrame(self.fates, columns=["table", "column", "rows", "fate"])

    def __str__(self) -> str:
        return self.summary()

    def to_pandas(self):
        """One row per repair and per skip: ``id``, ``kind`` (repair/skip), ``what``, ``detail``."""
        import pandas as pd

        rows = [{"id": r["id"], "kind": "repair", "what": r["repair"], "detail": r["detail"]} for r in self.repairs]
        rows += [{"id": s["id"], "kind": "skip", "what": "skipped", "detail": s["reason"]} for s in self.skipped]
        return pd.DataFrame(rows, columns=["id", "kind", "what", "detail"])

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def _repr_html_(self) -> str:
        esc = html.escape
        head = (f"<b>{esc(self.kind)} import</b> from <code>{esc(self.source)}</code>: "
                f"{len(self.imported)} imported, {len(self.skipped)} skipped, {len(self.repairs)} repairs, "
                f"{self.history_rows} history rows; vectors {self.vectors_reused} reused / "
                f"{self.vectors_embedded} embedded")
        parts = [f"<div>{head}</div>"]
        if self.warnings:
            parts.append("<ul>" + "".join(f"<li>{esc(w)}</li>" for w in self.warnings) + "</ul>")
        df = self.to_pandas()
        if len(df):
            parts.append(df.to_html(index=False, max_rows=200))
        return "".join(parts)


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


def write_records(memory: Any, records: list[dict], report: ImportReport, *, on_conflict: str = "error",
                  categories: Optional[list[dict]] = None, configs: Optional[list[dict]] = None) -> ImportReport:
    """Write portable records (+ their history, categories) and configs in one transaction.

    Records without ``history`` get one synthetic ADD row (so ``history(id)`` works). On any
    error the transaction is rolled back and a :class:`MigrationError` is raised.
    """
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

    if on_conflict == "replace":  # replacing rows is destructive: snapshot first (on-disk stores)
        snap = memory.store.snapshot("pre-import-replace")
        if snap is not None:
            report.details["snapshot"] = snap
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

