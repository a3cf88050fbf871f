"""Per-scope statistics of the PostgreSQL engine (memlab.store.pg.stats): kept by triggers on every write
path, a version every process sees, a cache of BM25 vocabularies that a write anywhere invalidates, the
revision that adds them (upgrade backfills, downgrade drops) and bounded fusion over large allowed sets."""

from __future__ import annotations

import pytest

from memlab import Memory
from memlab.store.pg import candidates as PC
from memlab.store.pg import revisions as R
from memlab.store.pg.health import check_collection
from memlab.store.pg.schema import head_revision
from tests.ci import require_module
from tests.pg.support import pg_config

psycopg = require_module("psycopg", "the pg extra is not installed (psycopg missing)", "PostgreSQL")

HASH128 = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
CHAT = [{"role": "user", "content": "I adopted a dog named Rex", "name": "Ana"},
        {"role": "assistant", "content": "Rex loves the park and the beach", "name": "Bob"},
        {"role": "user", "content": "We walk Rex in the park every morning", "name": "Ana"}]


def _cells(url: str, t: str) -> dict:
    with psycopg.connect(url) as conn:
        return {r[0]: r[1:] for r in conn.execute(
            f"SELECT cell, writes, n_docs, total_len, context_len, expiring FROM {t}_scope_stats").fetchall()}


def _version(url: str, t: str, **scope) -> int:
    cells = _cells(url, t)
    with psycopg.connect(url) as conn:
        keys = [r[0] for r in conn.execute(
            f"SELECT cell FROM {t}_scope_stats WHERE " + (" AND ".join(f"{k} = %s" for k in scope) or "true"),
            tuple(scope.values())).fetchall()]
    return sum(cells[k][0] for k in keys)


