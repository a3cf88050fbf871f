"""``DataMigrator``: move memories between any two objects with mem0's verbs, resumably.

memlab -> memlab copies everything (ids, metadata, timestamps, states, history, categories,
vectors when both sides use the same embedder). A mem0-like source is listed per scope through
``get_all`` (+ ``history``); a mem0-like target receives ``add(..., infer=False)`` calls (mem0
assigns new ids there, which the result maps). Work goes in batches; each batch is one
transaction, and a checkpoint file records progress so an interrupted run resumes where it
stopped (ids already in the target are skipped, so a batch is never written twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from memlab.enums import SCOPE_FIELDS
from memlab.errors import ValidationError
from memlab.migrate import mem0_api as S
from memlab.migrate.export import DEFAULT_FIELDS, iter_records
from memlab.migrate.importers.report import ImportReport
from memlab.migrate.importers.write import write_records


@dataclass
class MigrationResult:
    migrated: int = 0
    skipped: int = 0
    batches: int = 0
    resumed_from: int = 0
    total: int = 0
    id_map: dict = field(default_factory=dict)     # source id -> target id (differs for mem0 targets)

    def __str__(self) -> str:
        extra = f", resumed after {self.resumed_from}" if self.resumed_from else ""
        return f"{self.migrated} migrated, {self.skipped} skipped of {self.total} in {self.batches} batches{extra}"


class DataMigrator:
    """Copy memories from ``source`` to ``target`` (the guide's ``DataMigrator``, made lossless).

    Args:
        source, target: memlab ``Memory`` objects or mem0 ``Memory``-like objects.
        checkpoint: JSON file recording progress; re-running with the same file resumes.
        batch_size: records per transaction (and per checkpoint).
        progress: show a tqdm progress bar.
    """

    def __init__(self, source: Any, target: Any, *, checkpoint: Optional[str] = None, batch_size: int = 200,
                 progress: bool = True):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValidationError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.source, self.target = source, target
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.batch_size = batch_size
        self.progress = progress

    # ---------------------------------------------------------------- reading
    def records(self, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
                run_id: Optional[str] = None, scopes: Optional[Iterable[dict]] = None,
                filters: Optional[dict] = None) -> list[dict]:
        """The source's memories as portable records, in a stable order."""
        wanted = S.scope_list(user_id, agent_id, run_id, scopes)
        if S.is_memlab(self.source):
            fields = list(DEFAULT_FIELDS)
            if S.is_memlab(self.target) and self.source.embedder.name == self.target.embedder.name:
                fields.append("vector")  # same model: carry vectors instead of re-embedding
            node = None
            if wanted:
                node = {"OR": [dict(s) for s in wanted]} if len(wanted) > 1 else dict(wanted[0])
            if filters:
                node = {"AND": [node, filters]} if node else filters
            return list(iter_records(self.source, fields, node))
        if not wanted:
            raise ValidationError("A mem0 source can only be listed per scope: pass user_id=, agent_id=, "
                                  "run_id= or scopes=[...].")
        return S.foreign_records(self.source, wanted)

    # ---------------------------------------------------------------- checkpoint
    def _load_checkpoint(self, records: list[dict]) -> int:
        if self.checkpoint is None or not self.checkpoint.exists():
            return 0
        try:
            state = json.loads(self.checkpoint.read_text())
        except (OSError, json.JSONDecodeError):
            return 0
        done = int(state.get("done", 0))
        # resume only if the source still starts the same way; otherwise redo (ids dedupe anyway)
        if 0 < done <= len(records) and records[done - 1]["id"] == state.get("last_id"):
            return done
        return 0

    def _save_checkpoint(self, done: int, last_id: str, total: int) -> None:
        if self.checkpoint is None:
            return
        tmp = self.checkpoint.with_name(self.checkpoint.name + ".tmp")
        tmp.write_text(json.dumps({"done": done, "last_id": last_id, "total": total}))
        tmp.replace(self.checkpoint)

    # ---------------------------------------------------------------- writing
    def migrate(self, *, user_id: Optional[str] = None, agent_id: Optional[str] = None,
                run_id: Optional[str] = None, scopes: Optional[Iterable[dict]] = None,
                filters: Optional[dict] = None, max_batches: Optional[int] = None) -> MigrationResult:
        """Copy the selected memories (all of a memlab source by default); resumable.

        ``max_batches`` stops early (as an interruption would); run again to continue.
        """
        from memlab.progress import progress_bar

        records = self.records(user_id=user_id, agent_id=agent_id, run_id=run_id, scopes=scopes, filters=filters)
        start = self._load_checkpoint(records)
        result = MigrationResult(resumed_from=start, total=len(records))
        bar = progress_bar(total=len(records), initial=start, enabled=self.progress, desc="migrating", unit="mem")
        try:
            for offset in range(start, len(records), self.batch_size):
                if max_batches is not None and result.batches >= max_batches:
                    break
                batch = [dict(r) for r in records[offset:offset + self.batch_size]]
                written = self._write(batch, result)
                result.migrated += written
                result.skipped += len(batch) - written
                result.batches += 1
                self._save_checkpoint(offset + len(batch), batch[-1]["id"], len(records))
                bar.update(len(batch))
        finally:
            bar.close()
        return result

    def _write(self, batch: list[dict], result: MigrationResult) -> int:
        if S.is_memlab(self.target):
            report = ImportReport(source="DataMigrator", kind="migration")
            catalog = None
            if S.is_memlab(self.source):  # the categories' ids and descriptions travel with their memories
                from memlab.migrate.export import store_tables

                catalog = store_tables(self.source)["categories"]
            write_records(self.target, batch, report, on_conflict="skip", categories=catalog)
            result.id_map.update({i: i for i in report.imported})
            return len(report.imported)
        written = 0
        for rec in batch:  # a mem0 target: its public add(), one memory per call
            if (rec.get("state") or "active") != "active":
                continue
            scope = {k: rec[k] for k in SCOPE_FIELDS if rec.get(k)}
            meta = dict(rec.get("metadata") or {})
            out = self.target.add([{"role": rec.get("role") or "user", "content": rec["memory"]}], **scope,
                                  metadata=meta, infer=False)
            items = out.get("results", []) if isinstance(out, dict) else out or []
            if items:
                result.id_map[rec["id"]] = items[0].get("id")
                written += 1
        return written

    def migrate_user_memories(self, user_id: str) -> int:
        """The guide's call: migrate one user's memories; returns how many were written."""
        return self.migrate(user_id=user_id).migrated

    def verify(self, queries: Any = None, **kwargs: Any):
        """:func:`memlab.migrate.verify_migration` of this source and target."""
        from memlab.migrate.verify import verify_migration

        return verify_migration(self.source, self.target, queries, **kwargs)
