"""Contextual indexing: stored with add(messages, infer=False), kept across re-open, export/import,
data migration and schema upgrades, cleared by a text update, never returned as memory text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memlab import Memory
from memlab.ranking.context import build_contexts

HASH = {"embedder": {"provider": "hash", "config": {"embedding_dims": 128}}}
CHAT = [{"role": "user", "name": "Ana", "content": "I adopted a beagle puppy named Rex."},
        {"role": "assistant", "content": "Congratulations! How old is he?"},
        {"role": "user", "name": "Ana", "content": "Eight weeks. He chews every shoe I own."},
        {"role": "system", "content": "(ignored)"},
        {"role": "user", "name": "Ana", "content": "We go hiking every Sunday morning."}]
WINDOWS = [
    "Ana: I adopted a beagle puppy named Rex.\nassistant: Congratulations! How old is he?\n"
    "Ana: Eight weeks. He chews every shoe I own.",
    "Ana: I adopted a beagle puppy named Rex.\nassistant: Congratulations! How old is he?\n"
    "Ana: Eight weeks. He chews every shoe I own.\nAna: We go hiking every Sunday morning.",
]


def _explained(m: Memory, query: str) -> list[tuple]:
    return [(r["id"], r["memory"], round(r["rank_score"], 9),
             {k: round(v["raw"], 6) for k, v in r["explain"]["channels"].items()})
            for r in m.search(query, user_id="ana", explain=True)["results"]]


def test_windows_by_hand():
    msgs = [{"role": "user", "content": c, "name": n} for c, n in (("a", "X"), ("b", None), ("c", "Y"), ("d", "X"))]
    assert build_contexts(msgs, 1) == ["X: a\nuser: b", "X: a\nuser: b\nY: c", "user: b\nY: c\nX: d", "Y: c\nX: d"]
    assert build_contexts(msgs, 0) == [None] * 4
    assert build_contexts(msgs[:1], 2) == [None]  # one message: no conversation


def test_context_is_stored_shown_on_request_and_never_returned_as_text(tmp_path):
    m = Memory(HASH, path=tmp_path / "s")
    added = m.add(CHAT, user_id="ana", infer=False)["results"]
    assert len(added) == 4 and all("context" not in item for item in added)
    df = m.to_pandas()
    assert df["context"].tolist()[:2] == WINDOWS
    assert df["memory"].tolist()[0] == "I adopted a beagle puppy named Rex."
    item = m.get(added[0]["id"])
    assert "context" not in item and item["memory"] == "I adopted a beagle puppy named Rex."
    res = m.search("shoes", user_id="ana")["results"]
    assert all("context" not in r and "channels" not in r and "\n" not in r["memory"] for r in res)
    # a context vector per windowed memory, the embedding of the window text
    t = m.store.table
    pos = t.pos_by_id[added[0]["id"]]
    assert t.has_ctx[pos]
    np.testing.assert_allclose(t.ctx_vecs[pos], m.embed([WINDOWS[0]])[0], atol=1e-6)
    single = m.add("A lone message", user_id="ana", infer=False)["results"][0]
    assert pd.isna(m.to_pandas().set_index("id").loc[single["id"], "context"])
    m.close()


def test_context_survives_reopen(tmp_path):
    m = Memory(HASH, path=tmp_path / "s")
    m.add(CHAT, user_id="ana", infer=False)
    before, contexts = _explained(m, "What does Rex chew?"), m.to_pandas()["context"].tolist()
    m.close()
    again = Memory(HASH, path=tmp_path / "s")
    assert again.to_pandas()["context"].tolist() == contexts
    assert _explained(again, "What does Rex chew?") == before
    again.close()


def test_context_survives_export_import_and_data_migration(tmp_path):
    from memlab.migrate import DataMigrator, export, import_export

    src = Memory(HASH)
    src.add(CHAT, user_id="ana", infer=False)
    before = _explained(src, "hiking on Sunday")
    for fmt in ("jsonl", "parquet"):
        path = tmp_path / f"out.{fmt}"
        export(src, path, format=fmt)
        dst = Memory(HASH)
        import_export(path, dst)
        assert dst.to_pandas()["context"].tolist() == src.to_pandas()["context"].tolist()
        assert _explained(dst, "hiking on Sunday") == before
        dst.close()
    target = Memory(HASH)
    DataMigrator(src, target).migrate(user_id="ana")
    assert _explained(target, "hiking on Sunday") == before
    target.close()
    src.close()


def test_schema_downgrade_upgrade_keeps_context_and_old_stores_work(tmp_path):
    from memlab.store.faiss import revisions as S

    store = tmp_path / "old"
    m = Memory(HASH, path=store)
    m.add(CHAT, user_id="ana", infer=False)
    m.close()
    first = Memory(HASH, path=store)
    before = _explained(first, "Rex chews shoes")
    first.close()
    S.downgrade(store, "0003_configs")  # back to the schema before contextual indexing: windows parked
    assert S.current(store) == "0003_configs"
    up = Memory(HASH, path=store)  # opening upgrades it (snapshot + Alembic) and restores them
    assert S.current(store) == S.HEAD_REVISION
    assert up.to_pandas()["context"].tolist()[:2] == WINDOWS and _explained(up, "Rex chews shoes") == before
    up.close()
    # a store really written before 0005 (no windows at all): the park is emptied first
    import sqlite3

    S.downgrade(store, "0003_configs")
    conn = sqlite3.connect(str(store / "memlab.db"))
    conn.execute("DELETE FROM store_meta WHERE key = 'stash:0005_context'")
    conn.commit()
    conn.close()
    up = Memory(HASH, path=store)
    df = up.to_pandas()
    assert len(df) == 4 and df["context"].isna().all()
    # memories without context: context channels fall back to their own text and vector
    res = up.search("Rex chews shoes", user_id="ana", explain=True)["results"]
    for r in res:
        ch = r["explain"]["channels"]
        assert ch["dense_context"]["raw"] == pytest.approx(ch["dense"]["raw"], abs=1e-6)
    up.add(CHAT, user_id="ana", infer=False)
    assert up.to_pandas()["context"].notna().sum() == 4
    up.close()


def test_update_clears_context_only_when_the_text_changes(mem):
    ids = [r["id"] for r in mem.add(CHAT, user_id="ana", infer=False)["results"]]
    mem.update(ids[0], metadata={"k": 1})
    assert mem.to_pandas().set_index("id").loc[ids[0], "context"] == WINDOWS[0]
    mem.update(ids[0], "I adopted a beagle named Rex in May.")
    frame = mem.to_pandas().set_index("id")
    assert pd.isna(frame.loc[ids[0], "context"])
    assert not mem.store.table.has_ctx[mem.store.table.pos_by_id[ids[0]]]
    assert frame.loc[ids[1], "context"] == WINDOWS[1]  # neighbours keep their windows (as they were said)


def test_context_window_setting():
    cfg = {**HASH, "vector_store": {"provider": "faiss", "config": {"context_window": 0}}}
    m = Memory(cfg)
    m.add(CHAT, user_id="ana", infer=False)
    assert m.to_pandas()["context"].isna().all()
    m.close()
    cfg["vector_store"]["config"]["context_window"] = 1
    m = Memory(cfg)
    m.add(CHAT, user_id="ana", infer=False)
    assert m.to_pandas()["context"].iloc[0] == "Ana: I adopted a beagle puppy named Rex.\nassistant: " \
                                                "Congratulations! How old is he?"
    m.close()