def _consistent(url: str, t: str) -> None:
    """The statistics equal a recount of the rows (doctor's check)."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = {(c, s): m for c, s, m, *_ in check_collection(conn, t)[0] if c == "scope stats"}
    assert list(found)[0][1] == "ok", found


def test_every_write_path_bumps_its_scope_and_keeps_the_counts_exact(pg_url, pg_collection):
    url, t = pg_url, pg_collection
    with Memory(pg_config(url, t)) as m:
        steps = []

        def step(name, fn, scope="u1"):
            before = {"u1": _version(url, t, user_id="u1"), "u2": _version(url, t, user_id="u2")}
            fn()
            after = {"u1": _version(url, t, user_id="u1"), "u2": _version(url, t, user_id="u2")}
            steps.append(name)
            assert after[scope] > before[scope], name  # the written scope's version moved
            other = "u2" if scope == "u1" else "u1"
            assert after[other] == before[other], name  # the other user's did not
            _consistent(url, t)

        step("add one", lambda: m.add("Rex chewed my violin", user_id="u1", infer=False))
        step("add a conversation (COPY)", lambda: m.add(CHAT * 3, user_id="u1", infer=False))
        ids = [r["id"] for r in m.get_all(user_id="u1")["results"]]
        step("add_records (import)", lambda: m.add_records(
            [{"memory": f"imported note {i} about hiking", "user_id": "u2"} for i in range(12)]), scope="u2")
        step("add_records replace", lambda: m.add_records(
            [{"id": ids[0], "memory": "a much longer replaced text about the park and Rex", "user_id": "u1"}],
            on_conflict="replace"))
        step("update text", lambda: m.update(ids[1], "Rex"))
        step("update metadata", lambda: m.update(ids[2], metadata={"starred": True}))
        step("pause", lambda: m.set_state(ids[3], "paused"))
        step("resume", lambda: m.set_state(ids[3], "active"))
        step("expiring add", lambda: m.add("a coupon for the beach", user_id="u1", infer=False,
                                           expiration_date="2000-01-01"))
        step("delete", lambda: m.delete(ids[4]))
        step("delete_all", lambda: m.delete_all(user_id="u2"), scope="u2")
        with psycopg.connect(url, autocommit=True) as conn:  # SQL of the user's own goes through the triggers too
            step("raw SQL", lambda: conn.execute(f"UPDATE {t} SET tokens = tokens || '{{extra}}' WHERE id = %s",
                                                 (ids[5],)))
        assert _cells(url, t)[f'["u1", null, null]'][4] == 1  # the expiring memory is counted
        before = _version(url, t)
        m.reset()
        assert _version(url, t) > before
        assert all(n == 0 for _, n, *_ in _cells(url, t).values())
        _consistent(url, t)
        with psycopg.connect(url, autocommit=True) as conn:
            m.add("after the reset", user_id="u1", infer=False)
            before = _version(url, t)
            conn.execute(f"TRUNCATE {t}")
        assert _version(url, t) > before and all(n == 0 for _, n, *_ in _cells(url, t).values())
    assert len(steps) == 12


def test_a_write_by_another_instance_invalidates_the_cache_and_only_its_scope(pg_url, pg_collection):
    cfg = pg_config(pg_url, pg_collection)
    with Memory(cfg) as a, Memory(cfg) as b:
        # "the" and "Rex" occur in more than half of u1's memories: BM25's idf floor needs the vocabulary
        a.add(CHAT, user_id="u1", infer=False)
        a.add(CHAT[:2], user_id="u2", infer=False)
        cache = a.store.scope_cache
        first = a.search("Rex in the park", user_id="u1", explain=True)["results"]
        assert (cache.hits, cache.misses) == (0, 1)
        assert a.search("Rex in the park", user_id="u1", explain=True)["results"] == first
        assert (cache.hits, cache.misses) == (1, 1)  # the same scope version: its vocabulary was reused
        b.add("Rex swims at the beach", user_id="u2", infer=False)  # another instance, another user
        assert a.search("Rex in the park", user_id="u1", explain=True)["results"] == first
        assert (cache.hits, cache.misses) == (2, 1)
        b.add("the park is closed today", user_id="u1", infer=False)  # another instance, this user
        got = a.search("Rex in the park", user_id="u1", explain=True)["results"]
        assert (cache.hits, cache.misses) == (2, 2)
        assert "the park is closed today" in [r["memory"] for r in got]
        with Memory(cfg) as fresh:  # nothing cached there: the numbers a recount gives
            assert fresh.search("Rex in the park", user_id="u1", explain=True)["results"] == got
        b.delete([r["id"] for r in got if r["memory"] == "the park is closed today"][0])
        assert a.search("Rex in the park", user_id="u1", explain=True)["results"] == first
        assert cache.misses == 3
        # the whole store is a scope too: any write moves its version
        a.search("Rex", all_scopes=True)
        b.add("one more", user_id="u9", infer=False)
        misses = cache.misses
        a.search("Rex", all_scopes=True)
        assert cache.misses == misses + 1


def test_cached_and_recounted_searches_agree_with_the_faiss_engine(pg_url, pg_collection):
    """Twice the same searches (the second from the cache) give the FAISS engine's results, idf floor included."""
    with Memory(HASH128) as fm, Memory(pg_config(pg_url, pg_collection)) as pm:
        for m in (fm, pm):
            m.add(CHAT * 2, user_id="u1", infer=False)
            m.add("the the the Rex", user_id="u1", infer=False, expiration_date="2000-01-01")  # expired: not allowed
            m.add("Rex at the park", user_id="u1", agent_id="helper", infer=False)
        for _ in range(2):
            for query, scope in (("Rex in the park", {"user_id": "u1"}), ("the beach", {"user_id": "u1"}),
                                 ("Rex", {"user_id": "u1", "agent_id": "helper"}), ("Bob park", {"all_scopes": True})):
                want = fm.search(query, explain=True, **scope)["results"]
                got = pm.search(query, explain=True, **scope)["results"]
                assert [w["memory"] for w in want] == [g["memory"] for g in got], query
                for w, g in zip(want, got):
                    assert g["score"] == pytest.approx(w["score"], abs=1e-5)
                    for ch, nums in w["explain"]["channels"].items():
                        assert g["explain"]["channels"][ch]["raw"] == pytest.approx(nums["raw"], abs=1e-5), (query, ch)
        assert pm.store.scope_cache.hits >= 4


