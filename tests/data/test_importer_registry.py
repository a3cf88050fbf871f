"""The Importer protocol and its registry: `memlab import KIND`, `import_data` and your own importer."""

from __future__ import annotations

import csv
import json

import pytest

from memlab import Memory
from memlab.cli import build_parser, main
from memlab.errors import MigrationError, ValidationError
from memlab.migrate import (
    ImportBatch,
    Importer,
    ImportOption,
    ImportReport,
    get_importer,
    import_data,
    import_mem0_json,
    list_importers,
    list_snapshots,
    open_store,
    register_importer,
)
from memlab.migrate.importers import registry

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}
ITEMS = [{"id": "3f0b6c2e-1d4a-4c5b-9a7e-2b8c9d0e1f21", "memory": "Maya is vegetarian", "user_id": "maya",
          "created_at": "2024-05-01T09:00:00+00:00"},
         {"id": "7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", "memory": "Maya lives in Lisbon", "user_id": "maya"},
         {"id": "c0ffee00-0000-4000-8000-000000000003", "memory": "no scope on this one"}]


class CsvImporter(Importer):
    """A user's own source format: a CSV of ``text,user`` rows."""

    name = "team-csv"
    kind = "team CSV"
    source_help = "CSV with text,user columns"
    options = (ImportOption("default_user", "user of rows without one"),
               ImportOption("max_rows", "read at most this many rows", type=int))

    def __init__(self):
        self.finished_with = None

    def read(self, source, into, *, default_user=None, max_rows=None) -> ImportBatch:
        report = ImportReport(source=str(source), kind=self.kind)
        records = []
        with open(source, newline="", encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh)):
                if max_rows is not None and n >= max_rows:
                    break
                user = row.get("user") or default_user
                if not user:
                    report.skip(None, f"row {n} has no user")
                    continue
                records.append({"id": f"00000000-0000-4000-8000-{n:012d}", "memory": row["text"], "user_id": user})
        report.vectors_embedded = len(records)
        return ImportBatch(report, records, configs=[{"key": "team-csv:source", "value": str(source)}])

    def finish(self, batch, into) -> None:  # runs after the write: the memories are there
        self.finished_with = into.store.count()


