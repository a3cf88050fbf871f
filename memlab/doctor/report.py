"""The result of ``memlab doctor`` / ``Memory.check()``: findings and their display."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Optional

MAX_IDS = 20  # ids listed per finding


@dataclass
class Finding:
    """One check's outcome. ``status``: ok | warning | error | repaired | skipped."""

    check: str
    status: str
    message: str
    ids: list = field(default_factory=list)


@dataclass
class DoctorReport:
    """What ``memlab doctor`` found (and repaired) in one store."""

    store: str
    repair: bool
    findings: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    snapshot: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True when no error remains (warnings and repaired problems are fine)."""
        return all(f.status != "error" for f in self.findings)

    @property
    def problems(self) -> list:
        return [f for f in self.findings if f.status in ("warning", "error")]

    def to_dict(self) -> dict:
        return {"store": self.store, "ok": self.ok, "repair": self.repair, "snapshot": self.snapshot,
                "stats": dict(self.stats), "findings": [asdict(f) for f in self.findings]}

    def __str__(self) -> str:
        head = f"memlab doctor: {self.store}: {'OK' if self.ok else 'PROBLEMS FOUND'}"
        lines = [head] + [f"  [{f.status:>8}] {f.check:<9} {f.message}" for f in self.findings]
        if self.snapshot:
            lines.append(f"  snapshot taken before repairs: {self.snapshot}")
        if self.stats:  # an unreadable store has none: no blank trailing line
            lines.append("  " + ", ".join(f"{k}={v}" for k, v in self.stats.items()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"ok": "#1a7f37", "repaired": "#0969da", "warning": "#9a6700", "error": "#cf222e",
                  "skipped": "#6e7781"}
        rows = "".join(
            f"<tr><td style='color:{colour.get(f.status, '#000')}'><b>{html.escape(f.status)}</b></td>"
            f"<td>{html.escape(f.check)}</td><td>{html.escape(f.message)}</td></tr>" for f in self.findings
        )
        stats = ", ".join(f"{html.escape(str(k))}={html.escape(str(v))}" for k, v in self.stats.items())
        verdict = "OK" if self.ok else "problems found"
        return (f"<div><b>memlab doctor</b> <code>{html.escape(self.store)}</code>: {verdict}"
                f"<table><tr><th>status</th><th>check</th><th>details</th></tr>{rows}</table>"
                f"<small>{stats}</small></div>")
