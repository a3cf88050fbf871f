"""Every validation error is typed, says what to do, and writes nothing."""

from __future__ import annotations

import math

import pytest

from memlab import Memory
from memlab.errors import ConfigError, NotFoundError, ValidationError


def snapshot(m: Memory):
    """Everything observable: SQLite rows + in-memory table size + FAISS size."""
    conn = m.store.conn
    tables = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
        tables[name] = conn.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()
    return tables, m.store.table.n, m.store.index.ntotal


@pytest.fixture
def seeded(mem):
    mem.add("I love sushi", user_id="alice", infer=False, metadata={"category": "food"})
    mem.add("Bob likes tea", user_id="bob", infer=False)
    return mem


BAD_CALLS = [
    ("add no scope", lambda m: m.add("x", infer=False), "At least one of 'user_id', 'agent_id', or 'run_id' must be provided."),
    ("add empty string", lambda m: m.add("   ", user_id="u", infer=False), "must not be empty"),
    ("add empty list", lambda m: m.add([], user_id="u", infer=False), "must not be empty"),
    ("add wrong type", lambda m: m.add(42, user_id="u", infer=False), "messages must be"),
    ("add msg not dict", lambda m: m.add(["hi"], user_id="u", infer=False), "must be a dict"),
    ("add msg missing content", lambda m: m.add([{"role": "user"}], user_id="u", infer=False), "'role' and 'content'"),
    ("add bad role", lambda m: m.add([{"role": "wizard", "content": "x"}], user_id="u", infer=False), "role"),
    ("add content list", lambda m: m.add([{"role": "user", "content": ["x"]}], user_id="u", infer=False), "multimodal"),
    ("add whitespace id", lambda m: m.add("x", user_id="al ice", infer=False), "whitespace"),
    ("add empty id", lambda m: m.add("x", user_id="", infer=False), "must not be empty"),
    ("add bool id", lambda m: m.add("x", user_id=True, infer=False), "must be a string"),  # ints become strings
    ("add float id", lambda m: m.add("x", user_id=5.0, infer=False), "must be a string"),
    ("add bad memory_type", lambda m: m.add("x", user_id="u", memory_type="foo", infer=False), "Invalid 'memory_type'"),
    ("add metadata not dict", lambda m: m.add("x", user_id="u", metadata=[1], infer=False), "metadata must be a dict"),
    ("add metadata overrides scope", lambda m: m.add("x", user_id="u", metadata={"user_id": "evil"}, infer=False), "reserved"),
    ("add metadata run_id", lambda m: m.add("x", user_id="u", metadata={"run_id": "r"}, infer=False), "reserved"),
    ("add expiration not a date", lambda m: m.add("x", user_id="u", expiration_date="tomorrow", infer=False),
     "YYYY-MM-DD"),
    ("search no scope", lambda m: m.search("x"), "At least one of 'user_id', 'agent_id', or 'run_id'"),
    ("get_all no scope", lambda m: m.get_all(filters={"category": "food"}), "all_scopes=True"),
    ("add metadata nan", lambda m: m.add("x", user_id="u", metadata={"v": math.nan}, infer=False), "non-finite"),
    ("add metadata object", lambda m: m.add("x", user_id="u", metadata={"v": object()}, infer=False), "JSON"),
    ("add infer not bool", lambda m: m.add("x", user_id="u", infer="yes"), "infer"),
    ("search empty query", lambda m: m.search("", user_id="alice"), "query must not be empty"),
    ("search query not str", lambda m: m.search(None, user_id="alice"), "query must be a string"),
    ("search threshold >1", lambda m: m.search("x", user_id="alice", threshold=1.5), "threshold"),
    ("search threshold nan", lambda m: m.search("x", user_id="alice", threshold=math.nan), "threshold"),
    ("search threshold str", lambda m: m.search("x", user_id="alice", threshold="0.5"), "threshold"),
    ("search limit 0", lambda m: m.search("x", user_id="alice", limit=0), "limit"),
    ("search limit huge", lambda m: m.search("x", user_id="alice", limit=10**12), "limit"),
    ("search limit float", lambda m: m.search("x", user_id="alice", limit=2.5), "limit"),
    ("search limit/top_k disagree", lambda m: m.search("x", user_id="alice", limit=3, top_k=4), "disagree"),
    ("search conflicting scope", lambda m: m.search("x", user_id="alice", filters={"user_id": "bob"}), "twice"),
    ("search unknown op", lambda m: m.search("x", user_id="alice", filters={"category": {"regex": "f.*"}}), "Unknown filter operator"),
    ("search bad logical", lambda m: m.search("x", user_id="alice", filters={"$xor": []}), "Unknown logical operator"),
    ("search empty AND", lambda m: m.search("x", user_id="alice", filters={"AND": []}), "non-empty list"),
    ("search in not list", lambda m: m.search("x", user_id="alice", filters={"category": {"in": "food"}}), "needs a list"),
    ("search gt bool", lambda m: m.search("x", user_id="alice", filters={"n": {"gt": True}}), "number or a string"),
    ("search filter None", lambda m: m.search("x", user_id="alice", filters={"category": None}), "None"),
    ("search filters not dict", lambda m: m.search("x", filters=[("a", 1)]), "filters must be a dict"),
    ("get_all whitespace", lambda m: m.get_all(user_id="a b"), "whitespace"),
    ("update unknown", lambda m: m.update("00000000-0000-0000-0000-000000000000", "x"), "not found"),
    ("update nothing", lambda m: m.update("00000000-0000-0000-0000-000000000000"), "needs new text"),
    ("update both texts", lambda m: m.update("id1", "a", text="b"), "either data"),
    ("update empty text", lambda m: m.update("id1", "  "), "must not be empty"),
    ("delete unknown", lambda m: m.delete("00000000-0000-0000-0000-000000000000"), "not found"),
    ("delete bad id", lambda m: m.delete(""), "memory_id"),
    ("delete_all no scope", lambda m: m.delete_all(), "At least one filter"),
    ("set_state deleted", lambda m: m.set_state("id1", "deleted"), "state must be"),
    ("add_records no scope", lambda m: m.add_records([{"memory": "a"}, {"memory": "b"}]), "At least one"),
]


