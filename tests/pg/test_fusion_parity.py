"""Fusion search — the default mode of both engines — gives the same results on PostgreSQL as on FAISS.

Both engines get the same conversations through ``add(messages, infer=False)`` (so every message is
indexed with its context window), single adds, an update that changes text (context cleared), a
metadata-only update and a state change (context kept), a delete. Then the same searches must
return the same memories in the same order with the same scores, ``explain`` numbers and
threshold behaviour. "The same" is up to float rounding: pgvector and numpy sum the cosine's
products in different orders (about 1e-8), so channel ranks may differ only between rows whose raw
scores tie within that rounding.
"""

from __future__ import annotations

import random
from typing import Optional

import numpy as np
import pytest

from memlab import Memory
from memlab.ranking.context import context_document
from memlab.store.pg.schema import head_revision
from tests.pg.support import pg_config

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
WORDS = ("pizza dog Rex park Lyon sister hiking Alps cheese peanut allergy winter food adopted loves painting "
         "sunset support group counseling career camping beach violin guitar concert museum").split()
SPEAKERS = ("Ana", "Bob", "Caroline", "Melanie")
QUERIES = ["pizza", "What did Ana say about the dog?", "Rex Rex park", "unknownword", "Bob Lyon sister",
           "the the", "When did Caroline go camping at the beach?", "Melanie violin concert museum",
           "What did Ana say about pizza in February 2023?", "Who went hiking on 10 March 2023?"]
TOL = 1e-5


