"""The keyword indexes saved beside memlab.db (memlab.store.faiss.keyword_cache): a re-opened store ranks exactly
as one that rebuilt its indexes from the texts, whatever happened to the rows in between."""

from __future__ import annotations

import pytest

from memlab import Memory
from memlab.store.faiss.keyword_cache import FILE

QUERIES = ["hiking trip with my dog", "sister Lisbon", "what did Ana say about the invoice", "zzz unknown words"]


def _cfg(path, **vs):
    return {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}},
            "vector_store": {"provider": "faiss", "config": {"path": str(path), **vs}}}


def _fill(m: Memory) -> list[str]:
    ids = []
    for u in range(3):
        msgs = [{"role": "user", "content": f"user {u} went hiking with the dog near lake {j}", "name": "Ana"}
                if j % 2 == 0 else {"role": "assistant", "content": f"the invoice {j} is overdue, sister in Lisbon"}
                for j in range(8)]
        ids += [r["id"] for r in m.add(msgs, user_id=f"u{u}", infer=False)["results"]]
    ids.append(m.add("a lone memory about Lisbon", user_id="u0", infer=False)["results"][0]["id"])
    return ids


def _ranks(m: Memory) -> list:
    out = []
    for q in QUERIES:
        for mode in ("fusion", "keyword", "hybrid"):
            for scope in ({"user_id": "u0"}, {"user_id": "u1"}, {"all_scopes": True}):
                res = m.search(q, mode=mode, limit=20, **scope)["results"]
                out.append([(r["id"], round(r.get("rank_score", 0.0), 9), round(r.get("keyword_score", 0.0), 9))
                            for r in res])
    return out


def _rebuilt(path, **vs) -> list:
    (path / FILE).unlink(missing_ok=True)
    with Memory(_cfg(path, **vs)) as m:
        assert m.store.table.keyword is None  # nothing to restore: built from the texts on first search
        return _ranks(m)


def test_reopened_store_restores_its_keyword_index_and_ranks_identically(tmp_path):
    with Memory(_cfg(tmp_path)) as m:
        ids = _fill(m)
        m.search("warm up", user_id="u0")  # builds the indexes
    assert (tmp_path / FILE).is_file()
    with Memory(_cfg(tmp_path)) as m:
        assert m.store.table.keyword is not None  # restored at open, before any search
        restored = _ranks(m)
    assert restored == _rebuilt(tmp_path)
    with Memory(_cfg(tmp_path)) as m:
        # writes after the restore: new rows, a changed text, a deleted memory
        m.add("brand new memory about the dog and Lisbon", user_id="u1", infer=False)
        m.update(ids[0], text="Ana now talks about her sister in Lisbon")
        m.delete(ids[3])
        changed = _ranks(m)
    with Memory(_cfg(tmp_path)) as m:
        assert _ranks(m) == changed
    assert _rebuilt(tmp_path) == changed


def test_rows_written_after_the_file_by_another_memory_are_reindexed(tmp_path):
    with Memory(_cfg(tmp_path)) as m:
        ids = _fill(m)
        m.search("warm up", user_id="u0")
    with Memory(_cfg(tmp_path)) as other:  # restores, then writes; closed without a search: saved again
        other.add("a hiking memory written by another process", user_id="u0", infer=False)
    saved = (tmp_path / FILE).stat().st_mtime_ns
    with Memory(_cfg(tmp_path)) as writer:  # a writer that never saves (killed before it closes)...
        writer.store._save_caches = lambda: None
        writer.update(ids[1], text="the invoice was paid, Lisbon trip booked")
        writer.add("yet another memory about the dog", user_id="u1", infer=False)
    assert (tmp_path / FILE).stat().st_mtime_ns == saved
    with Memory(_cfg(tmp_path)) as m:  # ...so the file is older than those rows: they are indexed again
        got = _ranks(m)
    assert got == _rebuilt(tmp_path)


def test_a_file_that_does_not_fit_is_ignored(tmp_path):
    with Memory(_cfg(tmp_path)) as m:
        _fill(m)
        m.search("warm up", user_id="u0")
    # other analyzer settings: the saved terms are not this configuration's terms
    with Memory(_cfg(tmp_path, keyword_language="none")) as m:
        assert m.store.table.keyword is None
        other_analyzer = _ranks(m)
    assert other_analyzer == _rebuilt(tmp_path, keyword_language="none")
    # reset() starts a new epoch: the old file describes rows that are gone
    with Memory(_cfg(tmp_path)) as m:
        m.search("warm up", user_id="u0")
    with Memory(_cfg(tmp_path)) as m:
        m.reset()
        m.add("after the reset, hiking", user_id="u0", infer=False)
    with Memory(_cfg(tmp_path)) as m:
        after_reset = _ranks(m)
    assert after_reset == _rebuilt(tmp_path)
    # a damaged file: rebuilt from the texts, never an error
    with Memory(_cfg(tmp_path)) as m:
        m.search("warm up", user_id="u0")
    (tmp_path / FILE).write_bytes(b"not a numpy archive")
    with Memory(_cfg(tmp_path)) as m:
        assert m.store.table.keyword is None
        assert _ranks(m) == after_reset


@pytest.mark.parametrize("mode", ["dense"])
def test_dense_only_use_writes_no_file(tmp_path, mode):
    with Memory(_cfg(tmp_path, search_mode=mode)) as m:
        _fill(m)
        m.search("hiking", user_id="u0")
    assert not (tmp_path / FILE).exists()
