"""memlab's ``openai`` EMBEDDER over real HTTP against the 127.0.0.1 test server."""

from __future__ import annotations

import numpy as np
import pytest

from memlab import Memory
from memlab.embedders.hashing import HashEmbedder
from memlab.errors import ProviderError


def embedder_config(srv, **extra) -> dict:
    return {"embedder": {"provider": "openai", "config": {"base_url": srv.base_url, "model": "test-embed",
                                                          "max_retries": 0, "timeout": 5.0, **extra}},
            "llm": {"provider": "rules"}}


def test_add_and_search_through_the_openai_embedder(openai_server):
    with Memory(embedder_config(openai_server)) as m:
        assert m.embedder.dims == openai_server.embedding_dims  # unknown model: probed once from the server
        m.add([{"role": "user", "content": "I love hiking in the Alps"},
               {"role": "user", "content": "My cat is called Miso"}], user_id="u", infer=False)
        hits = m.search("hiking in the Alps", user_id="u")["results"]
        assert hits[0]["memory"] == "I love hiking in the Alps"
        # vectors are the server's (deterministic hashing vectors, normalised)
        expected = HashEmbedder(embedding_dims=openai_server.embedding_dims).embed(["I love hiking in the Alps"])[0]
        stored = m.store.vector(hits[0]["id"])
        assert np.allclose(stored, expected / np.linalg.norm(expected), atol=1e-5)
        embed_calls = [r for r in openai_server.requests if r["path"].endswith("/embeddings")]
        assert all(r["json"]["model"] == "test-embed" for r in embed_calls)
        assert m.store.embedder_name == "openai:test-embed"


def test_infer_pipeline_runs_on_openai_vectors(openai_server):
    with Memory(embedder_config(openai_server, embedding_dims=64)) as m:
        m.add("I live in Paris.", user_id="u")
        r = m.add("I moved to Lyon.", user_id="u")
        assert [(i["event"], i["memory"]) for i in r["results"]] == [("UPDATE", "Moved to Lyon")]


def test_http_500_is_a_provider_error_and_writes_nothing(openai_server):
    with Memory(embedder_config(openai_server, embedding_dims=64)) as m:
        m.add("I like tea", user_id="u", infer=False)
        openai_server.embedding_failures = 1
        with pytest.raises(ProviderError, match="Embedding request .* failed"):
            m.add("I like coffee", user_id="u", infer=False)
        openai_server.embedding_failures = 1
        with pytest.raises(ProviderError):
            m.add("I like coffee", user_id="u")  # infer=True fails before anything is written too
        openai_server.embedding_failures = 1
        with pytest.raises(ProviderError):
            m.search("tea", user_id="u")
        assert [i["memory"] for i in m.get_all(user_id="u")["results"]] == ["I like tea"]
        assert m.store.count() == 1
