"""mem0 fidelity of the Memory facade (issue 13): one test per item, each written from mem0's own
documentation or tests (cited). mem0 references are to mem0ai/mem0 ``main`` (mem0 2.x):
``mem0/memory/main.py`` (Memory / AsyncMemory), ``mem0/vector_stores/qdrant.py`` and ``pgvector.py``
(filter semantics) and docs.mem0.ai (open-source/features/metadata-filtering).
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, datetime, timedelta, timezone

import pytest

from memlab import AsyncMemory, Memory
from memlab.errors import ValidationError
from memlab.migrate import export, import_export, read_export, verify_migration
from memlab.store.faiss import revisions as S

TODAY = datetime.now(timezone.utc).date()
PAST = (TODAY - timedelta(days=3)).isoformat()
FUTURE = (TODAY + timedelta(days=30)).isoformat()


def _ids(response) -> list[str]:
    return sorted(r["id"] for r in response["results"])


# --------------------------------------------------------------------------- item 1: logical filters
@pytest.fixture
def tagged(mem):
    rows = [("a1", {"category": "archived", "status": "ok"}), ("a2", {"category": "work", "status": "deleted"}),
            ("a3", {"category": "work", "status": "ok"}), ("a4", {"status": "ok"}), ("a5", {"category": "archived",
                                                                                            "status": "deleted"})]
    mem.add_records([{"id": i, "memory": f"memory {i}", "user_id": "a", "metadata": md} for i, md in rows])
    mem.add_records([{"id": "b1", "memory": "memory b1", "user_id": "b", "metadata": {"category": "work"}}])
    return mem


@pytest.mark.parametrize("filters,expected", [
    # mem0 docs (metadata-filtering): {"NOT": [filter1]} - logical NOT; mem0's Qdrant store puts every item of the
    # NOT list in must_not, pgvector writes NOT (a OR b): a memory matching ANY listed condition is excluded.
    ({"NOT": [{"category": "archived"}, {"status": "deleted"}]}, ["a3", "a4"]),
    ({"$not": [{"category": "archived"}, {"status": "deleted"}]}, ["a3", "a4"]),
    ({"NOT": [{"category": "archived"}]}, ["a2", "a3", "a4"]),  # a missing field is not "archived" (Qdrant must_not)
    # one dict under NOT is one filter (its keys ANDed) - memlab's extension; mem0 requires a list
    ({"NOT": {"category": "archived", "status": "deleted"}}, ["a1", "a2", "a3", "a4"]),
    # each list item of NOT is a conjunction: NOT ((archived AND deleted) OR work)
    ({"NOT": [{"category": "archived", "status": "deleted"}, {"category": "work"}]}, ["a1", "a4"]),
    # AND / OR lists (mem0: AND merges conditions, OR -> $or / Qdrant should)
    ({"AND": [{"category": "work"}, {"status": "ok"}]}, ["a3"]),
    ({"OR": [{"category": "archived"}, {"status": "deleted"}]}, ["a1", "a2", "a5"]),
    ({"$or": [{"category": "archived"}, {"status": "deleted"}]}, ["a1", "a2", "a5"]),
    ({"$and": [{"category": "work"}, {"$not": [{"status": "deleted"}]}]}, ["a3"]),
    # nesting
    ({"OR": [{"NOT": [{"status": "ok"}]}, {"AND": [{"category": "work"}, {"status": "ok"}]}]}, ["a2", "a3", "a5"]),
    ({"NOT": [{"OR": [{"category": "work"}, {"category": "archived"}]}]}, ["a4"]),
    # mem0's AND merges same-key conditions (last wins); memlab keeps both: nothing is both
    ({"AND": [{"category": "work"}, {"category": "archived"}]}, []),
])
def test_logical_forms_follow_mem0(tagged, filters, expected):
    assert _ids(tagged.get_all(user_id="a", filters=filters)) == expected
    assert _ids(tagged.search("memory", user_id="a", filters=filters)) == expected


# --------------------------------------------------------------------------- item 3: state on items
def test_items_carry_state_and_state_filters_read_non_active(mem):
    """OpenMemory's API returns ``state`` on memories and lists paused/archived ones on request
    (openmemory/api/app/routers/memories.py); default reads stay active-only."""
    ids = [mem.add(t, user_id="u", infer=False)["results"][0]["id"] for t in ("one", "two", "three")]
    mem.set_state(ids[1], "archived")
    mem.set_state(ids[2], "paused")
    assert [r["state"] for r in mem.get_all(user_id="u")["results"]] == ["active"]
    assert _ids(mem.get_all(user_id="u", filters={"state": "archived"})) == [ids[1]]
    assert mem.get_all(user_id="u", filters={"state": "archived"})["results"][0]["state"] == "archived"
    assert _ids(mem.get_all(user_id="u", filters={"state": {"in": ["paused", "archived"]}})) == sorted(ids[1:])
    assert [r["state"] for r in mem.search("two", user_id="u", filters={"state": "archived"})["results"]] == ["archived"]
    assert mem.get(ids[2])["state"] == "paused"


# --------------------------------------------------------------------------- item 4: unscoped reads
def test_unscoped_reads_raise_mem0s_error_and_all_scopes_is_explicit(mem):
    """mem0 2.x Memory.search / get_all: "filters must contain at least one of: user_id, agent_id, run_id"
    (ValueError). memlab raises its ValidationError (a ValueError) with mem0's 1.x wording."""
    mem.add("alice fact", user_id="alice", infer=False)
    mem.add("bot fact", agent_id="bot", infer=False)
    for call in (lambda: mem.search("fact"), lambda: mem.get_all(),
                 lambda: mem.get_all(filters={"topic": "x"}), lambda: mem.search("fact", filters={"NOT": [
                     {"user_id": "alice"}]}), lambda: mem.get_all(filters={"OR": [{"user_id": "alice"},
                                                                               {"topic": "x"}]})):
        with pytest.raises(ValueError, match="At least one of 'user_id', 'agent_id', or 'run_id' must be provided"):
            call()
    # A deliberate difference (docs/engine.md): mem0 2.x looks only at top-level keys; memlab also takes
    # a scope inside an AND, or in every branch of an OR (mem0's platform filters), since either one
    # restricts every result to a named scope.
    both = mem.search("fact", filters={"OR": [{"user_id": "alice"}, {"agent_id": "bot"}]})["results"]
    assert {r["memory"] for r in both} == {"alice fact", "bot fact"}
    assert len(mem.get_all(filters={"AND": [{"user_id": "alice"}, {"state": "active"}]})["results"]) == 1
    assert len(mem.get_all(all_scopes=True)["results"]) == 2
    assert len(mem.search("fact", all_scopes=True)["results"]) == 2
    assert len(mem.get_all(filters={"user_id": "*"})["results"]) == 1  # mem0's wildcard: any user_id
    assert len(mem.search("fact", filters={"agent_id": "bot"})["results"]) == 1  # 2.x style scope in filters
    with pytest.raises(ValidationError, match="True or False"):
        mem.get_all(all_scopes="yes")