def _conversation(rng: random.Random, n: int) -> list[dict]:
    msgs = []
    for i in range(n):
        msg = {"role": "user" if i % 2 == 0 else "assistant",
               "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9)))}
        if i % 3:  # some messages carry a speaker name, others fall back to their role
            msg["name"] = SPEAKERS[(n + i) % len(SPEAKERS)]
        msgs.append(msg)
    return msgs


def _fill(mems: tuple[Memory, Memory]) -> dict[str, str]:
    """The same history on both engines; returns FAISS id -> PostgreSQL id."""
    rng = random.Random(7)
    ids: dict[str, str] = {}

    def both(call):
        a, b = (call(m) for m in mems)
        for x, y in zip(a["results"], b["results"]):
            ids[x["id"]] = y["id"]
        return a["results"]

    for conv in range(9):
        msgs = _conversation(rng, rng.randint(1, 12))
        # dated conversations (the time channel): months 1-3 of 2023; the last ones undated (now)
        when = f"2023-0{conv % 3 + 1}-10T10:00:00" if conv < 7 else None
        both(lambda m: m.add(msgs, user_id=f"u{conv % 3}", infer=False, metadata={"conv": conv, "kind": "chat"},
                             timestamp=when))
    both(lambda m: m.add("a single note about Rex the dog", user_id="u0", infer=False))
    both(lambda m: m.add([{"role": "user", "content": "Ana loves pizza in Lyon", "name": "Ana"}], user_id="u1",
                         infer=False))
    # writes after the adds, on the same memories of both engines
    rows = {m: m.get_all(user_id="u0", limit=100)["results"] for m in mems}
    fa = [r["id"] for r in rows[mems[0]]]
    assert [ids[i] for i in fa] == [r["id"] for r in rows[mems[1]]]
    for fid, op in zip(fa, ("text", "meta", "pause", "delete", "archive")):
        for m, mid in ((mems[0], fid), (mems[1], ids[fid])):
            if op == "text":
                m.update(mid, "Rex chewed the violin at the beach")  # new text: context cleared
            elif op == "meta":
                m.update(mid, metadata={"starred": True})  # context kept
            elif op == "delete":
                m.delete(mid)
            else:
                m.set_state(mid, "paused" if op == "pause" else "archived")
    for m, mid in ((mems[0], fa[2]), (mems[1], ids[fa[2]])):
        m.set_state(mid, "active")  # back: its context must have survived the round trip
    return ids


@pytest.fixture(scope="module")
def engines(pg_url):
    from tests.pg.support import drop_collection, new_collection

    name = new_collection()
    with Memory(HASH) as faiss_mem, Memory(pg_config(pg_url, name)) as pg_mem:
        ids = _fill((faiss_mem, pg_mem))
        yield faiss_mem, pg_mem, ids
    drop_collection(pg_url, name)


def _same(want: list[dict], got: list[dict], ids: dict[str, str], every: Optional[list[dict]] = None) -> None:
    """``got`` (PostgreSQL) is ``want`` (FAISS). ``every``: FAISS's explained results for every allowed row,
    to tell which channel ranks may differ (rows whose raw scores tie within float rounding)."""
    assert [ids[w["id"]] for w in want] == [g["id"] for g in got]
    for w, g in zip(want, got):
        assert g["memory"] == w["memory"]
        assert g["score"] == pytest.approx(w["score"], abs=TOL)
        for key in ("rank_score", "keyword_score"):
            assert g.get(key) == pytest.approx(w.get(key), abs=TOL)
        if "explain" in w:
            ew, eg = w["explain"], g["explain"]
            assert set(eg) == set(ew) and eg["mode"] == ew["mode"] == "fusion"
            assert eg["normalization"] == ew["normalization"]
            assert eg["fused"] == pytest.approx(ew["fused"], abs=TOL)
            assert list(eg["channels"]) == list(ew["channels"])
            for ch, nums in ew["channels"].items():
                assert set(eg["channels"][ch]) == set(nums)
                for k in ("raw", "normalized", "weight"):
                    assert eg["channels"][ch][k] == pytest.approx(nums[k], abs=TOL), (ch, k)
                if eg["channels"][ch]["rank"] != nums["rank"]:
                    # only cosines may differ by rounding, and only between near-tied rows
                    assert ch in ("dense", "dense_context") and every is not None, ch
                    near = sum(abs(e["explain"]["channels"][ch]["raw"] - nums["raw"]) < 1e-6 for e in every) - 1
                    assert abs(eg["channels"][ch]["rank"] - nums["rank"]) <= near, (ch, near)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("scope", [{"user_id": "u0"}, {"user_id": "u1"}, {"user_id": "u2"},
                                   {"user_id": "u0", "filters": {"conv": {"in": [0, 3]}}},
                                   {"all_scopes": True, "filters": {"OR": [{"user_id": "u1"}, {"actor_id": "Ana"}]}},
                                   {"all_scopes": True, "filters": {"NOT": {"kind": "chat"}}}])
def test_default_search_is_fusion_and_identical(engines, query, scope):
    faiss_mem, pg_mem, ids = engines
    want = faiss_mem.search(query, limit=8, explain=True, **scope)["results"]
    got = pg_mem.search(query, limit=8, explain=True, **scope)["results"]
    assert want  # fusion ranks every allowed row: never empty here
    _same(want, got, ids, faiss_mem.search(query, limit=1000, explain=True, **scope)["results"])
    # the default is fusion on both engines
    assert got == pg_mem.search(query, limit=8, explain=True, mode="fusion", **scope)["results"]
    # explain=False: the same items without the explanation
    plain = pg_mem.search(query, limit=8, **scope)["results"]
    assert [p["id"] for p in plain] == [g["id"] for g in got] and all("explain" not in p for p in plain)


def test_time_channel_fires_the_same_on_both(engines):
    faiss_mem, pg_mem, ids = engines
    q = "What did Ana say about pizza in February 2023?"
    want = faiss_mem.search(q, user_id="u1", limit=100, explain=True)["results"]
    got = pg_mem.search(q, user_id="u1", limit=100, explain=True)["results"]
    _same(want, got, ids, every=want)
    dated = [r for r in got if r["explain"]["channels"]["time"]["raw"] == 1.0]
    assert dated and all(r["created_at"].startswith("2023-02-10") for r in dated)
    assert len(dated) < len(got)  # only February's memories are dated in February


@pytest.mark.parametrize("threshold", [0.0, 0.05, 0.2, 0.5, 0.99])
def test_threshold_is_the_score_on_both(engines, threshold):
    faiss_mem, pg_mem, ids = engines
    for query in ("pizza dog", "Ana Lyon"):
        want = faiss_mem.search(query, user_id="u1", limit=50, threshold=threshold)["results"]
        got = pg_mem.search(query, user_id="u1", limit=50, threshold=threshold)["results"]
        _same(want, got, ids)
        assert all(g["score"] >= threshold for g in got)


def test_context_is_stored_scored_and_kept(engines, pg_url):
    """Context windows and their embeddings reach PostgreSQL, survive state changes, and are cleared by new text."""
    import psycopg

    faiss_mem, pg_mem, ids = engines
    t = pg_mem.store.table_name
    analyzer = pg_mem.store.analyzer
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(f"SELECT memory, actor_id, context, context_tokens, context_embedding IS NOT NULL "
                            f"FROM {t} ORDER BY vid").fetchall()
    with_ctx = [r for r in rows if r[2]]
    assert with_ctx and len(with_ctx) < len(rows)
    for memory, actor, context, tokens, has_vec in rows:
        if context:
            assert has_vec and tokens == analyzer.analyze(context_document(memory, actor, context))
        else:
            assert tokens is None and not has_vec
    edited = [r for r in rows if r[0] == "Rex chewed the violin at the beach"]
    assert edited and edited[0][2] is None  # update() with new text cleared it
    faiss_df = faiss_mem.to_pandas()
    assert faiss_df["context"].tolist() == pg_mem.to_pandas()["context"].tolist()


@pytest.mark.parametrize("settings", [
    {"fusion_normalization": "minmax"},
    {"fusion_weights": {"dense": 1.0, "keyword": 1.0}},
    {"fusion_weights": {"keyword_context": 1.0, "speaker": 0.5}},
    {"keyword_language": "none", "bm25_k1": 1.5, "bm25_b": 0.75},
])
def test_configured_fusion_is_identical(pg_url, pg_collection, settings):
    faiss_cfg = {**HASH, "vector_store": {"provider": "faiss", "config": dict(settings)}}
    with Memory(faiss_cfg) as faiss_mem, Memory(pg_config(pg_url, pg_collection, **settings)) as pg_mem:
        ids = _fill((faiss_mem, pg_mem))
        for query in QUERIES[:6]:
            for user in ("u0", "u1"):
                _same(faiss_mem.search(query, user_id=user, limit=6, explain=True)["results"],
                      pg_mem.search(query, user_id=user, limit=6, explain=True)["results"], ids,
                      faiss_mem.search(query, user_id=user, limit=1000, explain=True)["results"])


def test_reranked_default_search_is_identical(pg_url, pg_collection):
    """The features reranker reads fusion's channel scores: same input on both engines, same output."""
    rerank = {"reranker": {"provider": "features", "config": {}}}
    with Memory({**HASH, **rerank}) as faiss_mem, Memory({**pg_config(pg_url, pg_collection), **rerank}) as pg_mem:
        ids = _fill((faiss_mem, pg_mem))
        for query in ("What did Ana say about the dog?", "Bob Lyon sister"):
            want = faiss_mem.search(query, user_id="u1", limit=5, explain=True)["results"]
            got = pg_mem.search(query, user_id="u1", limit=5, explain=True)["results"]
            assert [ids[w["id"]] for w in want] == [g["id"] for g in got]
            for w, g in zip(want, got):
                assert "rerank_score" in w and g["rerank_score"] == pytest.approx(w["rerank_score"], abs=TOL)


def test_empty_scope_and_unmatched_filter(engines):
    faiss_mem, pg_mem, _ = engines
    for m in (faiss_mem, pg_mem):
        assert m.search("pizza", user_id="nobody")["results"] == []
        assert m.search("pizza", user_id="u0", filters={"conv": 999})["results"] == []


def test_upgrade_backfills_context_tokens(pg_url, pg_collection):
    """A store written before revision 0003 gets its context terms on open; searches then work."""
    import psycopg

    cfg = pg_config(pg_url, pg_collection)
    msgs = [{"role": "user", "content": "I adopted a dog named Rex", "name": "Ana"},
            {"role": "assistant", "content": "Rex loves the park", "name": "Bob"},
            {"role": "user", "content": "We go hiking in the Alps", "name": "Ana"}]
    with Memory(cfg) as m:
        m.add(msgs, user_id="u", infer=False)
        analyzer = m.store.analyzer
    t = pg_collection
    with psycopg.connect(pg_url, autocommit=True) as conn:  # back to revision 0002
        conn.execute(f"ALTER TABLE {t} DROP COLUMN context_tokens, DROP COLUMN context_embedding")
        conn.execute(f"UPDATE {t}_meta SET value = '0002_context' WHERE key = 'schema_version'")
    with Memory(cfg) as m:
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute(f"SELECT memory, actor_id, context, context_tokens, context_embedding FROM {t} "
                                "ORDER BY vid").fetchall()
            version = conn.execute(f"SELECT value FROM {t}_meta WHERE key = 'schema_version'").fetchone()[0]
        assert version == head_revision()
        for memory, actor, context, tokens, emb in rows:
            assert tokens == analyzer.analyze(context_document(memory, actor, context)) and emb is None
        hits = m.search("What did Bob say about the park?", user_id="u", explain=True)["results"]
        assert hits[0]["memory"] == "Rex loves the park"
        # no context embedding yet: the dense context channel uses each memory's own vector
        ch = hits[0]["explain"]["channels"]
        assert ch["dense_context"]["raw"] == pytest.approx(ch["dense"]["raw"], abs=1e-6)
        assert np.isfinite(hits[0]["rank_score"])


def test_contexts_survive_migration_both_ways(tmp_path, pg_url, pg_collection):
    """FAISS -> PostgreSQL -> FAISS with DataMigrator: context windows are carried (and re-embedded), so
    fusion ranks the same on all three stores."""
    from memlab.migrate import DataMigrator, verify_migration

    rng = random.Random(3)
    with Memory(HASH) as src, Memory(pg_config(pg_url, pg_collection)) as dst, Memory(HASH) as back:
        for conv in range(4):
            src.add(_conversation(rng, 8), user_id=f"u{conv % 2}", infer=False)
        DataMigrator(src, dst, progress=False).migrate()
        DataMigrator(dst, back, progress=False).migrate()
        assert verify_migration(src, dst).ok and verify_migration(dst, back).ok
        assert src.to_pandas()["context"].tolist() == dst.to_pandas()["context"].tolist() \
            == back.to_pandas()["context"].tolist()
        same = {i: i for i in src.to_pandas()["id"]}  # ids are kept by the migration
        for query in QUERIES[:5]:
            want = src.search(query, user_id="u1", limit=6, explain=True)["results"]
            every = src.search(query, user_id="u1", limit=1000, explain=True)["results"]
            assert any(w["explain"]["channels"]["dense_context"]["raw"] != w["explain"]["channels"]["dense"]["raw"]
                       for w in want)  # the context channels are in play
            _same(want, dst.search(query, user_id="u1", limit=6, explain=True)["results"], same, every)
            _same(want, back.search(query, user_id="u1", limit=6, explain=True)["results"], same, every)
