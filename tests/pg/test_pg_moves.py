"""Moving between engines (DataMigrator + verify_migration, export/import) and `memlab pg start|url|stop`."""

from __future__ import annotations

from memlab import Memory
from memlab.cli import main
from memlab.migrate import DataMigrator, verify_migration
from tests.pg.support import pg_config

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}


def _fill(m: Memory) -> dict:
    a = m.add("I live in Lyon", user_id="alice", infer=False, metadata={"city": "Lyon"})["results"][0]["id"]
    m.add_records([{"memory": "Allergic to peanuts", "user_id": "alice", "categories": ["health"]},
                   {"memory": "Prefers tea", "agent_id": "helper", "state": "archived"}])
    b = m.add("Bob likes chess", user_id="bob", infer=False)["results"][0]["id"]
    m.update(a, "I live in Paris", metadata={"moved": True})
    m.delete(b)
    return {"updated": a, "deleted": b}


def test_faiss_store_copied_into_postgres_verifies(tmp_path, pg_url, pg_collection):
    with Memory(HASH, path=str(tmp_path / "faiss")) as src, Memory(pg_config(pg_url, pg_collection)) as dst:
        ids = _fill(src)
        result = DataMigrator(src, dst, progress=False).migrate()
        assert result.migrated == 4
        report = verify_migration(src, dst)
        assert report.ok, str(report)
        assert [h["event"] for h in dst.history(ids["updated"])] == ["ADD", "UPDATE"]
        assert dst.get(ids["deleted"]) is None and [h["event"] for h in dst.history(ids["deleted"])] == ["ADD", "DELETE"]
        assert dst.search("peanuts", user_id="alice")["results"][0]["categories"] == ["health"]
        # and back again, into a fresh FAISS store
        with Memory(HASH, path=str(tmp_path / "back")) as back:
            DataMigrator(dst, back, progress=False).migrate()
            assert verify_migration(dst, back).ok and verify_migration(src, back).ok


def test_memlab_export_import_into_postgres(tmp_path, pg_url, pg_collection):
    from memlab.migrate import export, import_export

    with Memory(HASH) as src, Memory(pg_config(pg_url, pg_collection)) as dst:
        _fill(src)
        path = tmp_path / "dump.jsonl"
        export(src, str(path))
        import_export(str(path), dst)
        assert verify_migration(src, dst).ok


def test_pg_cli_start_url_stop(capsys):
    import shutil
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="memlab-pg-cli-"))  # not pytest's basetemp (rotated by other sessions)
    data = base / "pgdata"
    assert main(["pg", "start", str(data)]) == 0
    url = capsys.readouterr().out.strip()
    try:
        assert url.startswith("postgresql://") and main(["pg", "url", str(data)]) == 0
        assert capsys.readouterr().out.strip() == url
        cfg = {**HASH, "vector_store": {"provider": "pgvector", "config": {"connection_string": url}}}
        with Memory(cfg) as m:
            m.add("hello from the CLI server", user_id="u", infer=False)
        with Memory({**HASH, "vector_store": {"provider": "pgvector", "config": {"path": str(data)}}}) as m:
            assert m.get_all(user_id="u")["results"][0]["memory"] == "hello from the CLI server"
    finally:
        assert main(["pg", "stop", str(data)]) == 0
    assert capsys.readouterr().out.strip().endswith("stopped")
    assert main(["pg", "url", str(data)]) == 2  # not running: a typed error, exit code 2
    assert "memlab pg start" in capsys.readouterr().err
    shutil.rmtree(base, ignore_errors=True)