@pytest.mark.parametrize("name,call,message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_typed_error_and_writes_nothing(seeded, name, call, message):
    before = snapshot(seeded)
    with pytest.raises(ValidationError) as exc:
        call(seeded)
    assert message in str(exc.value)
    assert isinstance(exc.value, ValueError)  # mem0 code catching ValueError keeps working
    assert snapshot(seeded) == before


def test_not_found_is_a_validation_error(seeded):
    with pytest.raises(NotFoundError):
        seeded.update("missing-id", "x")
    assert seeded.get("missing-id") is None


def test_add_records_batch_is_atomic(seeded):
    before = snapshot(seeded)
    existing = seeded.get_all(user_id="alice")["results"][0]["id"]
    with pytest.raises(ValidationError, match="already exists"):
        seeded.add_records([{"memory": "new one", "user_id": "u"}, {"memory": "dup", "user_id": "u", "id": existing}])
    assert snapshot(seeded) == before


def test_bad_embedder_output_writes_nothing(hash_config):
    from memlab.errors import EmbeddingError

    class NaNEmbedder:
        name, dims = "nan-embedder", 4

        def __init__(self):
            self.poison = False

        def embed(self, texts, purpose="add"):
            import numpy as np

            out = np.ones((len(texts), 4), dtype=np.float32)
            if self.poison:
                out[0, 0] = np.nan
            return out

    emb = NaNEmbedder()
    m = Memory(hash_config, embedder=emb)
    m.add("ok", user_id="u", infer=False)
    before = snapshot(m)
    emb.poison = True
    with pytest.raises(EmbeddingError, match="NaN"):
        m.add("bad", user_id="u", infer=False)
    assert snapshot(m) == before


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="embedder.provider 'nope' is not supported; allowed: hash, minilm, openai"):
        Memory({"embedder": {"provider": "nope"}})
    with pytest.raises(ConfigError, match="embedding_model_dims is 1536"):
        Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 64}},
                "vector_store": {"provider": "faiss", "config": {"embedding_model_dims": 1536}}})


def test_reopen_with_other_embedder_is_a_clear_error(tmp_path):
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}, path=tmp_path)
    m.add("x", user_id="u", infer=False)
    m.close()
    with pytest.raises(ConfigError, match="built with embedder"):
        Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 32}}}, path=tmp_path)
