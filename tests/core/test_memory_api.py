"""Every verb of the mem0-compatible API, both call styles and both response formats."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from memlab import Memory, MemoryConfig, MemoryType
from memlab.errors import NotFoundError, ValidationError


@pytest.fixture
def mem(engine_mem):
    """Every test here runs on both engines (FAISS + SQLite and PostgreSQL + pgvector)."""
    return engine_mem


def test_add_infer_false_stores_each_non_system_message(mem):
    res = mem.add(
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "I love sushi", "name": "alice_phone"},
            {"role": "assistant", "content": "Noted, sushi it is."},
        ],
        user_id="alice", infer=False, metadata={"source": "chat"},
    )
    items = res["results"]
    assert [i["memory"] for i in items] == ["I love sushi", "Noted, sushi it is."]
    assert [i["event"] for i in items] == ["ADD", "ADD"]
    assert items[0]["actor_id"] == "alice_phone" and items[0]["role"] == "user"
    assert "actor_id" not in items[1] and items[1]["role"] == "assistant"
    assert all(i["user_id"] == "alice" and i["metadata"] == {"source": "chat"} for i in items)
    # a plain string is one user message
    one = mem.add("I live in Berlin", user_id="alice", infer=False)["results"]
    assert one[0]["role"] == "user" and one[0]["memory"] == "I live in Berlin"


def test_item_fields_match_mem0(mem):
    item = mem.add("Likes tea", user_id="u", agent_id="a", run_id="r", infer=False)["results"][0]
    got = mem.get(item["id"])
    assert set(got) == {"id", "memory", "hash", "metadata", "created_at", "updated_at", "user_id", "agent_id",
                        "run_id", "role", "state", "categories"}
    import hashlib

    assert got["hash"] == hashlib.md5(b"Likes tea").hexdigest()
    assert got["created_at"] == got["updated_at"]


def test_get_all_scopes_limit_and_order(mem):
    for i in range(5):
        mem.add(f"fact {i}", user_id="alice", infer=False)
    mem.add("other", user_id="bob", infer=False)
    all_alice = mem.get_all(user_id="alice")["results"]
    assert [m["memory"] for m in all_alice] == [f"fact {i}" for i in range(5)]  # insertion order
    assert len(mem.get_all(user_id="alice", limit=2)["results"]) == 2
    # mem0 2.x style
    assert len(mem.get_all(filters={"user_id": "alice"}, top_k=3)["results"]) == 3
    with pytest.raises(ValidationError, match="all_scopes=True"):  # unscoped: mem0 2.x raises
        mem.get_all()
    assert len(mem.get_all(all_scopes=True)["results"]) == 6  # the whole store, asked for explicitly


def test_search_both_call_styles(mem):
    mem.add("I love sushi and ramen", user_id="alice", infer=False, metadata={"category": "food"})
    mem.add("My cat is called Miso", user_id="alice", infer=False, metadata={"category": "pets"})
    mem.add("I love sushi too", user_id="bob", infer=False)
    v1 = mem.search("sushi", user_id="alice", limit=5)["results"]
    v2 = mem.search("sushi", filters={"user_id": "alice"}, top_k=5)["results"]
    assert [r["id"] for r in v1] == [r["id"] for r in v2]
    assert v1[0]["memory"] == "I love sushi and ramen"
    assert all(r["user_id"] == "alice" for r in v1)
    assert v1 == sorted(v1, key=lambda r: -r["score"])
    # filters combine with top-level ids
    only_pets = mem.search("sushi", user_id="alice", filters={"category": "pets"})["results"]
    assert [r["memory"] for r in only_pets] == ["My cat is called Miso"]


def test_search_threshold_drops_low_scores(mem):
    mem.add("I love sushi", user_id="alice", infer=False)
    mem.add("The quarterly report is due on Friday", user_id="alice", infer=False)
    everything = mem.search("I love sushi", user_id="alice")["results"]
    assert [r["memory"] for r in everything] == ["I love sushi", "The quarterly report is due on Friday"]
    top, low = (r["score"] for r in everything)
    assert 0.0 <= low < top <= 1.0  # the calibrated relevance, not the cosine
    res = mem.search("I love sushi", user_id="alice", threshold=(top + low) / 2)["results"]
    assert [r["memory"] for r in res] == ["I love sushi"] and res[0]["score"] == top


def test_update_1x_and_2x_styles_and_history(mem):
    mid = mem.add("Lives in Paris", user_id="alice", infer=False, metadata={"a": 1})["results"][0]["id"]
    assert mem.update(mid, "Lives in Berlin") == {"message": "Memory updated successfully!"}
    assert mem.get(mid)["memory"] == "Lives in Berlin"
    mem.update(mid, text="Lives in Munich", metadata={"b": 2})
    got = mem.get(mid)
    assert got["memory"] == "Lives in Munich" and got["metadata"] == {"a": 1, "b": 2}
    mem.update(mid, metadata={"a": 3})
    assert mem.get(mid)["metadata"] == {"a": 3, "b": 2}
    hist = mem.history(mid)
    assert [h["event"] for h in hist] == ["ADD", "UPDATE", "UPDATE", "UPDATE"]
    assert hist[1]["old_memory"] == "Lives in Paris" and hist[1]["new_memory"] == "Lives in Berlin"
    # search sees the new text, not the old
    assert mem.search("Munich", user_id="alice")["results"][0]["id"] == mid


def test_delete_is_soft_and_in_history(mem):
    mid = mem.add("temporary", user_id="alice", infer=False)["results"][0]["id"]
    assert mem.delete(mid) == {"message": "Memory deleted successfully!"}
    assert mem.get(mid) is None
    assert mem.search("temporary", user_id="alice")["results"] == []
    hist = mem.history(mid)
    assert hist[-1]["event"] == "DELETE" and hist[-1]["is_deleted"] is True
    with pytest.raises(NotFoundError):
        mem.delete(mid)
    assert len(mem.to_pandas(include_deleted=True)) == 1 and len(mem.to_pandas()) == 0


def test_delete_all_and_reset(mem):
    for i in range(3):
        mem.add(f"a{i}", user_id="alice", infer=False)
    mem.add("b", user_id="bob", infer=False)
    assert mem.delete_all(user_id="alice") == {"message": "Memories deleted successfully!"}
    assert mem.get_all(user_id="alice")["results"] == []
    assert len(mem.get_all(user_id="bob")["results"]) == 1
    with pytest.raises(ValidationError, match="reset"):
        mem.delete_all()
    mem.reset()
    assert mem.get_all(all_scopes=True)["results"] == [] and len(mem.to_pandas(include_deleted=True)) == 0
    mem.add("after reset", user_id="bob", infer=False)
    assert len(mem.get_all(all_scopes=True)["results"]) == 1


def test_v10_format_returns_lists_with_deprecation_warning(hash_config):
    m = Memory(MemoryConfig(version="v1.0", **hash_config))
    with pytest.warns(DeprecationWarning, match="v1.1"):
        added = m.add("I love sushi", user_id="alice", infer=False)
    assert isinstance(added, list) and added[0]["event"] == "ADD"
    with pytest.warns(DeprecationWarning):
        assert isinstance(m.get_all(user_id="alice"), list)
    with pytest.warns(DeprecationWarning):
        found = m.search("sushi", user_id="alice")
    assert isinstance(found, list) and found[0]["memory"] == "I love sushi"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m.get(added[0]["id"])["memory"] == "I love sushi"  # get() is unchanged in v1.0


def test_v11_has_relations_key_only_with_graph_store(hash_config):
    m = Memory({**hash_config, "graph_store": {"provider": "kuzu", "config": {"db": ":memory:"}}})
    res = m.add("x", user_id="u", infer=False)
    assert res["relations"] == {"added_entities": [], "deleted_entities": []}  # mem0's add shape
    assert m.get_all(user_id="u")["relations"] == []
    plain = Memory(hash_config)
    res = plain.add("x", user_id="u", infer=False)
    assert set(res) == {"results"}  # no graph store: no "relations" key at all (mem0's v1.1 shape)
    assert set(plain.search("x", user_id="u")) == {"results"}
    assert set(plain.get_all(user_id="u")) == {"results"}
    plain.close()
    m.close()


def test_to_pandas_one_row_per_memory(mem):
    mem.add("a", user_id="alice", infer=False, metadata={"k": 1})
    mem.add("b", user_id="bob", infer=False, metadata={"k": 2, "z": "q"})
    df = mem.to_pandas(expand_metadata=True)
    assert isinstance(df, pd.DataFrame) and len(df) == 2
    assert list(df["memory"]) == ["a", "b"]
    assert list(df["metadata.k"]) == [1, 2]
    assert str(df["created_at"].dtype).startswith("datetime64")


def test_set_state_pause_archive_restore(mem):
    mid = mem.add("x", user_id="u", infer=False)["results"][0]["id"]
    mem.set_state(mid, "archived")
    assert mem.search("x", user_id="u")["results"] == []
    assert [r["id"] for r in mem.get_all(user_id="u", filters={"state": "archived"})["results"]] == [mid]
    mem.set_state(mid, "active")
    assert mem.search("x", user_id="u")["results"][0]["id"] == mid


def test_memory_type_values(mem):
    assert MemoryType.PROCEDURAL.value == "procedural_memory"
    with pytest.raises(ValidationError, match="Invalid 'memory_type'"):
        mem.add("x", user_id="u", memory_type="bogus", infer=False)
    item = mem.add("x", user_id="u", memory_type=MemoryType.EPISODIC.value, infer=False)["results"][0]
    assert item["metadata"]["memory_type"] == "episodic_memory"
    with pytest.raises(ValidationError, match="agent_id"):
        mem.add("x", user_id="u", memory_type=MemoryType.PROCEDURAL.value)


def test_from_config_and_path(tmp_path, hash_config):
    m = Memory.from_config({**hash_config, "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "s")}}})
    mid = m.add("durable", user_id="u", infer=False)["results"][0]["id"]
    m.close()
    assert (tmp_path / "s" / "memlab.db").exists()
    reopened = Memory(hash_config, path=str(tmp_path / "s"))  # the path= keyword reaches the same store
    assert reopened.get(mid)["memory"] == "durable"
    assert [r["id"] for r in reopened.search("durable", user_id="u")["results"]] == [mid]
    assert [h["event"] for h in reopened.history(mid)] == ["ADD"]
    reopened.close()


def test_new_ids_are_time_ordered_uuids(hash_config):
    """Memory and history ids are UUID version 7: valid UUIDs (as mem0's), and later writes sort after earlier
    ones (SQLite's id indexes grow at their end: single adds stay flat as a store grows)."""
    import time
    import uuid

    m = Memory(hash_config)
    ids = []
    for i in range(5):
        ids.append(m.add(f"note number {i}", user_id="u", infer=False)["results"][0]["id"])
        time.sleep(0.002)  # a new millisecond: within one, the order of the random bits is arbitrary
    assert all(uuid.UUID(i).version == 7 and str(uuid.UUID(i)) == i for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 5
    hist = m.history(ids[0])
    assert uuid.UUID(hist[0]["id"]).version == 7
    m.close()
