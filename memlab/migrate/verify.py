"""``verify_migration``: did a migration keep every memory, byte for byte, and retrieval with it?

Compares a source and a target (memlab ``Memory`` objects, or mem0-like objects given scopes):
counts per scope, a content hash per memory (text, hash, metadata, scope, actor/role, state,
timestamps - plus history and categories when both sides are memlab), and retrieval parity:
overlap@k of the same scoped queries run against both.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from memlab.enums import SCOPE_FIELDS
from memlab.migrate import mem0_api as S

CONTENT_FIELDS = ("memory", "hash", "metadata", "user_id", "agent_id", "run_id", "actor_id", "role",
                  "memory_type", "state", "created_at", "updated_at", "archived_at", "deleted_at", "expiration_date")
FULL_FIELDS = (*CONTENT_FIELDS, "history", "categories")


def record_hash(rec: dict, fields: Iterable[str] = FULL_FIELDS) -> str:
    """sha256 of a record's canonical JSON over ``fields`` (missing fields count as null)."""
    canon = {f: rec.get(f) for f in fields}
    if "history" in canon and canon["history"] is not None:
        canon["history"] = [{k: h.get(k) for k in sorted(h)} for h in canon["history"]]
    blob = json.dumps(canon, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def collect(obj: Any, scopes: Optional[list] = None) -> dict[str, dict]:
    """id -> full record of a memlab Memory, or of a mem0-like object over ``scopes``."""
    if S.is_memlab(obj):
        from memlab.migrate.export import iter_records

        return {r["id"]: r for r in iter_records(obj)}
    if not scopes:
        from memlab.errors import ValidationError

        raise ValidationError("A mem0-like source/target can only be listed per scope: pass scopes=[{'user_id': ...}].")
    return {r["id"]: r for r in S.foreign_records(obj, scopes)}


@dataclass
class VerificationReport:
    """Result of :func:`verify_migration`; renders as HTML in a notebook."""

    fields: tuple
    source_count: int
    target_count: int
    missing: list = field(default_factory=list)      # ids in source, not in target
    extra: list = field(default_factory=list)        # ids in target, not in source
    changed: list = field(default_factory=list)      # {"id", "fields"}
    same: int = 0
    counts: list = field(default_factory=list)       # {"scope", "value", "source", "target"}
    parity: list = field(default_factory=list)       # {"query", "scope", "overlap", "source_ids", "target_ids"}
    k: int = 5
    min_overlap: float = 0.8

    @property
    def mean_overlap(self) -> Optional[float]:
        return sum(p["overlap"] for p in self.parity) / len(self.parity) if self.parity else None

    @property
    def data_ok(self) -> bool:
        return not (self.missing or self.extra or self.changed)

    @property
    def ok(self) -> bool:
        """Every memory identical on both sides and retrieval overlap@k at least ``min_overlap``."""
        overlap = self.mean_overlap
        return self.data_ok and (overlap is None or overlap >= self.min_overlap)

    def summary(self) -> str:
        ov = "n/a" if self.mean_overlap is None else f"{self.mean_overlap:.3f}"
        return (f"{'OK' if self.ok else 'MISMATCH'}: {self.same}/{self.source_count} memories identical, "
                f"{len(self.missing)} missing, {len(self.extra)} extra, {len(self.changed)} changed; "
                f"overlap@{self.k} over {len(self.parity)} queries = {ov}")

    def __str__(self) -> str:
        return self.summary()

    def to_pandas(self):
        """One row per differing memory (``status`` missing/extra/changed) - empty when all match."""
        import pandas as pd

        rows = [{"id": i, "status": "missing", "fields": ""} for i in self.missing]
        rows += [{"id": i, "status": "extra", "fields": ""} for i in self.extra]
        rows += [{"id": c["id"], "status": "changed", "fields": ", ".join(c["fields"])} for c in self.changed]
        return pd.DataFrame(rows, columns=["id", "status", "fields"])

    def counts_frame(self):
        import pandas as pd

        df = pd.DataFrame(self.counts, columns=["scope", "value", "source", "target"])
        df["match"] = df["source"] == df["target"]
        return df

    def parity_frame(self):
        import pandas as pd

        return pd.DataFrame([{k: p[k] for k in ("query", "scope", "overlap")} for p in self.parity],
                            columns=["query", "scope", "overlap"])

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.ok else "#cf222e"
        parts = [f"<div><b style='color:{color}'>{html.escape(self.summary())}</b></div>",
                 "<details><summary>counts per scope</summary>", self.counts_frame().to_html(index=False),
                 "</details>"]
        if self.parity:
            parts += ["<details><summary>retrieval parity</summary>",
                      self.parity_frame().to_html(index=False, max_rows=50), "</details>"]
        diff = self.to_pandas()
        if len(diff):
            parts.append(diff.to_html(index=False, max_rows=100))
        return "".join(parts)


def _default_queries(records: dict, n: int = 20) -> list[dict]:
    active = [r for r in records.values() if (r.get("state") or "active") == "active"]
    step = max(1, len(active) // n)
    out = []
    for r in active[::step][:n]:
        scope = {k: r[k] for k in SCOPE_FIELDS if r.get(k)}
        out.append({"query": r["memory"], **scope})
    return out


def _queries(queries: Any, records: dict) -> list[dict]:
    if queries is None:
        return _default_queries(records)
    users = [u for u, _ in Counter(r.get("user_id") for r in records.values() if r.get("user_id")).most_common(5)]
    out = []
    for q in queries:
        if isinstance(q, dict):
            out.append(dict(q))
        else:  # a bare string runs in every one of the (up to 5) largest user scopes
            out.extend({"query": str(q), "user_id": u} for u in users)
    return out


def verify_migration(source: Any, target: Any, queries: Any = None, *, k: int = 5,
                     scopes: Optional[list] = None, min_overlap: float = 0.8) -> VerificationReport:
    """Compare ``source`` and ``target`` memory by memory and query by query.

    Args:
        source, target: memlab ``Memory`` objects, or mem0-like objects (then pass ``scopes``).
        queries: strings (run in the largest user scopes) or dicts ``{"query", "user_id"...}``;
            default: up to 20 memory texts of the source, each in its own scope.
        k: cut-off of overlap@k.
        scopes: scopes to list mem0-like objects by, e.g. ``[{"user_id": "alice"}]``.
        min_overlap: mean overlap@k required for ``report.ok``.
    """
    src, dst = collect(source, scopes), collect(target, scopes)
    full = S.is_memlab(source) and S.is_memlab(target)
    fields = FULL_FIELDS if full else tuple(f for f in CONTENT_FIELDS if f not in ("archived_at", "deleted_at"))
    if not full:  # a mem0-like side lists active memories only
        src = {i: r for i, r in src.items() if (r.get("state") or "active") == "active"}
        dst = {i: r for i, r in dst.items() if (r.get("state") or "active") == "active"}
    report = VerificationReport(fields=fields, source_count=len(src), target_count=len(dst), k=k,
                                min_overlap=min_overlap)
    report.missing = sorted(set(src) - set(dst))
    report.extra = sorted(set(dst) - set(src))
    for memory_id in src.keys() & dst.keys():
        a, b = src[memory_id], dst[memory_id]
        if record_hash(a, fields) == record_hash(b, fields):
            report.same += 1
        else:
            report.changed.append({"id": memory_id, "fields": [f for f in fields if a.get(f) != b.get(f)]})
    for scope in (*SCOPE_FIELDS, "state"):
        cs = Counter((r.get(scope) or ("active" if scope == "state" else None)) for r in src.values())
        ct = Counter((r.get(scope) or ("active" if scope == "state" else None)) for r in dst.values())
        for value in sorted((cs.keys() | ct.keys()) - {None}):
            report.counts.append({"scope": scope, "value": value, "source": cs.get(value, 0), "target": ct.get(value, 0)})
    for q in _queries(queries, src):
        scope = {s: q[s] for s in SCOPE_FIELDS if q.get(s)}
        if not scope:
            continue
        a = [h["id"] for h in S.search(source, q["query"], scope, k)]
        b = [h["id"] for h in S.search(target, q["query"], scope, k)]
        overlap = len(set(a) & set(b)) / len(a) if a else (1.0 if not b else 0.0)
        report.parity.append({"query": q["query"], "scope": json.dumps(scope), "overlap": overlap,
                              "source_ids": a, "target_ids": b})
    return report
