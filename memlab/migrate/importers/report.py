"""The :class:`ImportReport`: what one import wrote, skipped and repaired, and why."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from memlab.enums import SCOPE_FIELDS as SCOPES


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
