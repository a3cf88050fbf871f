"""Bad PostgreSQL setups beyond the basics of test_pg_errors.py: connection targets that do not exist, a user
who may not enable pgvector or create tables (typed errors, nothing created), and a user with DML rights
alone who uses a store its owner created (it must open without trying DDL)."""

from __future__ import annotations

import os

import pytest

from memlab import Memory
from memlab.errors import ConfigError
from tests.pg.support import pg_config


def _conninfo(url: str, **parts) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, **parts)


def _public_tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


@pytest.mark.parametrize("part,value,match", [
    ("dbname", "memlab_no_such_database", 'database "memlab_no_such_database" does not exist'),
    ("user", "memlab_no_such_role", 'role "memlab_no_such_role" does not exist'),
    ("port", "notaport", "invalid integer value"),
    ("sslmode", "bogus", "sslmode"),
])
def test_connection_targets_that_do_not_exist(pg_url, part, value, match):
    with pytest.raises(ConfigError, match=f"Cannot connect to PostgreSQL.*{match}.*Check host, port, user"):
        Memory(pg_config(_conninfo(pg_url, **{part: value}), "never_created"))


@pytest.fixture
def limited(pg_url):
    """(url of a fresh database without pgvector, url of one with it, the name of a role that is no superuser);
    all dropped afterwards. Needs a superuser (the session's own server is one; skip for others)."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        if not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            pytest.skip("needs a PostgreSQL superuser to create a role and databases")
        tag = f"memlab_{os.getpid()}"
        role, noext, ext = f"{tag}_user", f"{tag}_noext", f"{tag}_ext"
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"CREATE DATABASE {noext}")
        conn.execute(f"CREATE DATABASE {ext}")
        with psycopg.connect(_conninfo(pg_url, dbname=ext), autocommit=True) as c2:
            c2.execute("CREATE EXTENSION vector")
        try:
            yield _conninfo(pg_url, dbname=noext), _conninfo(pg_url, dbname=ext), role
        finally:
            for db in (noext, ext):
                conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_user_who_may_not_enable_pgvector(limited):
    noext, _, role = limited
    with pytest.raises(ConfigError, match=r"may not enable it.*CREATE EXTENSION vector;"):
        Memory(pg_config(_conninfo(noext, user=role), "mem"))
    assert _public_tables(noext) == []
    import psycopg

    with psycopg.connect(noext) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone()[0] == 0


def test_a_user_who_may_not_create_tables(limited):
    """pgvector is there, but (PostgreSQL >= 15) only the owner may create tables in schema public."""
    _, ext, role = limited
    with pytest.raises(ConfigError, match=rf"user '{role}' may not create.*nothing was created.*GRANT"):
        Memory(pg_config(_conninfo(ext, user=role), "mem"))
    assert _public_tables(ext) == []


def test_a_user_with_dml_rights_alone_uses_an_existing_store(limited):
    import psycopg

    _, ext, role = limited
    with Memory(pg_config(ext, "mem", hnsw=True)) as owner:  # the owner creates the store
        kept = owner.add("created by the owner", user_id="u", infer=False)["results"][0]["id"]
    with psycopg.connect(ext, autocommit=True) as conn:  # what docs/engines.md tells an administrator to grant
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    tables = _public_tables(ext)
    with Memory(pg_config(_conninfo(ext, user=role), "mem", hnsw=True)) as app:
        mid = app.add("written by the application", user_id="u", infer=False)["results"][0]["id"]
        app.update(kept, "updated by the application")
        assert {r["memory"] for r in app.get_all(user_id="u")["results"]} == {"written by the application",
                                                                            "updated by the application"}
        assert app.search("application", user_id="u")["results"]
        assert [h["event"] for h in app.history(mid)] == ["ADD"]
        assert app.check().ok
    assert _public_tables(ext) == tables
    with psycopg.connect(ext, autocommit=True) as conn:  # a pending schema upgrade needs the owner: typed error
        conn.execute("UPDATE mem_meta SET value = '0001_initial' WHERE key = 'schema_version'")
    with pytest.raises(ConfigError, match=rf"user '{role}' may not create or upgrade"):
        Memory(pg_config(_conninfo(ext, user=role), "mem"))
    with psycopg.connect(ext) as conn:
        assert conn.execute("SELECT value FROM mem_meta WHERE key = 'schema_version'").fetchone()[0] == "0001_initial"


def test_a_pool_the_server_cannot_fill_is_a_typed_error(limited):
    """minconn above what the server lets this user open (CONNECTION LIMIT here): ConfigError, no pool left behind."""
    import threading

    import psycopg

    _, ext, role = limited
    Memory(pg_config(ext, "mem")).close()
    with psycopg.connect(ext, autocommit=True) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
        conn.execute(f"ALTER ROLE {role} CONNECTION LIMIT 2")
    threads = threading.active_count()
    with pytest.raises(ConfigError, match=r"Could not open minconn=4 PostgreSQL connections.*Lower .*minconn"):
        Memory(pg_config(_conninfo(ext, user=role), "mem", minconn=4, maxconn=4, busy_timeout_ms=1500))
    with Memory(pg_config(_conninfo(ext, user=role), "mem", minconn=1, maxconn=2)) as m:  # within the limit: fine
        m.add("fits", user_id="u", infer=False)
    assert threading.active_count() <= threads  # the failed pool's workers stopped


def test_refusals_while_running_are_typed(limited):
    """A user granted the tables but not their sequences, and a table dropped under an open Memory: StoreError."""
    import psycopg

    from memlab.errors import StoreError

    _, ext, role = limited
    Memory(pg_config(ext, "mem")).close()
    with psycopg.connect(ext, autocommit=True) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    with Memory(pg_config(_conninfo(ext, user=role), "mem")) as app:
        with pytest.raises(StoreError, match="permission denied for sequence.*nothing was written.*USAGE"):
            app.add("needs the sequence", user_id="u", infer=False)
        assert app.get_all(user_id="u")["results"] == []
        with psycopg.connect(ext, autocommit=True) as conn:
            conn.execute("DROP TABLE mem_history")
        with pytest.raises(StoreError, match="mem_history.*does not exist"):
            app.history("00000000-0000-4000-8000-000000000001")
