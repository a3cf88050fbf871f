"""``memlab doctor`` / ``Memory.check()``: each kind of damage is found, repaired where it can
be, and reported with the right exit code."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from memlab import Memory
from memlab.cli import main as cli_main
from memlab.doctor import DoctorReport, check_store
from memlab.embedders.hashing import HashEmbedder
from memlab.errors import StoreError
from tests.reliability._rel_support import assert_index_agrees, hash_cfg

DIMS = 32


@pytest.fixture
def store(tmp_path) -> str:
    path = str(tmp_path / "store")
    m = Memory(hash_cfg(DIMS), path=path)
    for i in range(12):
        m.add(f"fact {i} about tea and berlin", user_id=f"u{i % 3}", infer=False, metadata={"i": i})
    m.delete(m.get_all(user_id="u0")["results"][0]["id"])
    m.close()
    return path


def _sql(path: str, *statements) -> None:
    conn = sqlite3.connect(str(Path(path) / "memlab.db"))
    for st in statements:
        conn.execute(*st) if isinstance(st, tuple) else conn.execute(st)
    conn.commit()
    conn.close()


def _statuses(report: DoctorReport) -> dict:
    return {f.check: f.status for f in report.findings}


def test_healthy_store(store, capsys):
    report = check_store(store)
    assert report.ok and not report.problems
    assert _statuses(report)["index"] == "ok" and _statuses(report)["embedder"] == "skipped"
    assert report.stats["rows"] == 12 and report.stats["active"] == 11 and report.stats["index_ntotal"] == 11
    d = report.to_dict()
    assert json.loads(json.dumps(d))["ok"] is True
    assert isinstance(d["stats"]["seq"], int)  # a number in --json, not the text SQLite keeps
    assert "<table>" in report._repr_html_() and "memlab doctor" in str(report)
    assert cli_main(["doctor", store]) == 0
    assert "OK" in capsys.readouterr().out


def test_memory_check_finds_and_rebuilds_a_drifted_index(store):
    m = Memory(hash_cfg(DIMS), path=store)
    assert m.check().ok and _statuses(m.check())["embedder"] == "ok"
    t = m.store.table
    m.store.index.remove([int(t.vids[3])])  # an index that lost a row (mem0's classic drift)
    m.store.index.add(np.array([int(t.vids[5])]), t.vecs[5][None, :])  # and holds a duplicate
    report = m.check()
    assert not report.ok and _statuses(report)["index"] == "error"
    assert "repairable" in str(report)
    repaired = m.check(repair=True)
    assert repaired.ok and _statuses(repaired)["index"] == "repaired"
    assert_index_agrees(store, m.store)
    assert m.check().ok
    m.close()


def test_memory_check_finds_a_table_that_differs_from_sqlite(store):
    m = Memory(hash_cfg(DIMS), path=store)
    m.store.table.column("memory")[2] = "tampered in memory only"
    assert _statuses(m.check())["index"] == "error"
    assert m.check(repair=True).ok
    assert m.store.table.column("memory")[2] != "tampered in memory only"
    m.close()


def test_bad_vectors_are_normalised_or_re_embedded(store):
    _sql(store,
         ("UPDATE memories SET vector = ? WHERE vid = 1", (np.full(DIMS, np.nan, np.float32).tobytes(),)),
         ("UPDATE memories SET vector = ? WHERE vid = 2", (np.ones(DIMS + 3, np.float32).tobytes(),)),
         ("UPDATE memories SET vector = ? WHERE vid = 3", ((np.ones(DIMS, np.float32) * 3).tobytes(),)))
    with pytest.raises(StoreError):  # a wrong-size blob stops the store from opening...
        Memory(hash_cfg(DIMS), path=store)
    report = check_store(store)
    assert not report.ok and _statuses(report)["vectors"] == "error"
    assert cli_main(["doctor", store]) == 1
    repaired = check_store(store, repair=True)  # ...and doctor fixes it with the recorded hash embedder
    assert repaired.ok and _statuses(repaired)["vectors"] == "repaired"
    assert repaired.snapshot and os.path.exists(repaired.snapshot)
    m = Memory(hash_cfg(DIMS), path=store)
    emb = HashEmbedder(embedding_dims=DIMS)
    t = m.store.table
    for pos in range(t.n):
        if t.vids[pos] == 3:  # was 3 * ones: normalised, direction kept
            assert np.allclose(t.vecs[pos], np.ones(DIMS) / np.sqrt(DIMS), atol=1e-6)
        else:  # the rest (incl. the NaN and the wrong-size blob) equal a fresh embedding of the text
            want = emb.embed([t.column("memory")[pos]])[0]
            assert np.allclose(t.vecs[pos], want / np.linalg.norm(want), atol=1e-6)
    assert_index_agrees(store, m.store)
    m.close()


def test_stale_seq_is_raised_so_other_processes_see_new_writes(store):
    _sql(store, "UPDATE store_meta SET value = '1' WHERE key = 'seq'")
    assert _statuses(check_store(store))["meta"] == "error"
    assert _statuses(check_store(store, repair=True))["meta"] == "repaired"
    a, b = Memory(hash_cfg(DIMS), path=store), Memory(hash_cfg(DIMS), path=store)
    a.add("written after the repair", user_id="u9", infer=False)
    assert len(b.get_all(user_id="u9")["results"]) == 1
    a.close()
    b.close()


def test_unreadable_metadata_is_reported_not_guessed(store, capsys):
    _sql(store, "UPDATE memories SET metadata = '{broken' WHERE vid = 4", "UPDATE memories SET state = 'zombie' WHERE vid = 5")
    report = check_store(store, repair=True)
    assert not report.ok and _statuses(report)["rows"] == "error" and len(report.findings[4].ids) == 2
    assert cli_main(["doctor", store, "--repair", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_unscoped_rows_are_a_warning(store):
    _sql(store, "UPDATE memories SET user_id = NULL WHERE vid = 6")
    report = check_store(store)
    assert report.ok and _statuses(report)["rows"] == "warning" and report.problems


def test_corrupted_index_btree_is_repaired_by_reindex(store):
    # swap the b-trees of two indexes: the table is intact, both indexes now disagree with it
    conn = sqlite3.connect(str(Path(store) / "memlab.db"))
    pages = dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE name IN "
                              "('ix_memories_user', 'ix_memories_agent')").fetchall())
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'ix_memories_user'", (pages["ix_memories_agent"],))
    conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'ix_memories_agent'", (pages["ix_memories_user"],))
    conn.commit()
    conn.close()
    report = check_store(store)
    assert _statuses(report)["sqlite"] == "error" and not report.ok
    repaired = check_store(store, repair=True)
    assert _statuses(repaired)["sqlite"] == "repaired" and repaired.ok
    assert check_store(store).ok


def test_garbage_file_and_non_store(store, tmp_path, capsys):
    db = Path(store) / "memlab.db"
    for extra in ("-wal", "-shm"):
        Path(str(db) + extra).unlink(missing_ok=True)
    db.write_bytes(os.urandom(8192))
    report = check_store(store, repair=True)
    assert not report.ok and "not a readable SQLite database" in report.findings[0].message
    assert cli_main(["doctor", store]) == 1
    capsys.readouterr()
    assert cli_main(["doctor", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err  # not "memlab.db not found in it"
    (tmp_path / "empty").mkdir()
    assert cli_main(["doctor", str(tmp_path / "empty")]) == 2
    assert "not a memlab store" in capsys.readouterr().err
    (tmp_path / "file.txt").write_text("x")
    assert cli_main(["doctor", str(tmp_path / "file.txt")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_embedder_mismatch_is_an_error(store):
    assert _statuses(check_store(store, embedder=HashEmbedder(embedding_dims=DIMS)))["embedder"] == "ok"
    report = check_store(store, embedder=HashEmbedder(embedding_dims=DIMS * 2))
    assert not report.ok and _statuses(report)["embedder"] == "error"


def test_in_memory_store_check(mem):
    mem.add("hello there", user_id="u", infer=False)
    report = mem.check()
    assert report.ok and report.store == "in-memory" and report.snapshot is None


def test_old_schema_is_not_upgraded_by_a_check(store):
    S = pytest.importorskip("memlab.store.faiss.revisions")
    from tests.reliability._rel_support import dump_db

    S.downgrade(store, "-1")
    before = dump_db(store)
    report = check_store(store)
    assert report.ok and _statuses(report)["schema"] == "warning" and "index" not in _statuses(report)
    assert dump_db(store) == before  # a check without --repair changes nothing
    repaired = check_store(store, repair=True)
    assert repaired.ok and _statuses(repaired)["index"] == "ok"
    assert _statuses(check_store(store))["schema"] == "ok"


def test_doctor_on_unreadable_file_prints_no_blank_stats_line(tmp_path, capsys):
    (tmp_path / "memlab.db").write_bytes(b"\x00garbage, not sqlite" * 200)
    assert cli_main(["doctor", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "not a readable SQLite database" in out
    assert all(line.strip() for line in out.rstrip("\n").splitlines())  # no empty trailing stats line
