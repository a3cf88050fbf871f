"""Graph relations travel with memlab's JSONL / parquet exports and come back on import."""

from __future__ import annotations

import json

import pytest

from memlab import Memory
from memlab.migrate import export, import_export

pytest.importorskip("ladybug", reason="graph tests need memlab[graph]")


def triples(rels) -> set:
    return {(r["source"], r["relationship"], r["destination"]) for r in rels}


@pytest.fixture
def source(hash_config):
    m = Memory({**hash_config, "graph_store": {"provider": "kuzu", "config": {}}})
    m.add("Alice lives in Berlin. Alice's sister is Anna.", user_id="u1", infer=False)
    m.add("Bob works at Acme.", user_id="u2", agent_id="a", infer=False)
    yield m
    m.close()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_round_trip_keeps_relations_and_links(tmp_path, source, hash_config, fmt):
    path = tmp_path / f"out.{fmt}"
    header = export(source, path, format=fmt)
    assert len(header["relations"]) == 3
    with Memory({**hash_config, "graph_store": {"provider": "kuzu", "config": {}}}) as target:
        report = import_export(path, target)
        assert report.details["relations"] == 3
        for scope in ({"user_id": "u1"}, {"user_id": "u2", "agent_id": "a"}):
            assert triples(target.get_all(**scope)["relations"]) == triples(source.get_all(**scope)["relations"])
        # the memory links survive, so graph-fused search works on the imported store
        fused = target.search("Where does Alice live?", user_id="u1", graph=True)["results"]
        before = source.search("Where does Alice live?", user_id="u1", graph=True)["results"]
        assert fused[0]["graph_score"] == 2.0  # the memory produced both of Alice's relations
        assert [(r["id"], r["graph_score"]) for r in fused] == [(r["id"], r["graph_score"]) for r in before]


def test_filtered_export_carries_only_its_scopes(tmp_path, source):
    header = export(source, tmp_path / "u2.jsonl", filters={"user_id": "u2"})
    assert triples(header["relations"]) == {("bob", "works_at", "acme")}
    assert header["relations"][0]["agent_id"] == "a" and header["relations"][0]["run_id"] is None


def test_target_without_graph_warns(tmp_path, source, mem):
    path = tmp_path / "out.jsonl"
    export(source, path)
    report = import_export(path, mem)
    assert any("3 graph relations" in w and "no graph_store" in w for w in report.warnings)
    assert len(mem.get_all(user_id="u1")["results"]) == 1


def test_exports_without_graph_are_unchanged(tmp_path, mem):
    mem.add("hello", user_id="u", infer=False)
    header = export(mem, tmp_path / "plain.jsonl")
    assert "relations" not in header
    assert "relations" not in json.loads((tmp_path / "plain.jsonl").read_text().splitlines()[0])


def test_bad_relation_records_are_skipped_with_a_reason(tmp_path, hash_config, source):
    path = tmp_path / "out.jsonl"
    export(source, path)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["relations"].append({"source": "x", "relationship": "r"})            # no destination
    header["relations"].append({"source": "x", "relationship": "r", "destination": "y"})  # no scope
    path.write_text("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    with Memory({**hash_config, "graph_store": {"provider": "kuzu", "config": {}}}) as target:
        report = import_export(path, target)
        assert report.details["relations"] == 3
        assert sum("lacks source/relationship/destination or a scope" in w for w in report.warnings) == 2
