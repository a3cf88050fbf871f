"""The individual checks (and repairs) of a store's SQLite database, in-memory table and FAISS index."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import contextmanager
from typing import Any, Optional

import numpy as np

from memlab.doctor.report import MAX_IDS, DoctorReport, Finding
from memlab.enums import MemoryState
from memlab.errors import MemlabError

STATES = {s.value for s in MemoryState}


@contextmanager
def _write(conn: sqlite3.Connection):
    conn.execute("BEGIN IMMEDIATE")
    try:
        seq = int(conn.execute(
            "UPDATE store_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' RETURNING value"
        ).fetchone()[0])
        yield seq
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class StoreChecks:
    def __init__(self, conn: sqlite3.Connection, report: DoctorReport, embedder: Any = None):
        self.conn = conn
        self.report = report
        self.repair = report.repair
        self.embedder = embedder
        self.dims: Optional[int] = None
        self.meta: dict = {}
        self.before_repair = None  # callable taking a snapshot before the first repair
        self.can_open = True  # False: opening a Store would change the file (old schema) or fail

    def add(self, check: str, status: str, message: str, ids=()) -> None:
        self.report.findings.append(Finding(check, status, message, list(ids)[:MAX_IDS]))

    def _repairing(self) -> None:
        if self.before_repair is not None:
            self.report.snapshot = self.before_repair()
            self.before_repair = None

    # ------------------------------------------------------------------ SQLite level
    def sqlite(self) -> bool:
        try:
            msgs = [r[0] for r in self.conn.execute("PRAGMA integrity_check(50)")]
        except sqlite3.DatabaseError as exc:
            self.add("sqlite", "error", f"not a readable SQLite database ({exc}); restore a snapshot "
                     "(`memlab db rollback`) or salvage it with `sqlite3 memlab.db .recover`.")
            return False
        if msgs == ["ok"]:
            self.add("sqlite", "ok", "PRAGMA integrity_check: ok")
            return True
        if self.repair:
            self._repairing()
            try:
                self.conn.execute("REINDEX")
                msgs2 = [r[0] for r in self.conn.execute("PRAGMA integrity_check(50)")]
            except sqlite3.DatabaseError:
                msgs2 = msgs
            if msgs2 == ["ok"]:
                self.add("sqlite", "repaired", f"{len(msgs)} integrity problem(s) fixed by REINDEX")
                return True
        self.add("sqlite", "error", f"integrity_check failed: {'; '.join(msgs[:3])}. Not repairable here: restore "
                 "a snapshot (`memlab db rollback`) or salvage with `sqlite3 memlab.db .recover`.")
        return False

    def schema(self) -> bool:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = {"memories", "history", "store_meta", "alembic_version"} - tables
        if missing:
            self.add("schema", "error", f"missing table(s) {sorted(missing)}: this is not a memlab store.")
            return False
        row = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
        rev = row[0] if row else None
        from memlab.store.faiss import schema as S

        head = getattr(S, "HEAD_REVISION", rev)
        if rev == head:
            self.add("schema", "ok", f"schema revision {rev}")
        elif rev not in getattr(S, "REVISIONS", (rev,)):
            self.add("schema", "error", f"unknown schema revision {rev!r} (written by a newer memlab?); "
                     "the index check was skipped.")
            self.can_open = False
        elif self.repair:
            self.add("schema", "warning", f"schema revision {rev} is behind {head}: upgraded on opening "
                     "(after a snapshot)")
        else:
            self.add("schema", "warning", f"schema revision {rev} is behind {head}; opening the store upgrades it, "
                     "so the index check was skipped (run `memlab db upgrade` or --repair).")
            self.can_open = False
        return True

    def store_meta(self) -> bool:
        self.meta = dict(self.conn.execute("SELECT key, value FROM store_meta").fetchall())
        try:
            self.dims = int(self.meta["dims"])
        except (KeyError, ValueError):
            self.dims = 0
        if self.dims <= 0:
            self.add("meta", "error", f"store_meta has no valid 'dims' ({self.meta.get('dims')!r}); "
                     "the store cannot be opened.")
            return False
        max_seq = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM memories").fetchone()[0]
        seq = self.meta.get("seq")
        problems = []
        if "embedder" not in self.meta:
            problems.append("no embedder recorded")
        if "epoch" not in self.meta:
            problems.append("no epoch")
        if seq is None or not str(seq).isdigit() or int(seq) < max_seq:
            problems.append(f"seq {seq!r} is behind the newest row ({max_seq}): new writes would be invisible "
                            "to other processes")
        if not problems:
            self.add("meta", "ok", f"embedder {self.meta['embedder']!r}, {self.dims}-d, seq {seq}")
            return True
        if "no embedder recorded" in problems:
            self.can_open = False  # opening would record whatever embedder we pass: not a check's business
        if self.repair and "no embedder recorded" not in problems:
            self._repairing()
            import uuid

            self.conn.execute("BEGIN IMMEDIATE")
            try:
                cur_seq = self.conn.execute("SELECT value FROM store_meta WHERE key = 'seq'").fetchone()
                cur_seq = int(cur_seq[0]) if cur_seq and str(cur_seq[0]).isdigit() else 0
                max_seq = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM memories").fetchone()[0]
                self.conn.execute("INSERT OR REPLACE INTO store_meta VALUES ('seq', ?)", (str(max(max_seq, cur_seq)),))
                self.conn.execute("INSERT OR IGNORE INTO store_meta VALUES ('epoch', ?)", (uuid.uuid4().hex,))
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            self.meta = dict(self.conn.execute("SELECT key, value FROM store_meta").fetchall())
            self.add("meta", "repaired", "; ".join(problems))
            return True
        self.add("meta", "error", "; ".join(problems) + ("" if self.repair else " (repairable: --repair)"))
        return True

    # ------------------------------------------------------------------ rows
    def rows(self) -> None:
        dims = self.dims
        unusable, unnormalised, bad_meta, bad_state, unscoped, bad_hash = [], [], [], [], [], []
        n = active = 0
        cur = self.conn.execute("SELECT id, memory, hash, metadata, state, user_id, agent_id, run_id, vector "
                                "FROM memories ORDER BY vid")
        for mid, text, h, meta, state, uid, aid, rid, blob in cur:
            n += 1
            active += state == "active"
            if blob is None or len(blob) != 4 * dims:
                unusable.append(mid)
            else:
                vec = np.frombuffer(blob, dtype=np.float32)
                norm = float(np.linalg.norm(vec.astype(np.float64)))
                if not np.isfinite(vec).all() or norm == 0:
                    unusable.append(mid)
                elif abs(norm - 1.0) > 1e-3:
                    unnormalised.append(mid)
            try:
                ok_meta = isinstance(json.loads(meta) if meta else {}, dict)
            except (ValueError, TypeError):
                ok_meta = False
            if not ok_meta:
                bad_meta.append(mid)
            if state not in STATES:
                bad_state.append(mid)
            if state != "deleted" and not (uid or aid or rid):
                unscoped.append(mid)
            if isinstance(text, str) and h != hashlib.md5(text.encode("utf-8", "replace")).hexdigest():
                bad_hash.append(mid)
        hist = self.conn.execute("SELECT count(*) FROM history").fetchone()[0]
        self.report.stats.update(rows=n, active=active, history=hist, dims=dims,
                                 embedder=self.meta.get("embedder"), seq=_as_int(self.meta.get("seq")))
        self._vectors(unusable, unnormalised)
        if bad_meta or bad_state:
            self.add("rows", "error", f"{len(bad_meta)} row(s) with unreadable metadata, {len(bad_state)} with an "
                     "unknown state; fix them by hand (UPDATE memories ...) or delete them.", bad_meta + bad_state)
        if unscoped or bad_hash:
            self.add("rows", "warning", f"{len(unscoped)} live row(s) without user_id/agent_id/run_id (invisible to "
                     f"scoped calls); {len(bad_hash)} hash(es) differ from md5(text) (imported as-is?)",
                     unscoped + bad_hash)
        if not (bad_meta or bad_state or unscoped or bad_hash):
            self.add("rows", "ok", f"{n} rows ({active} active), {hist} history rows")

    def _vectors(self, unusable: list, unnormalised: list) -> None:
        if not unusable and not unnormalised:
            self.add("vectors", "ok", f"every vector is {self.dims}-d, finite and unit-norm")
            return
        what = f"{len(unusable)} unusable vector(s) (wrong size, NaN/inf or zero), {len(unnormalised)} not unit-norm"
        embedder = self._store_embedder() if unusable and self.repair else None
        if not self.repair or (unusable and embedder is None):
            hint = " (repairable: --repair)" if not self.repair else (
                "; re-embedding needs the store's embedder: run Memory(config).check(repair=True)")
            self.add("vectors", "error", what + hint, unusable + unnormalised)
            return
        self._repairing()
        with _write(self.conn) as seq:
            for mid in unnormalised:
                blob = self.conn.execute("SELECT vector FROM memories WHERE id = ?", (mid,)).fetchone()[0]
                vec = np.frombuffer(blob, dtype=np.float32).astype(np.float64)
                vec = (vec / np.linalg.norm(vec)).astype(np.float32)
                self.conn.execute("UPDATE memories SET vector = ?, seq = ? WHERE id = ?", (vec.tobytes(), seq, mid))
            if unusable:
                from memlab.embedders import check_vectors

                texts = [self.conn.execute("SELECT memory FROM memories WHERE id = ?", (m,)).fetchone()[0]
                         for m in unusable]
                vecs = check_vectors(embedder.embed(texts), len(texts), self.dims, str(embedder.name))
                for mid, vec in zip(unusable, vecs):
                    self.conn.execute("UPDATE memories SET vector = ?, seq = ? WHERE id = ?",
                                      (vec.tobytes(), seq, mid))
        self.add("vectors", "repaired", what + ": normalised / re-embedded", unusable + unnormalised)

    def _store_embedder(self):
        """The embedder that built the store (given, or rebuilt from its recorded name)."""
        name = self.meta.get("embedder", "")
        if self.embedder is not None:
            return self.embedder if str(self.embedder.name) == name else None
        from memlab.embedders import create_embedder

        try:
            if name.startswith("hash:"):
                _, dims, ngrams, chars = name.split(":")
                lo, hi = ngrams.split("-")
                emb = create_embedder("hash", {"embedding_dims": int(dims), "ngram_range": (int(lo), int(hi)),
                                               "char_ngrams": int(chars.lstrip("c"))})
            elif name.startswith("minilm:"):
                emb = create_embedder("minilm", {})
            else:
                return None
        except (MemlabError, ValueError):
            return None
        return emb if str(emb.name) == name else None

    # ------------------------------------------------------------------ index and embedder
    def index(self, store) -> None:
        """Compare an open Store's table and FAISS index with SQLite; rebuild on repair."""
        problems = self._index_problems(store)
        self.report.stats["index_ntotal"] = store.index.ntotal
        if not problems:
            self.add("index", "ok", f"FAISS index holds exactly the {store.index.ntotal} active rows")
            return
        if self.repair:
            with store.lock:
                store._load_all()
            left = self._index_problems(store)
            if not left:
                self.add("index", "repaired", "; ".join(problems) + ": rebuilt from SQLite")
                self.report.stats["index_ntotal"] = store.index.ntotal
                return
            problems = left
        self.add("index", "error", "; ".join(problems) + ("" if self.repair else " (repairable: --repair)"))

    def _index_problems(self, store) -> list:
        import faiss

        with store.lock:
            store.sync()
            rows = store.conn.execute("SELECT vid, id, memory, state, vector, seq FROM memories").fetchall()
            t, problems = store.table, []
            active = {vid: blob for vid, _, _, state, blob, _ in rows if state == "active"}
            ids = faiss.vector_to_array(store.index.index.id_map).astype(np.int64) if store.index.ntotal else \
                np.empty(0, np.int64)
            if len(ids) != len(set(ids.tolist())):
                problems.append("duplicate ids in the FAISS index")
            if set(ids.tolist()) != set(active):
                problems.append(f"FAISS holds {len(ids)} ids, SQLite has {len(active)} active rows "
                                f"({len(set(active) - set(ids.tolist()))} missing, "
                                f"{len(set(ids.tolist()) - set(active))} stale)")
            else:
                bad = [v for v, blob in active.items()
                       if store.index.index.reconstruct(int(v)).tobytes() != blob]
                if bad:
                    problems.append(f"{len(bad)} FAISS vector(s) differ from their SQLite blobs")
            if t.n != len(rows):
                problems.append(f"table holds {t.n} rows, SQLite {len(rows)}")
            else:
                for vid, mid, text, state, blob, _ in rows:
                    pos = t.pos_by_id.get(mid)
                    if (pos is None or t.vids[pos] != vid or t.column("memory")[pos] != text
                            or t.column("state")[pos] != state or bool(t.active[pos]) != (state == "active")
                            or t.vecs[pos].tobytes() != blob):
                        problems.append(f"table row {mid} differs from SQLite")
                        break
            max_seq = max((r[5] for r in rows), default=0)
            if store.last_seq < max_seq:
                problems.append(f"in-memory state is behind SQLite (seq {store.last_seq} < {max_seq})")
            return problems

    def embedder_check(self) -> None:
        if self.embedder is None:
            self.add("embedder", "skipped", f"no embedder given; store_meta says {self.meta.get('embedder')!r} "
                     f"({self.dims}-d)")
            return
        from memlab.embedders import check_vectors

        name, dims = str(self.embedder.name), int(self.embedder.dims)
        if name != self.meta.get("embedder") or dims != self.dims:
            self.add("embedder", "error", f"embedder {name!r} ({dims}-d) differs from the store's "
                     f"{self.meta.get('embedder')!r} ({self.dims}-d); configure the store's embedder.")
            return
        try:
            check_vectors(self.embedder.embed(["memlab doctor probe"]), 1, self.dims, name)
        except MemlabError as exc:
            self.add("embedder", "error", f"probe embedding failed: {exc}")
            return
        self.add("embedder", "ok", f"{name!r} produces {self.dims}-d unit vectors, as recorded")


def run_sqlite_checks(doc: StoreChecks) -> bool:
    """Steps 1-5; True when the store can be opened for the index check."""
    if not doc.sqlite() or not doc.schema() or not doc.store_meta():
        return False
    doc.rows()
    return doc.can_open and not any(f.status == "error" and f.check in ("vectors", "meta", "rows") for f in doc.report.findings)


def _as_int(value):
    """store_meta keeps values as text; report a numeric ``seq`` as a number (for JSON readers)."""
    return int(value) if isinstance(value, str) and value.isdigit() else value