def test_bounded_fusion_ranks_a_pool_and_equals_exact_fusion_when_the_pool_is_everything(
        pg_url, pg_collection, monkeypatch):
    with Memory(pg_config(pg_url, pg_collection)) as m:
        for u in range(4):
            m.add(CHAT + [{"role": "user", "content": f"note {u} about violin lessons", "name": "Ana"}],
                  user_id=f"u{u}", infer=False)
        exact = m.search("violin lessons with Rex", all_scopes=True, limit=5, explain=True)["results"]
        m.store.fusion_exact_below = 4  # 16 allowed rows: the bounded path; the pool (1000 + 1000) holds them all
        assert m.search("violin lessons with Rex", all_scopes=True, limit=5, explain=True)["results"] == exact
        # a filter without a scope id decides by the planner's estimate (a small table: exact)
        assert m.search("violin", filters={"actor_id": "Ana"}, all_scopes=True)["results"]
        monkeypatch.setattr(PC, "FUSION_POOL", 2)
        monkeypatch.setattr(PC, "KEYWORD_POOL", 4)
        got = m.search("violin lessons", all_scopes=True, limit=20)["results"]
        nearest = {r["id"] for r in m.search("violin lessons", all_scopes=True, limit=2, mode="dense")["results"]}
        # the pool: the 2 nearest by cosine and, per query term, the first 4 // 2 rows holding it (table order)
        notes = [r["id"] for u in range(2) for r in m.get_all(user_id=f"u{u}")["results"] if "violin" in r["memory"]]
        assert {r["id"] for r in got} == nearest | set(notes)
        m.store.fusion_exact_below = 0  # off: exact again
        assert len(m.search("violin lessons", all_scopes=True, limit=20)["results"]) == 16


def test_revision_downgrade_drops_and_upgrade_backfills(pg_url, pg_collection):
    url, t = pg_url, pg_collection
    cfg = pg_config(url, t)
    with Memory(cfg) as m:
        m.add(CHAT, user_id="u1", infer=False)
        want = m.search("Rex park", user_id="u1")["results"]
    assert R.downgrade(url, t, "-1") == (head_revision(), "0003_fusion_context")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (f"{t}_scope_stats",)).fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                            (t,)).fetchone()[0] == 0
        assert conn.execute("SELECT to_regprocedure(%s)", (f"{t}_scope_stats_fn()",)).fetchone()[0] is None
        # written while at 0003 (an older memlab): nothing counts it until the upgrade backfills
        conn.execute(f"UPDATE {t} SET state = 'paused' WHERE memory = %s", (CHAT[0]["content"],))
    with pytest.raises(Exception, match="pg_dump"):
        R.downgrade(url, t, "-1")  # 0003 has no downgrade
    assert R.upgrade(url, t) == ("0003_fusion_context", head_revision())
    _consistent(url, t)
    assert _cells(url, t)['["u1", null, null]'][1] == 2  # the paused memory is not counted
    with Memory(cfg) as m:
        assert [r["memory"] for r in m.search("Rex park", user_id="u1")["results"]] == \
            [r["memory"] for r in want if r["memory"] != CHAT[0]["content"]]
        with psycopg.connect(url, autocommit=True) as conn:  # doctor notices statistics that drifted
            conn.execute(f"UPDATE {t}_scope_stats SET n_docs = n_docs + 1")
            finding = [f for f in check_collection(conn, t)[0] if f[0] == "scope stats"][0]
        assert finding[1] == "error" and "memlab db downgrade -1" in finding[2]
