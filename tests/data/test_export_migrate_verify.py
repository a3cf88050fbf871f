"""Exports round-trip losslessly; mem0 JSON import; DataMigrator (resumable); verify_migration."""

from __future__ import annotations

import json

import pytest

from memlab import Memory
from memlab.errors import MigrationError, ValidationError
from memlab.migrate import (
    DataMigrator, export, import_export, import_mem0, import_mem0_json, import_openmemory, read_export,
    verify_migration,
)

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}


@pytest.fixture(scope="module")
def source(shared_dir):
    """A memlab store holding the corrupted mem0 store and the OpenMemory db (all states, categories)."""
    m = Memory(HASH)
    import_mem0(shared_dir / "fixtures" / "mem0" / "v0_1_118", into=m)
    import_openmemory(shared_dir / "fixtures" / "openmemory" / "openmemory.db", into=m)
    return m


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_import_round_trip_is_lossless(source, tmp_path, fmt):
    path = tmp_path / f"all.{fmt}"
    header = export(source, path, format=fmt)
    assert header["count"] == 59 and not (tmp_path / f"all.{fmt}.partial").exists()
    copy = Memory(HASH)
    report = import_export(path, into=copy)
    # configs: OpenMemory users, apps, config + its id, and 3 tables kept verbatim (access logs, controls, policies)
    assert report.ok and report.categories == 15 and report.configs == 7
    v = verify_migration(source, copy)
    assert v.ok and v.same == 59 and v.mean_overlap == 1.0, v.summary()
    # exporting the copy gives the same records again
    again = tmp_path / f"again.{fmt}"
    export(copy, again, format=fmt)
    assert read_export(path)[1] == read_export(again)[1]


def test_vectors_travel_only_to_the_same_embedder(source, tmp_path):
    path = tmp_path / "vec.jsonl"
    export(source, path, schema=[*read_export_fields(), "vector"])
    same = import_export(path, into=Memory(HASH))
    assert same.vectors_reused == 59
    other = import_export(path, into=Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}))
    assert other.vectors_reused == 0 and other.warnings


def read_export_fields():
    from memlab.migrate.export import DEFAULT_FIELDS

    return list(DEFAULT_FIELDS)


def test_schema_and_filters_like_the_guide(source, tmp_path):
    schema = {"memories": {"fields": ["id", "content", "metadata", "created_at", "updated_at"],
                           "filters": {"user_id": "maya_lindqvist"}}}
    header = export(source, tmp_path / "maya.jsonl", schema=schema, filters={"state": "active"})
    _, rows = read_export(tmp_path / "maya.jsonl")
    assert header["count"] == len(rows) == 13
    assert set(rows[0]) == {"id", "memory", "metadata", "created_at", "updated_at"}
    with pytest.raises(ValidationError, match="Unknown export field"):
        export(source, tmp_path / "x.jsonl", schema=["id", "nope"])
    with pytest.raises(ValidationError):
        export(source, tmp_path / "x.jsonl", filters={"user_id": {"bogus_op": 1}})
    with pytest.raises(MigrationError, match="partial export"):
        import_export(tmp_path / "maya.jsonl", into=Memory(HASH))
    assert not (tmp_path / "x.jsonl").exists()


def test_truncated_export_is_refused(source, tmp_path):
    path = tmp_path / "t.jsonl"
    export(source, path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:10]) + "\n" + lines[10][:20] + "\n")
    target = Memory(HASH)
    with pytest.raises(MigrationError, match="line 11 is not valid JSON"):
        import_export(path, into=target)
    path.write_text("\n".join(lines[:10]) + "\n")
    with pytest.raises(MigrationError, match="truncated"):
        import_export(path, into=target)
    assert target.store.count() == 0


