"""`memlab doctor` and Memory.check() on a PostgreSQL store: server and pgvector, schema revision, vector sizes,
rows, row/history consistency and indexes; from the API, from a connection string and from a config file."""

from __future__ import annotations

import json

import pytest

from memlab import Memory
from memlab.cli import main
from memlab.doctor.pg import check_pg
from memlab.errors import ConfigError, StoreError
from tests.pg.support import pg_config

CHECKS = {"server", "pgvector", "schema", "dims", "vectors", "rows", "links", "history", "indexes"}


def _sql(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


def _tables(url: str, prefix: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s ORDER BY 1",
                                           (prefix + "%",))]


def _fill(m: Memory) -> list[str]:
    ids = [m.add(f"memory {i}", user_id="u", infer=False)["results"][0]["id"] for i in range(4)]
    m.update(ids[0], "memory zero, updated")
    m.delete(ids[1])
    return ids


def _problems(report) -> dict:
    return {f.check: f for f in report.findings if f.status != "ok"}


def test_check_a_healthy_store_then_find_what_went_wrong(pg_url, pg_collection):
    t = pg_collection
    with Memory(pg_config(pg_url, t, hnsw=True)) as m:
        ids = _fill(m)
        report = m.check()
        assert report.ok and not report.problems, str(report)
        assert {f.check for f in report.findings} >= CHECKS | {"embedder"}
        assert report.stats == {"rows": 4, "active": 3, "history": 6, "dims": 128, "embedder": report.stats["embedder"]}
        assert any("hnsw" in f.message for f in report.findings if f.check == "indexes")
        # damage behind memlab's back: a row's history, an orphan history row, an index, the recorded size
        _sql(pg_url, f"DELETE FROM {t}_history WHERE memory_id = '{ids[2]}'",
             f"INSERT INTO {t}_history (id, memory_id, event, new_memory) VALUES ('h1', 'gone', 'ADD', 'x')",
             f"DROP INDEX {t}_user", f"UPDATE {t}_meta SET value = '64' WHERE key = 'dims'")
        report = m.check()
        assert not report.ok
        bad = [f for f in report.findings if f.status != "ok"]
        by_message = {f.message: f for f in bad}
        assert any("without any history" in k and f.ids == [ids[2]] for k, f in by_message.items())
        assert any("not in the store" in k and f.ids == ["gone"] for k, f in by_message.items())
        assert any(f.check == "indexes" and f"{t}_user" in f.message for f in bad)
        dims = next(f for f in bad if f.check == "dims")
        assert dims.status == "error" and "column 128" in dims.message and "recorded 64" in dims.message


def test_check_pg_reads_without_opening(pg_url, pg_collection):
    with Memory(pg_config(pg_url, pg_collection)) as m:
        _fill(m)
    before = _tables(pg_url, pg_collection)
    report = check_pg(pg_url, pg_collection)
    assert report.ok and pg_collection in report.store and report.stats["rows"] == 4, str(report)
    assert "history=6" in str(report)
    assert _tables(pg_url, pg_collection) == before
    with pytest.raises(StoreError, match=rf"No memlab store 'nothing_here'.*{pg_collection}.*--collection"):
        check_pg(pg_url, "nothing_here")
    assert _tables(pg_url, "nothing_here") == []  # the doctor created nothing
    with pytest.raises(ConfigError, match="Cannot connect to PostgreSQL"):
        check_pg("postgresql://memlab:secret@127.0.0.1:1/nowhere", pg_collection)
    _sql(pg_url, f"UPDATE {pg_collection}_meta SET value = '0001_initial' WHERE key = 'schema_version'")
    report = check_pg(pg_url, pg_collection)
    assert not report.ok and "opening the store as its owner upgrades it" in _problems(report)["schema"].message
    assert _tables(pg_url, pg_collection) == before


def test_memlab_doctor_cli_on_postgres(pg_url, pg_collection, tmp_path, capsys):
    with Memory(pg_config(pg_url, pg_collection)) as m:
        _fill(m)
    assert main(["doctor", pg_url, "--collection", pg_collection]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "pgvector" in out and "declared indexes present" in out
    assert main(["doctor", pg_url, "--collection", pg_collection, "--json", "--repair"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["stats"]["rows"] == 4
    assert {"check": "repair", "status": "skipped"}.items() <= data["findings"][-1].items()
    cfg = tmp_path / "memory.json"  # a config file of the pgvector Memory works as well
    cfg.write_text(json.dumps(pg_config(pg_url, pg_collection)))
    assert main(["doctor", str(cfg)]) == 0 and pg_collection in capsys.readouterr().out
    _sql(pg_url, f"UPDATE {pg_collection} SET metadata = '[1]'::jsonb")
    assert main(["doctor", str(cfg)]) == 1
    assert "PROBLEMS FOUND" in capsys.readouterr().out
    assert main(["doctor", pg_url, "--collection", "nothing_here"]) == 2
    assert pg_collection in capsys.readouterr().err
    assert main(["doctor", "postgresql://memlab:secret@127.0.0.1:1/nowhere"]) == 2
    err = capsys.readouterr().err
    assert "Cannot connect to PostgreSQL" in err and "secret" not in err


def test_memlab_doctor_cli_still_checks_store_directories(tmp_path, capsys):
    hash_cfg = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
    with Memory(hash_cfg, path=str(tmp_path / "store")) as m:
        m.add("on disk", user_id="u", infer=False)
    assert main(["doctor", str(tmp_path / "store")]) == 0
    cfg = tmp_path / "faiss.json"
    cfg.write_text(json.dumps({**hash_cfg, "vector_store": {"provider": "faiss",
                                                            "config": {"path": str(tmp_path / "store")}}}))
    assert main(["doctor", str(cfg)]) == 0 and "integrity_check: ok" in capsys.readouterr().out
