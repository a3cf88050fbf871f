"""Import a mem0 FAISS store folder (``<collection>.faiss`` + ``.pkl``/``.json`` + ``history.db``).

mem0 <= 1.0.8 deleted ids from the docstore and the id mapping but left their vectors in the
FAISS index, and numbered new rows from ``len(index_to_id)``; after deletes/updates the mapping
drifts: some ids point at another memory's vector (*mis-mapped*) and some no position maps to
(*unreachable*). The docstore payloads stay intact, so this importer trusts them, checks every
stored vector it wants to reuse against a fresh embedding of the text, re-embeds whatever is
missing or inconsistent, and names each repair in the :class:`ImportReport`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from memlab.enums import MEMORY_TYPES, SCOPE_FIELDS
from memlab.errors import MigrationError, ValidationError
from memlab.migrate.importers.base import ImportBatch, Importer, ImportOption, run_import
from memlab.migrate.importers.report import ImportReport
from memlab.migrate.importers.write import checked_identity
from memlab.migrate.importers.safe_pickle import load_builtin_pickle
from memlab.validation import RESERVED_METADATA

MEM0_KEYS = frozenset({"data", "hash", "created_at", "updated_at", "user_id", "agent_id", "run_id",
                       "actor_id", "role", "text_lemmatized"})
SAME = 0.99          # cosine above which two vectors are "the same embedding"
SAMPLE = 16          # texts re-embedded to decide whether stored vectors fit the target embedder


@dataclass
class Mem0Folder:
    """The raw content of a mem0 FAISS store, as read (nothing interpreted yet)."""

    docstore_path: Path
    index_path: Optional[Path]
    history_path: Optional[Path]
    docstore: dict
    index_to_id: dict
    vectors: Optional[np.ndarray]
    index_type: Optional[str]
    history: dict = field(default_factory=dict)     # memory_id -> rows in insertion order
    problems: list = field(default_factory=list)


def _locate(path: Path, collection: Optional[str]) -> tuple[Path, Optional[Path]]:
    if path.is_file():
        if path.suffix in (".pkl", ".json", ".faiss"):
            path, collection = path.parent, collection or path.stem
        else:
            raise MigrationError(f"{path} is not a mem0 FAISS store (expected a folder or a .pkl/.json/.faiss file).")
    if not path.is_dir():
        raise MigrationError(f"mem0 store folder {str(path)!r} does not exist.")
    for folder in (path, path / "faiss"):
        if not folder.is_dir():
            continue
        docstores = sorted([p for p in folder.iterdir() if p.suffix in (".pkl", ".json") and p.stem != "expected"])
        if collection:
            docstores = [p for p in docstores if p.stem == collection]
        elif len(docstores) > 1:
            with_index = [p for p in docstores if p.with_suffix(".faiss").exists()]
            docstores = with_index if len(with_index) == 1 else docstores
        if len(docstores) > 1:
            raise MigrationError(f"{folder} holds several docstores ({', '.join(p.name for p in docstores)}); "
                                 "pass collection=NAME.")
        if docstores:
            index = docstores[0].with_suffix(".faiss")
            return docstores[0], index if index.exists() else None
    raise MigrationError(
        f"No mem0 docstore ({collection or '<collection>'}.pkl or .json) in {path} or {path / 'faiss'}: "
        "point at the folder mem0's FAISS vector store wrote (its `path` setting)."
    )


def _read_docstore(p: Path) -> tuple[dict, dict]:
    raw = p.read_bytes()
    if p.suffix == ".pkl":
        data = load_builtin_pickle(raw, str(p))
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise MigrationError(f"{p} does not hold mem0's (docstore, index_to_id) pair; got {type(data).__name__}.")
        docstore, index_to_id = data
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MigrationError(f"{p} is not valid JSON ({exc}); it may be truncated. Nothing was imported.") from None
        if not isinstance(data, dict) or "docstore" not in data:
            raise MigrationError(f"{p} has no 'docstore' key; it is not a mem0 >= 2.0 FAISS docstore.")
        docstore, index_to_id = data["docstore"], data.get("index_to_id") or {}
    if not isinstance(docstore, dict) or not isinstance(index_to_id, dict):
        raise MigrationError(f"{p}: docstore and index_to_id must be dicts.")
    try:
        index_to_id = {int(k): v for k, v in index_to_id.items()}
    except (TypeError, ValueError):
        raise MigrationError(f"{p}: index_to_id keys must be integer positions.") from None
    return docstore, index_to_id


def _read_index(p: Optional[Path], problems: list) -> tuple[Optional[np.ndarray], Optional[str]]:
    if p is None:
        problems.append("no .faiss index file: every memory is embedded from its text")
        return None, None
    import faiss

    try:
        index = faiss.read_index(str(p))
        vecs = index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)
    except Exception as exc:  # faiss raises RuntimeError with C++ text for damaged files
        problems.append(f"index {p.name} is unreadable ({str(exc).splitlines()[0][:120]}): "
                        "every memory is embedded from its text")
        return None, None
    return np.asarray(vecs, dtype=np.float32), type(index).__name__


def _read_history(p: Optional[Path], problems: list) -> dict:
    if p is None:
        problems.append("no history.db: each memory gets one ADD history row")
        return {}
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(history)")]
            if not cols:
                problems.append(f"{p.name} has no history table: each memory gets one ADD history row")
                return {}
            rows = conn.execute("SELECT * FROM history ORDER BY rowid").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise MigrationError(f"{p} is not a readable SQLite database ({exc}); fix or remove it.") from None
    out: dict[str, list] = {}
    for r in rows:
        d = dict(zip(cols, r))
        out.setdefault(d.get("memory_id"), []).append({
            "id": d.get("id"), "event": d.get("event"),
            "old_memory": d.get("old_memory", d.get("prev_value")),
            "new_memory": d.get("new_memory", d.get("new_value")),
            "created_at": d.get("created_at"), "updated_at": d.get("updated_at"),
            "is_deleted": int(d.get("is_deleted") or 0), "actor_id": d.get("actor_id"), "role": d.get("role"),
        })
    return out


def read_mem0_folder(path: Any, collection: Optional[str] = None, history_db: Any = None) -> Mem0Folder:
    """Read (never execute) a mem0 FAISS store folder. Raises MigrationError on unusable input."""
    path = Path(path)
    docstore_path, index_path = _locate(path, collection)
    problems: list[str] = []
    docstore, index_to_id = _read_docstore(docstore_path)
    vectors, index_type = _read_index(index_path, problems)
    if history_db is None:
        for cand in (docstore_path.parent / "history.db", docstore_path.parent.parent / "history.db"):
            if cand.exists():
                history_db = cand
                break
    elif not Path(history_db).exists():
        raise MigrationError(f"history_db {history_db} does not exist.")
    history = _read_history(Path(history_db) if history_db else None, problems)
    return Mem0Folder(docstore_path, index_path, Path(history_db) if history_db else None, docstore,
                      index_to_id, vectors, index_type, history, problems)


def _normalise(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    n[n == 0] = 1
    return v / n


def _payload_record(memory_id: str, payload: Any, history: list, report: ImportReport) -> Optional[dict]:
    if not isinstance(payload, dict):
        report.skip(memory_id, f"payload is a {type(payload).__name__}, not a dict; nothing to recover")
        return None
    text = payload.get("data")
    if not isinstance(text, str) or not text.strip():
        text = next((h["new_memory"] for h in reversed(history) if h.get("new_memory")), None)
        if not text:
            report.skip(memory_id, "payload has no text ('data') and history.db has none either")
            return None
        report.repair(memory_id, "text_from_history", "payload lost its text; the latest text in history.db was used")
    rec: dict = {"id": memory_id, "memory": text}
    try:
        rec.update(checked_identity(memory_id, payload))
    except ValidationError as exc:
        report.skip(memory_id, f"invalid id or scope in payload: {exc}")
        return None
    if not any(rec.get(k) for k in SCOPE_FIELDS):
        report.skip(memory_id, "payload has no user_id, agent_id or run_id")
        return None
    from memlab.store.rows import text_hash

    rec["hash"] = text_hash(text)
    if payload.get("hash") not in (None, rec["hash"]):
        report.repair(memory_id, "hash_recomputed", f"stored hash {payload['hash']} is not md5 of the text")
    rec["role"] = payload.get("role")
    rec["created_at"] = payload.get("created_at")
    rec["updated_at"] = payload.get("updated_at")
    meta = {}
    for key, value in payload.items():
        if key in MEM0_KEYS:
            continue
        if key == "memory_type" and value in MEMORY_TYPES:
            rec["memory_type"] = value
        elif key in RESERVED_METADATA:
            meta[f"mem0_{key}"] = value
            report.repair(memory_id, "metadata_key_renamed", f"payload key {key!r} is reserved in memlab; kept as 'mem0_{key}'")
        else:
            meta[key] = value
    rec["metadata"] = meta
    return rec


def _deleted_record(memory_id: str, rows: list) -> Optional[dict]:
    last = rows[-1]
    if last.get("event") != "DELETE" and not last.get("is_deleted"):
        return None
    text = last.get("old_memory") or next((r["new_memory"] for r in reversed(rows) if r.get("new_memory")), None)
    if not text:
        return None
    return {"id": memory_id, "memory": text, "state": "deleted", "created_at": rows[0].get("created_at"),
            "updated_at": last.get("updated_at") or last.get("created_at"),
            "deleted_at": last.get("updated_at") or last.get("created_at"),
            "actor_id": last.get("actor_id"), "role": last.get("role"), "metadata": {}}


def analyse_index(folder: Mem0Folder) -> dict:
    """Structural check of index vs id mapping vs docstore (no embedding involved)."""
    ntotal = 0 if folder.vectors is None else len(folder.vectors)
    mapped: dict[str, list[int]] = {}
    dangling = []
    for pos, memory_id in sorted(folder.index_to_id.items()):
        if memory_id not in folder.docstore or not 0 <= pos < ntotal:
            dangling.append(pos)
        else:
            mapped.setdefault(memory_id, []).append(pos)
    orphans = sorted(set(range(ntotal)) - {p for ps in mapped.values() for p in ps})
    consistent = (folder.vectors is not None and not dangling and not orphans
                  and len(mapped) == len(folder.docstore) and all(len(p) == 1 for p in mapped.values()))
    return {"ntotal": ntotal, "index_to_id_entries": len(folder.index_to_id),
            "docstore_entries": len(folder.docstore), "mapped": mapped, "dangling_positions": dangling,
            "orphan_positions": orphans, "consistent": consistent}


class Mem0FaissImporter(Importer):
    """A mem0 FAISS store folder (``<collection>.faiss`` + ``.pkl`` / ``.json`` + ``history.db``)."""

    name = "mem0"
    kind = "mem0 FAISS"
    source_help = "FAISS store folder"
    options = (
        ImportOption("collection", "collection name (file stem) if the folder has several"),
        ImportOption("history_db", "its history.db (default: history.db in PATH or its parent folder)"),
        ImportOption("reuse_vectors", "reuse stored vectors verified to match the target embedder", cli=False),
    )

    def read(self, source: Any, into: Any, *, collection: Optional[str] = None, history_db: Any = None,
             reuse_vectors: bool = True) -> ImportBatch:
        folder = read_mem0_folder(source, collection, history_db)
        report = ImportReport(source=str(source), kind=self.kind)
        report.warnings.extend(folder.problems)
        records = []
        for memory_id, payload in folder.docstore.items():
            rec = _payload_record(str(memory_id), payload, folder.history.get(memory_id) or [], report)
            if rec is not None:
                records.append(rec)
        info = analyse_index(folder)
        report.details["index"] = {k: v for k, v in info.items() if k != "mapped"} | {"index_type": folder.index_type}
        vectors = _choose_vectors(folder, info, records, into, report, reuse_vectors)
        for rec in records:
            if vectors.get(rec["id"]) is not None:
                rec["vector"] = vectors[rec["id"]]
        report.vectors_reused = len(report.details.pop("reused_ids", ()))
        # history: mem0's rows, verbatim; deleted memories come back as deleted rows
        for rec in records:
            rows = folder.history.get(rec["id"])
            if rows:
                rec["history"] = rows
            elif folder.history_path is not None:
                report.repair(rec["id"], "history_synthesized", "no rows in history.db: one ADD row written")
        deleted = []
        for memory_id, rows in folder.history.items():
            if memory_id in folder.docstore or memory_id is None:
                continue
            rec = _deleted_record(memory_id, rows)
            if rec is None:
                report.skip(memory_id, "history rows without a payload and without a DELETE event")
                continue
            rec["history"] = rows
            deleted.append(rec)
        report.details["deleted_ids"] = [r["id"] for r in deleted]
        report.vectors_embedded = len(records) - report.vectors_reused + len(deleted)
        return ImportBatch(report, records + deleted)


def import_mem0(path: Any, into: Any, *, collection: Optional[str] = None, history_db: Any = None,
                on_conflict: str = "error", reuse_vectors: bool = True) -> ImportReport:
    """Import a mem0 FAISS store folder into a memlab ``Memory`` (atomically) and report.

    Args:
        path: the folder mem0's FAISS store wrote (or its parent holding ``faiss/`` and ``history.db``).
        into: the target ``memlab.Memory``.
        collection: the collection name (file stem) when the folder holds several.
        history_db: mem0's ``history.db`` (default: next to the docstore or one level up).
        on_conflict: "error", "skip" or "replace" for ids already in the target.
        reuse_vectors: reuse stored vectors that are verified to match the target embedder.
    """
    return run_import(Mem0FaissImporter(), path, into, on_conflict=on_conflict, collection=collection,
                      history_db=history_db, reuse_vectors=reuse_vectors)


def _choose_vectors(folder: Mem0Folder, info: dict, records: list, into: Any, report: ImportReport,
                    reuse: bool) -> dict:
    """Stored vectors safe to reuse, by id; every id not returned is embedded from its text."""
    mapped = info["mapped"]
    for rec in records:  # structural findings hold whatever the embedder
        if rec["id"] not in mapped and folder.vectors is not None:
            report.repair(rec["id"], "unreachable", "no index position maps to this memory (mem0 search could "
                          "never return it); re-embedded from its text")
    if info["dangling_positions"]:
        report.repair(None, "dangling_mapping", f"index_to_id positions {info['dangling_positions']} point at "
                      "deleted ids or past the end of the index; dropped")
    if info["orphan_positions"]:
        report.repair(None, "orphan_vectors", f"{len(info['orphan_positions'])} index rows belong to no memory "
                      "(deleted or overwritten in mem0); not imported")
    if folder.vectors is None or not reuse:
        return {}
    vecs = folder.vectors
    single = [r for r in records if len(mapped.get(r["id"], [])) == 1]
    if vecs.shape[1] != into.store.dims:
        report.warnings.append(f"stored vectors are {vecs.shape[1]}-d, the target embedder makes "
                               f"{into.store.dims}-d: every memory is embedded from its text")
        return {}
    step = max(1, len(single) // SAMPLE)
    sample = single[::step][:SAMPLE]
    fresh = dict(zip((r["id"] for r in sample), into.embed([r["memory"] for r in sample])))
    unit = _normalise(vecs.copy())
    agree = [float(unit[mapped[r["id"]][0]] @ fresh[r["id"]]) > SAME for r in sample]
    report.details["vector_sample"] = len(sample)
    if not sample or np.mean(agree) < 0.5:  # a few corrupt rows must not hide a match
        report.warnings.append(f"stored vectors do not match the target embedder {into.embedder.name!r} on a "
                               f"sample of {len(sample)}: every memory is embedded from its text")
        if not info["consistent"]:
            report.warnings.append("the index and id mapping disagree; without the source model the mis-mapped "
                                   "memories cannot be named, re-embedding all repairs them")
        return {}
    # Stored vectors come from the target's model. Verify every one if the mapping is damaged.
    checked = records if not info["consistent"] else sample
    todo = [r for r in checked if r["id"] not in fresh]
    fresh.update(zip((r["id"] for r in todo), into.embed([r["memory"] for r in todo])))
    checked_ids = [r["id"] for r in checked]
    fresh_mat = np.vstack([fresh[i] for i in checked_ids]) if checked_ids else np.zeros((0, vecs.shape[1]))
    out, reused = {}, set()
    for rec in records:
        positions = mapped.get(rec["id"], [])
        if len(positions) > 1:
            report.repair(rec["id"], "multiply_mapped", f"positions {positions} all map to this memory; re-embedded")
        elif len(positions) == 1:
            # consistent store, not sampled: trust the sample's verdict; else verify this one
            cos = float(unit[positions[0]] @ fresh[rec["id"]]) if rec["id"] in fresh else 1.0
            if cos > SAME:
                out[rec["id"]] = unit[positions[0]]
                reused.add(rec["id"])
                continue
            scores = fresh_mat @ unit[positions[0]]
            owner = int(np.argmax(scores)) if len(scores) else -1
            whose = ""
            if owner >= 0 and float(scores[owner]) > SAME:
                whose = f" (it holds the vector of {checked_ids[owner]}: {checked[owner]['memory'][:40]!r})"
            report.repair(rec["id"], "mis_mapped", f"index position {positions[0]} does not hold this memory's "
                          f"vector{whose}; cosine {cos:.3f}; re-embedded from its text")
        if rec["id"] in fresh and rec["id"] not in out:
            out[rec["id"]] = fresh[rec["id"]]  # already embedded by the target: no second pass
    if not info["consistent"]:
        report.details["positions_holding_vector"] = {
            i: np.flatnonzero(unit @ fresh[i] > SAME).tolist() for i in checked_ids}
    report.details["reused_ids"] = reused
    return out