def test_workbench_tools_read_the_whole_store_explicitly(mem):
    """compare's record_run asks a memlab store with all_scopes=True when a query has no scope."""
    from memlab.compare import record_run

    mem.add("alice likes tea", user_id="alice", infer=False)
    mem.add("the bot likes tea", agent_id="bot", infer=False)
    run = record_run(mem, [{"query_id": "q", "query": "who likes tea"}], k=5)
    assert len(run.results["q"]) == 2
    scoped = record_run(mem, [{"query_id": "q", "query": "who likes tea", "user_id": "alice"}], k=5)
    assert len(scoped.results["q"]) == 1


# --------------------------------------------------------------------------- item 5: AsyncMemory.from_config
def test_async_from_config_returns_an_instance(hash_config):
    """mem0's AsyncMemory.from_config is a plain classmethod returning the instance (main.py)."""
    am = AsyncMemory.from_config(hash_config)
    assert isinstance(am, AsyncMemory)

    async def run():
        await am.add("I like tea", user_id="u", infer=False)
        return await am.get_all(user_id="u")

    assert [r["memory"] for r in asyncio.run(run())["results"]] == ["I like tea"]
    am.close()


# --------------------------------------------------------------------------- item 7: expiration_date
def test_expiration_date_hides_from_reads_not_from_history_or_exports(mem, tmp_path):
    """mem0 >= 2.0.10: add(expiration_date=...) "Expired memories are hidden from search and get_all unless
    show_expired is True"; update(expiration_date=None) clears it (main.py add / update / _payload_is_expired)."""
    old = mem.add("expired fact", user_id="u", infer=False, expiration_date=PAST)["results"][0]
    live = mem.add("live fact", user_id="u", infer=False, expiration_date=date.fromisoformat(FUTURE))["results"][0]
    plain = mem.add("plain fact", user_id="u", infer=False)["results"][0]
    assert old["expiration_date"] == PAST and live["expiration_date"] == FUTURE and "expiration_date" not in plain
    assert _ids(mem.get_all(user_id="u")) == sorted([live["id"], plain["id"]])
    assert old["id"] not in _ids(mem.search("expired fact", user_id="u"))
    assert old["id"] in _ids(mem.get_all(user_id="u", show_expired=True))
    assert old["id"] in _ids(mem.search("expired fact", user_id="u", show_expired=True))
    assert mem.get(old["id"])["expiration_date"] == PAST  # get() still returns it, as mem0's get
    assert [h["event"] for h in mem.history(old["id"])] == ["ADD"]
    export(mem, tmp_path / "e.jsonl")
    records = {r["id"]: r for r in read_export(tmp_path / "e.jsonl")[1]}
    assert records[old["id"]]["expiration_date"] == PAST
    copy = Memory(mem.config)
    import_export(tmp_path / "e.jsonl", into=copy)
    assert verify_migration(mem, copy).data_ok and copy.get(old["id"])["expiration_date"] == PAST
    # update: clear (None), set, keep when not named
    mem.update(old["id"], expiration_date=None)
    assert old["id"] in _ids(mem.get_all(user_id="u")) and "expiration_date" not in mem.get(old["id"])
    mem.update(live["id"], expiration_date=datetime(2001, 1, 1, tzinfo=timezone.utc))
    assert live["id"] not in _ids(mem.get_all(user_id="u"))
    mem.update(live["id"], text="live fact, edited")
    assert mem.get(live["id"])["expiration_date"] == "2001-01-01"
    assert [h["event"] for h in mem.history(live["id"])] == ["ADD", "UPDATE", "UPDATE"]
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        mem.update(plain["id"], expiration_date="31/12/2030")
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        mem.add("x", user_id="u", infer=False, expiration_date=20301231)


