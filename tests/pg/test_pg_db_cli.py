"""``memlab db`` on a PostgreSQL store: current revision, the chain, an explicit upgrade (with the
backfill a Memory would do on open), and a clear error for the directory-only actions."""

from __future__ import annotations

import pytest

from memlab import Memory
from memlab.cli import main
from memlab.errors import StoreError
from memlab.store.pg import revisions as R
from memlab.store.pg.schema import head_revision
from tests.ci import require_module
from tests.pg.support import pg_config

psycopg = require_module("psycopg", "the pg extra is not installed (psycopg missing)", "PostgreSQL")


def test_current_history_upgrade_on_postgres(pg_url, pg_collection, capsys):
    t = pg_collection
    with Memory(pg_config(pg_url, t)) as m:
        m.add([{"role": "user", "content": "I adopted a dog named Rex", "name": "Ana"},
               {"role": "assistant", "content": "Rex loves the park", "name": "Bob"}], user_id="u", infer=False)
        analyzer = m.store.analyzer
    assert R.current(pg_url, t) == head_revision()
    assert main(["db", "current", "--store", pg_url, "--collection", t]) == 0
    assert capsys.readouterr().out.strip() == f"{head_revision()} (head)"
    assert main(["db", "history", "--store", pg_url, "--collection", t]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("<base> -> 0001_initial") and lines[-1].endswith("(head) (current)")

    with psycopg.connect(pg_url, autocommit=True) as conn:  # the store as revision 0002 left it
        conn.execute(f"ALTER TABLE {t} DROP COLUMN context_tokens, DROP COLUMN context_embedding")
        conn.execute(f"UPDATE {t}_meta SET value = '0002_context' WHERE key = 'schema_version'")
    assert R.current(pg_url, t) == "0002_context"
    assert main(["db", "upgrade", "--store", pg_url, "--collection", t]) == 0
    assert capsys.readouterr().out.strip() == f"{t}: 0002_context -> {head_revision()}"
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(f"SELECT memory, context_tokens FROM {t} ORDER BY vid").fetchall()
    assert all(tokens and set(analyzer.analyze(memory)) <= set(tokens) for memory, tokens in rows)
    assert main(["db", "upgrade", "--store", pg_url, "--collection", t]) == 0
    assert "already at" in capsys.readouterr().out


def test_directory_only_actions_and_unknown_collection_are_clear_errors(pg_url, pg_collection, capsys):
    with Memory(pg_config(pg_url, pg_collection)):
        pass
    # 0004 (derived statistics) can be undone; the revisions before it only with a backup
    assert main(["db", "downgrade", "-1", "--store", pg_url, "--collection", pg_collection]) == 0
    assert f"{head_revision()} -> 0003_fusion_context" in capsys.readouterr().out
    for action in (["downgrade", "-1"], ["downgrade", "0001_initial"], ["rollback"], ["snapshots"]):
        assert main(["db", *action, "--store", pg_url, "--collection", pg_collection]) == 2
        assert "pg_dump" in capsys.readouterr().err
    assert R.current(pg_url, pg_collection) == "0003_fusion_context"
    assert main(["db", "upgrade", "--store", pg_url, "--collection", pg_collection]) == 0
    capsys.readouterr()
    assert main(["db", "current", "--store", pg_url, "--collection", "nosuchstore"]) == 2
    assert "No memlab store 'nosuchstore'" in capsys.readouterr().err
    with pytest.raises(StoreError, match="head"):
        R.upgrade(pg_url, pg_collection, "0001_initial")
    assert R.current(pg_url, pg_collection) == head_revision()  # nothing changed
