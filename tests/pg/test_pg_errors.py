"""Bad PostgreSQL setups fail with typed errors that say how to fix them, and create nothing."""

from __future__ import annotations

import pytest

from memlab import Memory
from memlab.errors import ConfigError
from tests.pg.support import pg_config


def _tables(url: str, prefix: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE %s ORDER BY 1", (prefix + "%",))]


@pytest.mark.parametrize("conn,match", [
    ("this is = not a connection string", "not a valid PostgreSQL connection string"),
    ("postgresql://memlab:secret@127.0.0.1:1/nowhere", "Cannot connect to PostgreSQL"),
])
def test_bad_connection_strings(pg_url, conn, match):
    with pytest.raises(ConfigError, match=match) as info:
        Memory(pg_config(conn, "never_created"))
    assert "secret" not in str(info.value)  # the password is masked in the message


def test_no_connection_settings_at_all():
    with pytest.raises(ConfigError, match="needs where to connect"):
        Memory({"embedder": {"provider": "hash"}, "vector_store": {"provider": "pgvector", "config": {}}})


@pytest.mark.parametrize("name", ["Robert'); DROP TABLE x; --", "1abc", "x" * 41, ""])
def test_collection_names_are_identifiers(pg_url, name):
    with pytest.raises(ConfigError, match="collection_name"):
        Memory(pg_config(pg_url, name))


def test_missing_pgvector_extension(pg_url, pg_collection, monkeypatch):
    from memlab.store.pg import schema

    monkeypatch.setattr(schema, "EXTENSION", "vector_not_installed_here")  # a server without pgvector
    with pytest.raises(ConfigError, match="no pgvector extension.*memlab pg start"):
        Memory(pg_config(pg_url, pg_collection))
    assert _tables(pg_url, pg_collection) == []  # nothing half-created


def test_existing_table_with_other_dimensions(pg_url, pg_collection):
    with Memory(pg_config(pg_url, pg_collection, dims=128)) as m:
        m.add("kept", user_id="u", infer=False)
    before = _tables(pg_url, pg_collection)
    with pytest.raises(ConfigError, match=r"128-d vectors.*64-d.*collection_name"):
        Memory(pg_config(pg_url, pg_collection, dims=64))
    assert _tables(pg_url, pg_collection) == before
    with Memory(pg_config(pg_url, pg_collection, dims=128)) as m:
        assert [r["memory"] for r in m.get_all(user_id="u")["results"]] == ["kept"]


def test_other_embedder_same_dimensions(pg_url, pg_collection):
    Memory(pg_config(pg_url, pg_collection)).close()
    cfg = pg_config(pg_url, pg_collection)
    cfg["embedder"]["config"]["char_ngrams"] = 4  # another hashing model, same size
    with pytest.raises(ConfigError, match="was built with embedder"):
        Memory(cfg)


def test_a_foreign_table_is_left_alone(pg_url, pg_collection):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {pg_collection} (id int)")
    with pytest.raises(ConfigError, match="not a memlab store"):
        Memory(pg_config(pg_url, pg_collection))
    assert _tables(pg_url, pg_collection) == [pg_collection]


def test_embedding_model_dims_is_checked(pg_url, pg_collection):
    with pytest.raises(ConfigError, match="embedding_model_dims"):
        Memory(pg_config(pg_url, pg_collection, embedding_model_dims=1536))


def test_hnsw_index_keeps_searches_exact(pg_url, pg_collection):
    """hnsw=True builds the index mem0 builds; scoped searches still score every allowed row."""
    with Memory(pg_config(pg_url, pg_collection, hnsw=True)) as m:
        m.add_records([{"memory": f"note {i} about topic {i % 7}", "user_id": f"u{i % 5}"} for i in range(300)])
        hits = m.search("note about topic 3", user_id="u2", limit=100)["results"]
        assert len(hits) == 60 and all(h["user_id"] == "u2" for h in hits)
        assert _tables(pg_url, pg_collection)  # and the index exists:
        import psycopg

        with psycopg.connect(pg_url) as conn:
            assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname = %s",
                                (f"{pg_collection}_hnsw",)).fetchone()[0] == 1


def test_doctor_checks_a_postgres_store(pg_url, pg_collection):
    import psycopg

    with Memory(pg_config(pg_url, pg_collection)) as m:
        mid = m.add("healthy", user_id="u", infer=False)["results"][0]["id"]
        report = m.check()
        assert report.ok and {f.check for f in report.findings} >= {"pgvector", "schema", "vectors", "rows"}
        with psycopg.connect(pg_url, autocommit=True) as conn:  # damage a row behind memlab's back
            conn.execute(f"UPDATE {pg_collection} SET hash = 'x', metadata = '[1]'::jsonb WHERE id = %s", (mid,))
        report = m.check()
        assert not report.ok
        bad = {f.message for f in report.findings if f.status != "ok"}
        assert any("hash" in b for b in bad) and any("JSON object" in b for b in bad)


def test_mem0_connection_keys(pg_url, pg_collection):
    """host/port/user/password/dbname (mem0's keys) instead of a connection string; minconn/maxconn size the pool."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(pg_url)
    cfg = pg_config(pg_url, pg_collection, minconn=2, maxconn=3)
    cfg["vector_store"]["config"].pop("connection_string")
    cfg["vector_store"]["config"].update(host=parts["host"], user=parts["user"], dbname=parts["dbname"],
                                         password="unused-with-trust-auth")
    with Memory(cfg) as m:
        m.add("via mem0 keys", user_id="u", infer=False)
        assert m.store.pool.max_size == 3 and m.store.pool.min_size == 2
        assert "unused-with-trust-auth" not in repr(m)  # the password never shows
    with Memory(pg_config(pg_url, pg_collection)) as again:
        assert again.get_all(user_id="u")["results"][0]["memory"] == "via mem0 keys"