def test_expiration_date_with_inference_and_the_schema_revision(tmp_path, hash_config):
    store = tmp_path / "store"
    m = Memory(hash_config, path=str(store))
    added = m.add("I live in Oslo.", user_id="u", expiration_date=PAST)["results"]
    assert [r["expiration_date"] for r in added] == [PAST]
    assert m.get_all(user_id="u")["results"] == []
    m.close()
    # schema 0004 downgrade parks the dates, upgrade brings them back
    S.downgrade(store, "0003_configs")
    cols = [r[1] for r in sqlite3.connect(str(store / "memlab.db")).execute("PRAGMA table_info(memories)")]
    assert "expiration_date" not in cols
    S.upgrade(store)
    with Memory(hash_config, path=str(store)) as again:
        assert again.get(added[0]["id"])["expiration_date"] == PAST


# --------------------------------------------------------------------------- item 9: integer ids
def test_integer_entity_ids_become_strings(mem):
    """mem0 >= 2.0.14 _validate_and_trim_entity_id: "Coerces non-string values (e.g. integer ids) to str"."""
    item = mem.add("likes tea", user_id=42, agent_id=7, infer=False)["results"][0]
    assert item["user_id"] == "42" and item["agent_id"] == "7"
    assert _ids(mem.get_all(user_id=42)) == _ids(mem.get_all(user_id="42")) == [item["id"]]
    assert mem.search("tea", filters={"user_id": "42"})["results"][0]["id"] == item["id"]
    assert mem.search("tea", filters={"user_id": 42})["results"][0]["id"] == item["id"]  # 2.x style, coerced too
    assert mem.search("tea", user_id=42)["results"][0]["id"] == item["id"]
    mem.delete_all(user_id=42)
    assert mem.get_all(user_id="42")["results"] == []
    with pytest.raises(ValidationError, match="must be a string"):
        mem.add("x", user_id=True, infer=False)


# --------------------------------------------------------------------------- item 10: history of unknown ids
def test_history_of_an_unknown_id_is_empty(mem):
    """mem0's history() returns the SQLite rows of the id: [] when there are none (main.py history)."""
    assert mem.history("00000000-0000-0000-0000-000000000000") == []
    mid = mem.add("fact", user_id="u", infer=False)["results"][0]["id"]
    assert len(mem.history(mid)) == 1
    mem.reset()
    assert mem.history(mid) == []


