import numpy as np
import pytest

from memlab import Memory
from memlab.embedders import check_vectors, create_embedder
from memlab.errors import ConfigError, EmbeddingError


def test_hash_embedder_is_deterministic_and_normalised():
    a = create_embedder("hash", {"embedding_dims": 64})
    b = create_embedder("hash", {"embedding_dims": 64})
    va, vb = a.embed(["I love sushi", "tax forms"]), b.embed(["I love sushi", "tax forms"])
    assert np.array_equal(va, vb) and va.shape == (2, 64)
    assert np.allclose(np.linalg.norm(va, axis=1), 1.0, atol=1e-6)
    sim = a.embed(["I love sushi", "I really love sushi", "quarterly tax forms"])
    assert sim[0] @ sim[1] > sim[0] @ sim[2]


def test_minilm_is_offline_384d_and_semantic(minilm):
    assert minilm.dims == 384 and minilm.name == "minilm:all-MiniLM-L6-v2"
    v = minilm.embed(["I adore sushi", "Raw fish on rice is my favourite food", "The invoice is overdue"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1


def test_minilm_rejects_wrong_dims():
    with pytest.raises(ConfigError, match="384"):
        create_embedder("minilm", {"embedding_dims": 1536})


def test_check_vectors_rejects_bad_output():
    with pytest.raises(EmbeddingError, match="shape"):
        check_vectors(np.ones((2, 3)), 3, 3, "x")
    with pytest.raises(EmbeddingError, match="store holds 4-d"):
        check_vectors(np.ones((1, 3)), 1, 4, "x")
    with pytest.raises(EmbeddingError, match="NaN or infinite"):
        check_vectors(np.array([[np.inf, 1.0]]), 1, 2, "x")
    with pytest.raises(EmbeddingError, match="all-zero"):
        check_vectors(np.zeros((1, 2)), 1, 2, "x")
    with pytest.raises(EmbeddingError, match="not a numeric array"):
        check_vectors([["a", "b"]], 1, 2, "x")


def test_check_vectors_normalises_with_float64_norms_whatever_the_input_type():
    """float32 arrays are read as they are, lists and float64 arrays are converted
    first; every output is ``x / ||x||`` with the norm taken in float64, to the bit."""
    rng = np.random.default_rng(0)
    for scale in (1e-30, 1e-3, 1.0, 1e30):
        x = (rng.standard_normal((3, 16)) * scale).astype(np.float32)
        want = (x / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)).astype(np.float32)
        for given in (x, x.astype(np.float64), x.tolist()):
            assert np.array_equal(check_vectors(given, 3, 16, "e"), want)
    bad = np.ones((2, 4), dtype=np.float32)
    bad[1, 2] = np.inf
    with pytest.raises(EmbeddingError, match="NaN or infinite"):
        check_vectors(bad, 2, 4, "e")
    bad[1, 2] = np.nan
    with pytest.raises(EmbeddingError, match="NaN or infinite"):
        check_vectors(bad, 2, 4, "e")


def test_embedding_cache_round_trip(tmp_path):
    emb = create_embedder("hash", {"embedding_dims": 32, "cache_path": str(tmp_path / "cache.db")})
    first = emb.embed(["alpha", "beta"])
    assert (emb.hits, emb.misses) == (0, 2)
    again = create_embedder("hash", {"embedding_dims": 32, "cache_path": str(tmp_path / "cache.db")})
    second = again.embed(["beta", "alpha", "gamma"])
    assert (again.hits, again.misses) == (2, 1)
    assert np.array_equal(second[0], first[1]) and np.array_equal(second[1], first[0])
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 32,
                                                             "cache_path": str(tmp_path / "cache.db")}}})
    m.add("alpha", user_id="u", infer=False)
    top = m.search("alpha", user_id="u", explain=True)["results"][0]
    assert top["score_details"]["semantic_score"] == pytest.approx(1.0, abs=1e-5)
