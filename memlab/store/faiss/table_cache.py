"""The rows of an on-disk FAISS store, saved beside ``memlab.db`` so a re-open skips SQLite's row-by-row read.

Opening a store reads every row from SQLite (about 0.15 s per 20,000 rows for the values alone, the
vectors' blobs joined, the metadata JSON parsed). :func:`save` writes what that read produces --
vids, seqs, vectors, context vectors and the columns as one JSON document -- to ``table-cache.npz``
when the store is closed after a change, and :func:`load` gives it back on the next open instead of
the read. The file is a cache, never the truth: it is used only when its *stamp* still matches the
database -- the store epoch (``reset()``/restore change it), the store-wide write counter every
transaction bumps, the rows' count, largest vid and sum of seqs, the category links' count and the
schema revision -- so a write by any process, a reset or a schema change since it was written means a
normal read. And it is *sealed* after the connection closes (:func:`seal`: ``memlab.db``'s size and
modification time, no pending WAL): any later change to the file by any tool -- an ``sqlite3`` shell, a
damaged disk, another program -- unseals it, so opening never hides what the database now says. Doctor
checks delete it (:func:`discard`). No pickle: arrays and JSON only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import numpy as np

from memlab.store.faiss.table import COLUMNS

FILE = "table-cache.npz"
SEAL = "table-cache.seal"
FORMAT = 1


def _file_state(directory: Path) -> Optional[list]:
    """memlab.db's (size, mtime_ns); None while a write-ahead log holds changes not yet in it."""
    db = Path(directory) / "memlab.db"
    wal = db.with_name(db.name + "-wal")
    try:
        if wal.exists() and wal.stat().st_size > 0:
            return None
        st = db.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def seal(directory: Path) -> None:
    """After the store's connection is closed: record the database file's state the cache belongs to."""
    state = _file_state(directory)
    target = Path(directory) / SEAL
    try:
        if state is None:
            target.unlink(missing_ok=True)
        else:
            target.write_text(json.dumps(state), encoding="utf-8")
    except OSError:
        pass


def stamp(conn, epoch: Optional[str]) -> Optional[dict]:
    """What the cache must match: the database's state in a few aggregate reads (about a millisecond
    per 10,000 rows), or None when it cannot be read."""
    try:
        seq = conn.execute("SELECT value FROM store_meta WHERE key = 'seq'").fetchone()
        n, max_vid, total_seq = conn.execute("SELECT count(*), max(vid), total(seq) FROM memories").fetchone()
        links = conn.execute("SELECT count(*) FROM memory_categories").fetchone()[0]
        try:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except Exception:  # a store without Alembic's table (older stores)
            revision = None
    except Exception:
        return None
    return {"format": FORMAT, "epoch": epoch, "seq": None if seq is None else str(seq[0]), "n": int(n),
            "max_vid": max_vid, "total_seq": float(total_seq or 0), "links": int(links),
            "revision": None if revision is None else str(revision[0])}


def save(directory: Path, table, conn, epoch: Optional[str]) -> Optional[dict]:
    """Write the table's rows to ``directory / FILE`` atomically; returns the stamp written (None: not
    written -- no epoch, a table out of step with SQLite, or an unwritable disk)."""
    if epoch is None or not table.n:
        return None
    n = table.n
    got = conn.execute("SELECT vid, seq FROM memories ORDER BY vid").fetchall()
    if len(got) != n:
        return None
    vids_seqs = np.asarray(got, dtype=np.int64).reshape(-1, 2)
    if not np.array_equal(vids_seqs[:, 0], table.vids[:n]):
        return None
    mark = stamp(conn, epoch)
    if mark is None:
        return None
    cats = {str(pos): list(names) for pos, names in enumerate(table._cols["categories"][:n].tolist()) if names}
    try:
        rows = json.dumps({"columns": {c: table._cols[c][:n].tolist() for c in COLUMNS}, "categories": cats},
                          ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # a value JSON cannot hold exactly: no cache
        return None
    data = {"meta": np.frombuffer(json.dumps(mark).encode(), dtype=np.uint8), "vids": vids_seqs[:, 0],
            "seqs": vids_seqs[:, 1], "vecs": table.vecs[:n], "has_ctx": table.has_ctx[:n],
            "rows": np.frombuffer(rows.encode("utf-8"), dtype=np.uint8)}
    if table.ctx_vecs is not None and table.has_ctx[:n].any():
        data["ctx_vecs"] = table.ctx_vecs[:n][table.has_ctx[:n]]
    target = Path(directory) / FILE
    tmp = target.with_name(f".{FILE}.{os.getpid()}.tmp")
    (Path(directory) / SEAL).unlink(missing_ok=True)  # sealed again once the connection is closed
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **data)
        os.replace(tmp, target)
    except OSError:
        return None  # a cache: a read-only or full disk only costs a normal read next time
    finally:
        tmp.unlink(missing_ok=True)
    return mark


def load(directory: Path, conn, epoch: Optional[str], dims: int) -> Optional[tuple]:
    """``(vids, columns, vectors, seqs, stamp)`` from the file when its stamp matches the database, else None.
    ``columns`` is what the SQLite read gives the table (metadata parsed, ``context_vector`` per row,
    ``categories`` by position)."""
    target = Path(directory) / FILE
    if epoch is None or not target.is_file():
        return None
    try:
        sealed = json.loads((Path(directory) / SEAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if sealed != _file_state(directory):  # the file changed since the cache was sealed: read it
        return None
    mark = stamp(conn, epoch)
    try:
        with np.load(target, allow_pickle=False) as data:
            if mark is None or json.loads(bytes(data["meta"]).decode()) != mark:
                return None
            vids, seqs, vecs, has_ctx = data["vids"], data["seqs"], data["vecs"], data["has_ctx"]
            ctx = data["ctx_vecs"] if "ctx_vecs" in data.files else np.zeros((0, dims), np.float32)
            rows = json.loads(bytes(data["rows"]).decode("utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    n = len(vids)
    if vecs.shape != (n, dims) or len(seqs) != n or len(has_ctx) != n or len(ctx) != int(has_ctx.sum()):
        return None
    columns = {c: rows["columns"][c] for c in COLUMNS}
    if any(len(v) != n for v in columns.values()):
        return None
    context = [None] * n
    for pos, vec in zip(np.flatnonzero(has_ctx).tolist(), ctx):
        context[pos] = vec
    columns["context_vector"] = context
    columns["categories"] = {int(pos): names for pos, names in rows["categories"].items()}
    return vids, columns, vecs, seqs, mark


def discard(directory: Optional[Path]) -> None:
    """Delete the cache (a repair changed rows without a transaction's write counter)."""
    if directory is not None:
        (Path(directory) / SEAL).unlink(missing_ok=True)
        (Path(directory) / FILE).unlink(missing_ok=True)