# --------------------------------------------------------------------------- item 11: metadata keys
def test_only_scope_ids_are_reserved_in_metadata(mem):
    """mem0 strips only identity keys (_IDENTITY_KEYS = user_id/agent_id/run_id (+actor_id)) from metadata;
    its filter docs filter on a metadata ``score``. memlab keeps such keys as metadata: they never shadow the
    item's own fields, and ``metadata.<key>`` filters them. (created_at is mem0's creation time: see below.)"""
    meta = {"score": 5, "state": "draft", "event": "launch", "id": "ext-1",
            "memory": "m", "hash": "h", "updated_at": "x", "memory_type": "note", "role": "boss"}
    item = mem.add("meta keys", user_id="u", infer=False, metadata=meta)["results"][0]
    got = mem.get(item["id"])
    assert got["metadata"] == meta
    assert got["id"] == item["id"] and got["memory"] == "meta keys" and got["state"] == "active"
    assert got["created_at"] != "1999-01-01" and got["role"] == "user" and "event" not in got
    hit = mem.search("meta keys", user_id="u")["results"][0]
    assert isinstance(hit["score"], float) and hit["metadata"]["score"] == 5
    assert _ids(mem.get_all(user_id="u", filters={"score": {"gte": 3}})) == [item["id"]]  # metadata score
    assert _ids(mem.get_all(user_id="u", filters={"metadata.state": "draft"})) == [item["id"]]
    assert mem.get_all(user_id="u", filters={"state": "draft"})["results"] == []  # the field, not metadata
    assert _ids(mem.get_all(user_id="u", filters={"metadata.updated_at": "x"})) == [item["id"]]
    for key in ("user_id", "agent_id", "run_id"):
        with pytest.raises(ValidationError, match="reserved"):
            mem.add("x", user_id="u", infer=False, metadata={key: "other"})


@pytest.mark.parametrize("infer", [False, True])
def test_create_memory_preserves_existing_created_at(mem, infer):
    """mem0's test of the same name: ``_create_memory(..., metadata={"created_at": ts})`` stores created_at
    and updated_at = ts (its payload is flat, and get() promotes created_at out of the metadata)."""
    ts = "2023-05-06T09:19:20+00:00"
    text = "I live in Lisbon." if infer else "fact from 2023"
    item = mem.add(text, user_id="u", infer=infer, metadata={"created_at": ts, "topic": "t"})["results"][0]
    got = mem.get(item["id"])
    assert got["created_at"] == ts and got["updated_at"] == ts and item["created_at"] == ts
    assert got["metadata"] == {"topic": "t"}  # promoted out of metadata, as mem0 returns it
    assert mem.history(item["id"])[0]["created_at"] == ts
    # an explicit timestamp= says when the conversation happened: it wins
    later = mem.add("another fact", user_id="u", infer=False, metadata={"created_at": ts},
                    timestamp="2024-02-03T04:05:06+00:00")["results"][0]
    assert mem.get(later["id"])["created_at"] == "2024-02-03T04:05:06+00:00"
    with pytest.raises(ValidationError, match="created_at"):
        mem.add("bad", user_id="u", infer=False, metadata={"created_at": "yesterday-ish"})
    assert [m["memory"] for m in mem.get_all(user_id="u")["results"]].count("bad") == 0


def test_expiration_date_travels_from_a_mem0_like_source(mem, hash_config):
    """mem0 2.x get_all items carry ``expiration_date`` at the top level (promoted payload key);
    DataMigrator and verify read it from such items."""
    from memlab.compare.payloads import adapt_memory
    from memlab.migrate import DataMigrator

    mid = mem.add("expires later", user_id="u", infer=False, expiration_date=FUTURE)["results"][0]["id"]
    foreign = adapt_memory(mem, "v1.1")  # not a memlab Memory to the migration tools: read by its verbs
    target = Memory(hash_config)
    DataMigrator(foreign, target, progress=False).migrate(user_id="u")
    assert target.get(mid)["expiration_date"] == FUTURE
    assert verify_migration(foreign, target, scopes=[{"user_id": "u"}]).data_ok
