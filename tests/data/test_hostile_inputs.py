"""Damaged or hostile mem0 input: a clear MigrationError or a reported skip, never a half-written target."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pytest

from memlab import Memory
from memlab.errors import MigrationError
from memlab.migrate import import_mem0

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}


@dataclass
class Source:
    """A damaged-able mem0 <= 1.0.x store: its folder and what a full import holds."""

    folder: Path
    live: list      # ids of the memories in the docstore, in docstore order
    deleted: int    # memories only in history.db (deleted in mem0)

    @property
    def total(self) -> int:
        return len(self.live) + self.deleted


@pytest.fixture(params=["built", "shared"])
def src(request, tmp_path) -> Source:
    """A writable mem0 0.1.x-layout store to damage: one the test builds (always available) and a
    copy of the real mem0 0.1.118 store from ../shared (skipped when ../shared is absent)."""
    dst = tmp_path / "mem0"
    if request.param == "built":
        from memlab.embedders import create_embedder
        from tests.data.mem0_builder import drifted_store

        b = drifted_store(create_embedder("hash", {"embedding_dims": 128}))
        b.save(dst, "pkl")
        truth = b.truth()
        return Source(dst, list(b.docstore), len(truth.deleted))
    shared_dir = request.getfixturevalue("shared_dir")
    shutil.copytree(shared_dir / "fixtures" / "mem0" / "v0_1_118", dst)
    for p in dst.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    exp = json.loads((dst / "expected.json").read_text())
    return Source(dst, [e["id"] for e in exp["memories"]], len(exp["deleted_ids"]))


@pytest.fixture
def v0118(src) -> Path:
    return src.folder


@pytest.fixture
def target(tmp_path):
    m = Memory(HASH, path=str(tmp_path / "target"))
    m.add_records([{"id": "11111111-1111-4111-8111-111111111111", "memory": "already here", "user_id": "zed"}])
    yield m
    m.close()


def _state(m) -> str:
    conn = sqlite3.connect(str(m.store.path / "memlab.db"))
    h = hashlib.sha256()
    for t in ("memories", "history", "categories", "memory_categories", "configs", "store_meta"):
        for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1"):
            h.update(repr(row).encode())
    conn.close()
    return h.hexdigest()


class Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_truncated_pickle(v0118, target):
    before = _state(target)
    pkl = v0118 / "faiss" / "mem0.pkl"
    pkl.write_bytes(pkl.read_bytes()[:1000])
    with pytest.raises(MigrationError, match="truncated or corrupted"):
        import_mem0(v0118, into=target)
    assert _state(target) == before


def test_pickle_with_code_is_never_executed(v0118, target, tmp_path):
    before = _state(target)
    sentinel = tmp_path / "pwned"
    (v0118 / "faiss" / "mem0.pkl").write_bytes(pickle.dumps(({"x": Evil(sentinel)}, {})))
    with pytest.raises(MigrationError, match="system"):
        import_mem0(v0118, into=target)
    assert not sentinel.exists()
    assert _state(target) == before


@pytest.mark.parametrize("payload", [[1, 2, 3], ({"a": 1},), "text"])
def test_builtin_pickle_of_the_wrong_shape(v0118, target, payload):
    (v0118 / "faiss" / "mem0.pkl").write_bytes(pickle.dumps(payload))
    with pytest.raises(MigrationError, match="docstore"):
        import_mem0(v0118, into=target)


def test_wrong_dims_index_is_reported_and_texts_reembedded(src, target):
    index = faiss.IndexFlatIP(64)
    index.add(np.random.default_rng(0).standard_normal((42, 64)).astype("float32"))
    faiss.write_index(index, str(src.folder / "faiss" / "mem0.faiss"))
    report = import_mem0(src.folder, into=target)
    assert any("64-d" in w for w in report.warnings)
    assert report.vectors_reused == 0 and len(report.imported) == src.total


def test_garbage_index_and_missing_history_are_reported_not_fatal(src, target):
    v0118 = src.folder
    (v0118 / "faiss" / "mem0.faiss").write_bytes(b"not a faiss index at all")
    (v0118 / "history.db").unlink()
    report = import_mem0(v0118, into=target)
    assert any("unreadable" in w for w in report.warnings)
    assert any("no history.db" in w for w in report.warnings)
    assert sorted(report.imported) == sorted(src.live)  # deleted memories only exist in history
    some = report.imported[0]
    assert [h["event"] for h in target.history(some)] == ["ADD"]


def test_missing_docstore_and_folder(v0118, target, tmp_path):
    before = _state(target)
    (v0118 / "faiss" / "mem0.pkl").unlink()
    with pytest.raises(MigrationError, match="No mem0 docstore"):
        import_mem0(v0118, into=target)
    with pytest.raises(MigrationError, match="does not exist"):
        import_mem0(tmp_path / "nowhere", into=target)
    assert _state(target) == before


def test_broken_history_db(v0118, target):
    (v0118 / "history.db").write_bytes(b"garbage" * 100)
    with pytest.raises(MigrationError, match="SQLite"):
        import_mem0(v0118, into=target)


def test_truncated_json_docstore_of_real_mem0_2(tmp_path, target, shared_dir):
    """(the built-store variant is in test_mem0_repair_local.py)"""
    v221 = tmp_path / "v221"
    shutil.copytree(shared_dir / "fixtures" / "mem0" / "v2_2_1", v221)
    os.chmod(v221 / "faiss", 0o755)
    js = v221 / "faiss" / "mem0.json"
    os.chmod(js, 0o644)
    js.write_text(js.read_text()[:500])
    with pytest.raises(MigrationError, match="not valid JSON"):
        import_mem0(v221, into=target)


def test_damaged_payloads_are_recovered_from_history_or_skipped(src, target):
    v0118 = src.folder
    pkl = v0118 / "faiss" / "mem0.pkl"
    from memlab.migrate.importers.safe_pickle import load_builtin_pickle

    docstore, index_to_id = load_builtin_pickle(pkl.read_bytes(), "x")
    first, second = list(docstore)[:2]
    text = docstore[first]["data"]
    del docstore[first]["data"]
    docstore[second] = "garbage"
    docstore["bad id\twith a tab"] = {"data": "x", "user_id": "maya_lindqvist"}
    pkl.write_bytes(pickle.dumps((docstore, index_to_id)))
    report = import_mem0(v0118, into=target)
    assert report.repaired_ids("text_from_history") == {first}
    assert target.get(first)["memory"] == text
    assert report.skipped[0] == {"id": second, "reason": "payload is a str, not a dict; nothing to recover"}
    assert report.skipped[1]["id"] == "bad id\twith a tab" and "invalid id" in report.skipped[1]["reason"]
    assert not report.ok and len(report.imported) == src.total - 1


def test_conflict_midway_rolls_everything_back(src, target):
    v0118 = src.folder
    middle = src.live[len(src.live) // 2]
    target.add_records([{"id": middle, "memory": "a different memory", "user_id": "zed"}])
    before = _state(target)
    with pytest.raises(MigrationError, match="already exists"):
        import_mem0(v0118, into=target)
    assert _state(target) == before and target.store.count() == 2
    report = import_mem0(v0118, into=target, on_conflict="skip")
    assert {s["id"] for s in report.skipped} == {middle} and len(report.imported) == src.total - 1
    assert target.get(middle)["memory"] == "a different memory"
    # replacing is destructive: a snapshot is taken first, and rollback undoes the import
    from memlab.store.faiss import revisions as S

    report = import_mem0(v0118, into=target, on_conflict="replace")
    assert len(report.imported) == src.total and target.get(middle)["memory"] != "a different memory"
    assert report.details["snapshot"]
    target.close()
    S.rollback(target.store.path, report.details["snapshot"])
    with Memory(HASH, path=str(target.store.path)) as again:
        assert again.get(middle)["memory"] == "a different memory"