@pytest.fixture
def own_registry(monkeypatch):
    """Registrations made by a test vanish after it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


@pytest.fixture
def team_csv(tmp_path):
    path = tmp_path / "team.csv"
    path.write_text("text,user\nprefers tea,ana\nsits by the window,\nowns a bike,ben\n", encoding="utf-8")
    return path


def test_builtin_importers_are_registered_and_drive_the_cli():
    names = [i.name for i in list_importers()]
    assert names[:4] == ["mem0", "mem0-json", "openmemory", "jsonl"]
    assert {i.kind for i in list_importers()} >= {"mem0 FAISS", "mem0 JSON", "OpenMemory", "memlab export"}
    sub = next(a for a in build_parser()._subparsers._group_actions[0].choices["import"]._actions
               if a.dest == "kind")
    assert list(sub.choices) == names  # `memlab import KIND` offers exactly the registered importers
    assert get_importer("mem0-json") is get_importer(get_importer("mem0-json"))


def test_import_data_by_name_is_the_named_function():
    a, b = Memory(HASH), Memory(HASH)
    by_name = import_data("mem0-json", ITEMS, into=a, user_id="guest")
    direct = import_mem0_json(ITEMS, into=b, user_id="guest")
    assert by_name.imported == direct.imported and len(by_name.imported) == 3
    assert by_name.summary() == direct.summary() and by_name.repairs == direct.repairs
    assert a.store.count() == b.store.count() == 3


def test_unknown_kind_option_or_conflict_mode_is_refused_before_anything_is_read(tmp_path):
    m = Memory(HASH)
    with pytest.raises(ValidationError, match="No importer named 'mem0-csv'; registered: mem0, mem0-json"):
        import_data("mem0-csv", ITEMS, into=m)
    with pytest.raises(ValidationError, match="has no option.*collection.*its options: user_id"):
        import_data("mem0-json", ITEMS, into=m, collection="x")
    with pytest.raises(ValidationError, match="on_conflict must be"):
        import_data("mem0-json", tmp_path / "missing.json", into=m, on_conflict="merge")  # not read: no MigrationError
    assert m.store.count() == 0


def test_a_registered_importer_of_your_own_works_from_python_and_the_cli(own_registry, team_csv, tmp_path, capsys):
    mine = register_importer(CsvImporter())
    m = Memory(HASH)
    report = import_data("team-csv", team_csv, into=m)
    assert len(report.imported) == 2 and report.skipped == [{"id": None, "reason": "row 1 has no user"}]
    assert mine.finished_with == 2  # finish ran after the write
    assert {c["key"]: c["value"] for c in m.store.configs()}["team-csv:source"] == str(team_csv)
    assert m.history(report.imported[0])[0]["event"] == "ADD"  # the one write path adds history rows

    store = str(tmp_path / "store")
    assert main(["import", "team-csv", str(team_csv), "--store", store, "--embedder", "hash",
                 "--default-user", "carl", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "team CSV" and len(out["imported"]) == 3 and out["skipped"] == []
    assert main(["import", "team-csv", str(team_csv), "--store", str(tmp_path / "two"), "--embedder", "hash",
                 "--max-rows", "2", "--default-user", "carl"]) == 0  # an int option arrives as an int
    assert "2 memories imported" in capsys.readouterr().out


def test_registering_a_bad_importer_says_what_is_wrong(own_registry):
    with pytest.raises(ValidationError, match="needs an Importer instance"):
        register_importer(CsvImporter)  # the class, not an instance
    with pytest.raises(ValidationError, match="already registered"):
        register_importer(get_importer("mem0"))
    register_importer(CsvImporter())
    replacement = register_importer(CsvImporter(), replace=True)
    assert get_importer("team-csv") is replacement

    class Spaced(CsvImporter):
        name = "team csv"

    class Reserved(CsvImporter):
        name = "reserved"
        options = (ImportOption("store", "clashes with --store"),)

    class Unlabelled(Importer):
        name = "unlabelled"

        def read(self, source, into):
            return ImportBatch(ImportReport(str(source), "x"))

    with pytest.raises(ValidationError, match="non-empty word"):
        register_importer(Spaced())
    with pytest.raises(ValidationError, match="declares option.*store"):
        register_importer(Reserved())
    with pytest.raises(ValidationError, match="class attribute 'kind'"):
        register_importer(Unlabelled())


def test_cli_refuses_an_option_of_another_kind(tmp_path, capsys):
    path = tmp_path / "items.json"
    path.write_text(json.dumps(ITEMS[:2]), encoding="utf-8")
    store = tmp_path / "s"
    assert main(["import", "mem0-json", str(path), "--store", str(store), "--embedder", "hash",
                 "--collection", "c"]) == 2
    assert "--collection does not apply to `memlab import mem0-json`" in capsys.readouterr().err
    assert not store.exists()


def test_replace_into_an_existing_store_takes_exactly_one_snapshot(tmp_path, capsys):
    path = tmp_path / "items.json"
    path.write_text(json.dumps(ITEMS[:2]), encoding="utf-8")
    store = str(tmp_path / "s")
    assert main(["import", "mem0-json", str(path), "--store", store, "--embedder", "hash"]) == 0
    assert list_snapshots(store) == []  # a new store: nothing to roll back to
    capsys.readouterr()
    changed = [{**ITEMS[0], "memory": "Maya eats fish now"}, ITEMS[1]]
    path.write_text(json.dumps(changed), encoding="utf-8")
    assert main(["import", "mem0-json", str(path), "--store", store, "--on-conflict", "replace"]) == 0
    snaps = list_snapshots(store)
    assert [s.reason for s in snaps] == ["pre-import-replace"] and snaps[0].memories == 2
    assert f"snapshot {snaps[0].id} taken" in capsys.readouterr().err
    assert main(["import", "mem0-json", str(path), "--store", store, "--on-conflict", "skip"]) == 0
    assert [s.reason for s in list_snapshots(store)] == ["pre-import-replace", "pre-import"]
    assert main(["db", "rollback", "--store", store, "--snapshot", snaps[0].id]) == 0
    with open_store(store) as m:
        assert m.get(ITEMS[0]["id"])["memory"] == "Maya is vegetarian"


def test_python_imports_snapshot_only_when_replacing_or_asked(tmp_path):
    store = str(tmp_path / "s")
    with Memory(HASH, path=store) as m:
        import_data("mem0-json", ITEMS[:2], into=m)
        assert list_snapshots(store) == []
        import_data("mem0-json", ITEMS[:2], into=m, on_conflict="skip", snapshot=True)
        report = import_data("mem0-json", ITEMS[:2], into=m, on_conflict="replace")
        assert [s.reason for s in list_snapshots(store)] == ["pre-import", "pre-import-replace"]
        assert report.details["snapshot"] == list_snapshots(store)[-1].id
        import_data("mem0-json", ITEMS[:2], into=m, on_conflict="replace", snapshot=False)
        with pytest.raises(MigrationError, match="does not exist"):
            import_data("mem0-json", tmp_path / "missing.json", into=m, on_conflict="replace")
        assert len(list_snapshots(store)) == 2  # a source that cannot be read leaves no snapshot behind
