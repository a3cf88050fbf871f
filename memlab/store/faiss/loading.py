"""Loading a store's rows from SQLite into the in-memory table and the FAISS index, and catching up
with commits of other connections (the read side of the FAISS + SQLite engine)."""

from __future__ import annotations

import json
from typing import Optional

import numpy as np

from memlab.errors import StoreError
from memlab.store.faiss.transaction import ROW_COLUMNS


class StoreLoading:
    """Mixin of :class:`~memlab.store.faiss.engine.Store`: decode rows, bulk-load, sync, invalidate."""

    def _decode(self, r, categories: Optional[dict] = None) -> dict:
        row = dict(zip(("vid", *ROW_COLUMNS), r[: 1 + len(ROW_COLUMNS)]))
        try:
            row["metadata"] = json.loads(row["metadata"]) if row["metadata"] else {}
        except ValueError:  # a damaged row must not surface as a bare JSONDecodeError
            raise StoreError(f"Memory {row['id']} has unreadable metadata JSON; run `memlab doctor` on the store.") from None
        row["vector"] = np.frombuffer(r[1 + len(ROW_COLUMNS)], dtype=np.float32)
        ctx = row.get("context_vector")
        if ctx is not None:
            ctx = np.frombuffer(ctx, dtype=np.float32)
            row["context_vector"] = ctx if len(ctx) == self.dims else None  # a damaged blob: no context vector
        row["categories"] = (self._category_names(row["id"]) if categories is None
                             else categories.get(row["id"], []))
        return row

    def _category_names(self, memory_id: str) -> list[str]:
        return [n for (n,) in self.conn.execute(
            "SELECT c.name FROM memory_categories mc JOIN categories c ON c.id = mc.category_id "
            "WHERE mc.memory_id = ? ORDER BY c.name", (memory_id,))]

    def _meta(self, key: str) -> Optional[str]:
        r = self.conn.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
        return r[0] if r else None

    def _load_rows(self, since_seq: int) -> None:
        cur = self.conn.execute(
            f"SELECT vid, {', '.join(ROW_COLUMNS)}, vector, seq FROM memories WHERE seq > ? ORDER BY vid",
            (since_seq,),
        )
        added_vids, added_vecs, removed = [], [], []
        max_seq = since_seq
        table = self.table
        cats: dict[str, list] = {}  # one query for the categories of every changed row
        for memory_id, name in self.conn.execute(
                "SELECT mc.memory_id, c.name FROM memory_categories mc JOIN categories c ON c.id = mc.category_id "
                "WHERE mc.memory_id IN (SELECT id FROM memories WHERE seq > ?) ORDER BY c.name", (since_seq,)):
            cats.setdefault(memory_id, []).append(name)
        for r in cur:
            row = self._decode(r[:-1], cats)
            vid = row.pop("vid")
            vec = row.pop("vector")
            if len(vec) != self.dims:
                raise StoreError(f"Row {row['id']} has a {len(vec)}-d vector in a {self.dims}-d store; run `memlab doctor`.")
            pos = table.pos_by_id.get(row["id"])
            if pos is not None and table.active[pos]:
                removed.append(int(table.vids[pos]))
            _, _, is_active = table.upsert(vid, row, vec)
            if is_active:
                added_vids.append(vid)
                added_vecs.append(vec)
            max_seq = max(max_seq, r[-1])
        if removed:
            self.index.remove(removed)
        if added_vids:
            self.index.add(np.asarray(added_vids, dtype=np.int64), np.vstack(added_vecs))
        self.last_seq = max_seq

    def _load_all(self) -> None:
        with self.lock:
            self.table.clear()
            self.index.reset()
            self.last_seq = 0
            self.epoch = self._meta("epoch")
            self._data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            self._bulk_load()

    def _bulk_load(self) -> None:
        """Initial load, column by column (a 100k-memory store re-opens in about a second), or from the
        rows saved at the last close when the database has not changed since (memlab.store.faiss.table_cache)."""
        from memlab.store.faiss import table_cache

        cached = table_cache.load(self.path, self.conn, self.epoch, self.dims) if self.path is not None else None
        if cached is not None:
            vids, data, vecs, seqs, self._table_saved = cached
        else:
            got = self._read_rows()
            if got is None:
                return
            vids, data, vecs, seqs = got
        rebuilt = self.table.keyword is not None
        active = self.table.bulk_load(vids, data, vecs)
        self.index.add(vids[active], vecs[active])
        self.last_seq = int(seqs.max())
        if self.path is not None and not rebuilt:  # the keyword indexes saved at the last close, if usable
            from memlab.store.faiss import keyword_cache

            if keyword_cache.restore(self.path, self.table, self.epoch, seqs):
                self._keyword_saved_seq = self.last_seq
        if cached is None:
            self._table_saved = None

    def _read_rows(self) -> Optional[tuple]:
        """(vids, columns, vectors, seqs) of every row, read from SQLite; None for an empty store."""
        rows = self.conn.execute(
            f"SELECT vid, {', '.join(ROW_COLUMNS)}, vector, seq FROM memories ORDER BY vid"
        ).fetchall()
        if not rows:
            return None
        n = len(rows)
        columns = list(zip(*rows))
        blobs = columns[1 + len(ROW_COLUMNS)]
        width = self.dims * 4
        if set(map(len, blobs)) != {width}:
            bad = next(i for i, b in enumerate(blobs) if len(b) != width)
            raise StoreError(
                f"Row {columns[1][bad]} has a {len(blobs[bad]) // 4}-d vector in a {self.dims}-d store; "
                "run `memlab doctor` on it."
            )
        vecs = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(n, self.dims)
        data = {c: columns[1 + i] for i, c in enumerate(ROW_COLUMNS)}
        data["metadata"] = self._decode_metadata_column(data["id"], data["metadata"])
        pos_of = {memory_id: i for i, memory_id in enumerate(data["id"])}
        cats: dict[int, list] = {}
        for memory_id, name in self.conn.execute(
                "SELECT mc.memory_id, c.name FROM memory_categories mc JOIN categories c ON c.id = mc.category_id "
                "ORDER BY c.name"):
            if memory_id in pos_of:
                cats.setdefault(pos_of[memory_id], []).append(name)
        data["categories"] = cats
        return (np.fromiter(columns[0], dtype=np.int64, count=n), data, vecs,
                np.fromiter(columns[-1], dtype=np.int64, count=n))

    @staticmethod
    def _decode_metadata_column(ids, texts) -> list:
        """Parse every row's metadata JSON in one call (one C-level parse, not 100k Python calls)."""
        try:
            metas = json.loads("[" + ",".join(t or "{}" for t in texts) + "]")
            if len(metas) == len(texts) and all(isinstance(m, dict) for m in metas):
                return metas
        except ValueError:
            pass
        metas = []  # something is off: find the row, row by row
        for memory_id, text in zip(ids, texts):
            try:
                meta = json.loads(text) if text else {}
            except ValueError:
                meta = None
            if not isinstance(meta, dict):
                raise StoreError(
                    f"Memory {memory_id} has unreadable metadata JSON; run `memlab doctor` on the store."
                ) from None
            metas.append(meta)
        return metas

    def sync(self) -> None:
        """Catch up with commits made by other connections (other processes or Memory objects)."""
        with self.lock:
            dv = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if dv == self._data_version:
                return
            self._data_version = dv
            try:
                if self._meta("epoch") != self.epoch:
                    self._load_all()
                else:
                    self._load_rows(self.last_seq)
            except BaseException:
                self._invalidate()
                raise

    def _invalidate(self) -> None:
        """Forget what was loaded: the next access reloads everything from SQLite. Used when an
        in-memory update was cut short (KeyboardInterrupt in a notebook, a damaged row), which
        would otherwise leave the table/index silently out of step with SQLite."""
        self._data_version = None
        self.epoch = None