def test_mem0_get_all_and_platform_export_json(source, tmp_path):
    items = source.get_all(user_id="maya_lindqvist")["results"]
    (tmp_path / "get_all.json").write_text(json.dumps({"results": items}))
    m = Memory(HASH)
    report = import_mem0_json(tmp_path / "get_all.json", into=m)
    assert len(report.imported) == len(items)
    for it in items:
        assert m.get(it["id"]) == it
    platform = {"memories": [{"id": "a1b2c3d4-0000-4000-8000-000000000001", "content": "Prefers aisle seats",
                              "categories": ["travel"], "immutable": False, "created_at": "2025-01-01T00:00:00Z"},
                             {"content": "no scope and no id"}]}
    m2 = Memory(HASH)
    rep = import_mem0_json(platform, into=m2)
    assert len(rep.skipped) == 2  # neither has a scope
    rep = import_mem0_json(platform, into=m2, user_id="maya")
    assert len(rep.imported) == 2 and rep.repaired_ids("scope_assigned")
    got = m2.get("a1b2c3d4-0000-4000-8000-000000000001")
    assert got["metadata"] == {"immutable": False} and got["created_at"] == "2025-01-01T00:00:00Z"
    assert m2.store.conn.execute("SELECT name FROM categories").fetchall() == [("travel",)]
    with pytest.raises(MigrationError):
        import_mem0_json({"nope": 1}, into=m2)


class Mem0Like:
    """Only mem0's public verbs, as a mem0 ``Memory`` exposes them (ids chosen by the object)."""

    def __init__(self, inner):
        self._m = inner

    def add(self, messages, **kw):
        return self._m.add(messages, **kw)

    def get_all(self, **kw):
        return self._m.get_all(**kw)

    def search(self, query, **kw):
        return self._m.search(query, **kw)

    def history(self, memory_id):
        return self._m.history(memory_id)


def test_data_migrator_is_resumable_and_verified(source, tmp_path):
    target = Memory(HASH)
    ck = tmp_path / "ck.json"
    first = DataMigrator(source, target, checkpoint=str(ck), batch_size=8, progress=False).migrate(max_batches=3)
    assert first.migrated == 24 and json.loads(ck.read_text())["done"] == 24
    rest = DataMigrator(source, target, checkpoint=str(ck), batch_size=8, progress=False).migrate()
    assert rest.resumed_from == 24 and rest.migrated == 35
    report = verify_migration(source, target)
    assert report.ok and report.same == 59
    cats = "SELECT id, name, description FROM categories ORDER BY name"  # ids and descriptions travel too
    assert target.store.conn.execute(cats).fetchall() == source.store.conn.execute(cats).fetchall()
    html = report._repr_html_()
    assert "OK" in html and report.to_pandas().empty and report.counts_frame()["match"].all()
    # a crash after commit but before the checkpoint: re-running skips what is there
    ck.unlink()
    again = DataMigrator(source, target, checkpoint=str(ck), batch_size=8, progress=False).migrate()
    assert again.migrated == 0 and again.skipped == 59


def test_verify_detects_changes(source):
    target = Memory(HASH)
    DataMigrator(source, target, progress=False).migrate(user_id="kiri_tane")
    victim = target.get_all(user_id="kiri_tane")["results"][0]["id"]
    target.update(victim, "something else entirely")
    report = verify_migration(source, target)
    assert not report.ok and len(report.missing) == 59 - 8
    assert [c["id"] for c in report.changed] == [victim]
    assert "memory" in report.changed[0]["fields"] and "history" in report.changed[0]["fields"]
    assert set(report.to_pandas()["status"]) == {"missing", "changed"}


def test_mem0_like_source_and_target(source):
    users = [{"user_id": u} for u in ("maya_lindqvist", "oren_baptiste")]
    into = Memory(HASH)
    res = DataMigrator(Mem0Like(source), into, progress=False).migrate(scopes=users)
    assert res.migrated == 23 and res.id_map == {i: i for i in res.id_map}
    v = verify_migration(Mem0Like(source), into, scopes=users)
    assert v.ok and v.same == 23, v.summary()
    back = Memory(HASH)
    out = DataMigrator(into, Mem0Like(back), progress=False).migrate()
    assert out.migrated == 23 and set(out.id_map) == set(res.id_map)
    for old, new in out.id_map.items():
        a, b = into.get(old), back.get(new)
        assert (a["memory"], a["metadata"], a["user_id"]) == (b["memory"], b["metadata"], b["user_id"])
    with pytest.raises(ValidationError, match="per scope"):
        DataMigrator(Mem0Like(source), into, progress=False).migrate()
