"""Import memlab's own exports (JSONL / parquet written by :func:`memlab.migrate.export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from memlab.errors import MigrationError
from memlab.migrate.export import read_export
from memlab.migrate.importers.base import ImportBatch, Importer, ImportOption, run_import
from memlab.migrate.importers.report import ImportReport

RECORD_KEYS = ("id", "memory", "hash", "metadata", "user_id", "agent_id", "run_id", "actor_id", "role",
               "memory_type", "state", "created_at", "updated_at", "archived_at", "deleted_at", "expiration_date",
               "history", "categories", "context")


class MemlabExportImporter(Importer):
    """A memlab export (JSONL / parquet with a header: embedder, fields, categories, configs, relations)."""

    name = "jsonl"
    kind = "memlab export"
    source_help = "memlab export (.jsonl or .parquet)"
    options = (ImportOption("reuse_vectors", "reuse exported vectors when the embedders match", cli=False),)

    def read(self, source: Any, into: Any, *, reuse_vectors: bool = True) -> ImportBatch:
        return _read(source, into, reuse_vectors)

    def finish(self, batch: ImportBatch, into: Any) -> None:
        """Graph relations of the header go into the target's graph, after the memories they link."""
        report, relations = batch.report, batch.extras.get("relations") or []
        if relations and getattr(into, "graph", None) is None:
            report.warnings.append(f"the export carries {len(relations)} graph relations; the target has no "
                                   "graph_store, so they were not imported")
        elif relations:
            written, skipped = into.graph.import_relations(relations)
            report.details["relations"] = written
            report.warnings.extend(skipped)

    def new_store_embedder(self, source: Any) -> Optional[dict]:
        """A new store takes the export's own embedder when memlab can rebuild it from its name."""
        from memlab.errors import ConfigError
        from memlab.migrate.stores import embedder_config

        header = read_export(source)[0]
        try:
            return embedder_config(str(header.get("embedder") or ""))
        except ConfigError:  # e.g. an API embedder: its endpoint is not in the export
            return None


def import_export(path: Any, into: Any, *, on_conflict: str = "error", reuse_vectors: bool = True) -> ImportReport:
    """Import a memlab JSONL/parquet export into ``into`` (atomically).

    Stored vectors are reused only when the export's embedder is the target's (same name and
    size); otherwise texts are embedded. Graph relations in the header go into the target's graph
    (after the memories; the target needs a graph_store).
    """
    return run_import(MemlabExportImporter(), path, into, on_conflict=on_conflict, reuse_vectors=reuse_vectors)


def _read(path: Any, into: Any, reuse_vectors: bool) -> ImportBatch:
    header, rows = read_export(path)
    report = ImportReport(source=str(path), kind="memlab export" if header else "JSONL")
    fields = header.get("fields") or []
    if header and ("memory" not in fields or not {"user_id", "agent_id", "run_id"} & set(fields)):
        raise MigrationError(f"{path} was exported without the text or scope fields (fields: {fields}); a partial "
                             "export cannot be imported. Export again with the default schema.")
    same_embedder = (reuse_vectors and header.get("embedder") == str(into.embedder.name)
                     and header.get("dims") == into.store.dims)
    if header and "vector" in fields and not same_embedder:
        report.warnings.append(f"export vectors come from {header.get('embedder')!r}, the target uses "
                               f"{into.embedder.name!r}: texts are embedded again")
    records, seen = [], set()
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            report.skip(None, f"record {n} is not an object")
            continue
        rec = {k: row.get(k) for k in RECORD_KEYS if row.get(k) is not None}
        if "memory" not in rec and isinstance(row.get("text"), str):
            rec["memory"] = row["text"]
        if not isinstance(rec.get("memory"), str) or not rec["memory"].strip():
            report.skip(row.get("id"), f"record {n} has no text")
            continue
        if rec.get("id") in seen:
            report.skip(rec["id"], f"record {n} repeats id {rec['id']}")
            continue
        if rec.get("id") is None:
            import uuid

            rec["id"] = str(uuid.uuid4())
        seen.add(rec["id"])
        vec = row.get("vector")
        if vec is not None and same_embedder:
            if len(vec) == into.store.dims:
                rec["vector"] = vec
            else:
                report.repair(rec["id"], "vector_dims", f"stored vector has {len(vec)} dims, store has "
                              f"{into.store.dims}; re-embedded")
        records.append(rec)
    report.vectors_reused = sum(1 for r in records if "vector" in r)
    report.vectors_embedded = len(records) - report.vectors_reused
    report.details["header"] = {k: header.get(k) for k in ("embedder", "dims", "schema_revision", "count", "filters")}
    if not Path(path).suffix == ".parquet" and not header:
        report.warnings.append("headerless JSONL: each record gets one ADD history row")
    return ImportBatch(report, records, categories=header.get("categories"), configs=header.get("configs"),
                       extras={"relations": header.get("relations") or []})
