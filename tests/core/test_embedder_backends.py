"""The minilm embedder's runtimes (ONNX Runtime fp32 / int8, PyTorch), its threads and its query cache.

Real model throughout: ONNX vectors are checked against sentence-transformers on PyTorch.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from memlab import Memory
from memlab.embedders import create_embedder
from memlab.embedders.minilm import bundled_model_path
from memlab.errors import ConfigError

EDGE_TEXTS = [
    "hi",
    "What did Caroline say about the adoption agency she researched?",
    "Café naïve résumé — 東京で寿司を食べた 🍣",
    "I like hiking. " * 120,  # longer than the model's 256 tokens: truncated the same way
    "   spaces   and\ttabs\nnewlines   ",
    "1234567890 !!! ??? ...",
]


@pytest.fixture(scope="module")
def sample() -> list[str]:
    from memlab.evaluate import load_bundled

    ds = load_bundled("assistant")
    texts = list(dict.fromkeys(ds.memories["text"].astype(str)))[:40]
    return texts + list(dict.fromkeys(ds.queries["text"].astype(str)))[:20] + EDGE_TEXTS


@pytest.fixture(scope="module")
def torch_vectors(sample):
    return create_embedder("minilm", {"backend": "torch"}).embed(sample)


def test_onnx_fp32_matches_pytorch(minilm, sample, torch_vectors):
    assert minilm.backend == "onnx" and minilm.runtime == "onnx"
    vec = minilm.embed(sample)
    cos = (vec * torch_vectors).sum(axis=1)
    assert vec.shape == (len(sample), 384) and vec.dtype == np.float32
    assert cos.min() >= 0.9999, f"lowest cosine {cos.min():.6f} at {sample[int(cos.argmin())]!r}"
    # one text at a time (the query path) gives the same vectors as a batch
    single = np.vstack([minilm.embed([t], purpose="search") for t in sample[-len(EDGE_TEXTS):]])
    assert np.allclose(single, vec[-len(EDGE_TEXTS):], atol=1e-5)


def test_onnx_int8_agrees_with_fp32(sample, torch_vectors):
    emb = create_embedder("minilm", {"backend": "onnx-int8"})
    assert emb.runtime == "onnx-int8"
    cos = (emb.embed(sample) * torch_vectors).sum(axis=1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.95, (cos.mean(), cos.min())


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_batches_run_on_worker_threads_and_keep_order(sample, threads):
    """A session of min(threads, 2) sleeping intra-op threads; a batch's length-sorted chunks run on
    threads // that many workers (4 cores: two workers of two threads), in input order either way."""
    emb = create_embedder("minilm", {"threads": threads, "query_cache_size": 0})
    encoder = emb._onnx()
    assert (encoder.intra, encoder.workers) == {1: (1, 1), 2: (2, 1), 4: (2, 2)}[threads]
    batch = emb.embed(sample[:40])  # > SMALL_INPUT: length-sorted chunks
    inline = np.vstack([emb.embed([t]) for t in sample[:40]])
    assert np.allclose(batch, inline, atol=1e-5)
    if threads == 4:
        assert encoder._pool is not None and encoder._pool._max_workers == 2


def test_torch_backend_uses_one_thread_for_small_inputs_and_restores(sample):
    import torch

    emb = create_embedder("minilm", {"backend": "torch"})
    from memlab.embedders.minilm import _load

    model = _load(emb.model_path)
    seen = []
    real = model.encode

    def spy(*args, **kwargs):  # records the thread count the real encode runs with
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    before = torch.get_num_threads()
    model.encode = spy
    try:
        emb.embed(["one query"], purpose="search")
        emb.embed(sample[:20])
    finally:
        del model.encode
    assert seen == [1, before] and torch.get_num_threads() == before


def test_store_built_with_pytorch_opens_and_searches_the_same_with_onnx(tmp_path):
    texts = ["I adore sushi", "My sister lives in Lisbon", "The invoice is overdue", "We adopted a cat named Miso"]
    cfg = lambda backend: {"embedder": {"provider": "minilm", "config": {"backend": backend}},  # noqa: E731
                           "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "s")}}}
    with Memory(cfg("torch")) as m:
        for t in texts:
            m.add(t, user_id="u", infer=False)
        before = [(r["memory"], r["score"]) for r in m.search("what pet do we have?", user_id="u")["results"]]
    with Memory(cfg("onnx")) as m:  # same embedder name: the store opens
        assert m.embedder.name == "minilm:all-MiniLM-L6-v2"
        after = [(r["memory"], r["score"]) for r in m.search("what pet do we have?", user_id="u")["results"]]
    assert [t for t, _ in after] == [t for t, _ in before]
    assert np.allclose([s for _, s in after], [s for _, s in before], atol=1e-4)


def test_query_cache_answers_repeated_searches_with_independent_copies(minilm):
    emb = create_embedder("minilm", {"query_cache_size": 2})
    first = emb.embed(["where does my sister live?"], purpose="search")
    first[0, :] = 0.0  # a caller scribbling on its result does not reach the cache
    again = emb.embed(["where does my sister live?"], purpose="search")
    assert (emb.query_cache.hits, emb.query_cache.misses) == (1, 1)
    assert np.allclose(again, minilm.embed(["where does my sister live?"]), atol=1e-5)
    emb.embed(["a", "b"], purpose="search")  # LRU of 2: the first query is evicted
    emb.embed(["where does my sister live?"], purpose="search")
    assert emb.query_cache.misses == 4 and len(emb.query_cache) == 2
    emb.embed(["where does my sister live?"])  # stored texts never go through the query cache
    assert emb.query_cache.hits == 1


def test_query_cache_off_and_bad_settings():
    emb = create_embedder("minilm", {"query_cache_size": 0})
    emb.embed(["q"], purpose="search")
    emb.embed(["q"], purpose="search")
    assert len(emb.query_cache) == 0 and emb.query_cache.hits == 0
    with pytest.raises(ConfigError, match="backend"):
        Memory({"embedder": {"provider": "minilm", "config": {"backend": "tensorrt"}}})
    with pytest.raises(ConfigError, match="threads"):
        Memory({"embedder": {"provider": "minilm", "config": {"threads": 0}}})


def test_disk_cache_keeps_int8_vectors_apart_from_exact_ones(tmp_path):
    path = str(tmp_path / "cache.db")
    exact = create_embedder("minilm", {"cache_path": path})
    exact.embed(["hello there"])
    int8 = create_embedder("minilm", {"cache_path": path, "backend": "onnx-int8"})
    int8.embed(["hello there"])
    assert (int8.hits, int8.misses) == (0, 1) and int8.name == exact.name
    torch_emb = create_embedder("minilm", {"cache_path": path, "backend": "torch"})
    torch_emb.embed(["hello there"])  # same vectors as onnx fp32: shared
    assert (torch_emb.hits, torch_emb.misses) == (1, 0)


def test_model_folder_without_mean_pooling_falls_back_to_pytorch_with_a_warning(tmp_path):
    src = bundled_model_path()
    folder = tmp_path / "cls-model"
    shutil.copytree(src, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    (folder / "model.safetensors").symlink_to(src / "model.safetensors")
    (folder / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}')
    emb = create_embedder("minilm", {"model_path": str(folder), "onnx_cache_dir": str(tmp_path / "onnx")})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert emb.runtime == "torch"
    assert any("ONNX Runtime backend is unavailable" in str(w.message) and "pooling" in str(w.message)
               for w in caught)
    assert emb.embed(["hello"]).shape == (1, 384)
    assert not (tmp_path / "onnx").exists() or not any((tmp_path / "onnx").glob("*/model.onnx"))


def test_fp32_runs_the_fused_graph_and_falls_back_to_the_plain_export(tmp_path, monkeypatch):
    """The fp32 backend loads the export with ONNX Runtime's BERT fusions applied offline; if the optimiser
    fails, the plain export is used, with one warning, and the fusion is not tried again for those weights."""
    import onnx
    import onnxruntime.transformers.optimizer as optimizer

    from memlab.embedders import onnx_export as ox

    folder = bundled_model_path()
    path = ox.onnx_path(folder, "fp32")
    assert path.name == "model.fused.onnx"
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Attention", "SkipLayerNormalization", "EmbedLayerNormalization"} <= ops
    cache = tmp_path / "onnx"
    weights_dir = cache / ox.weights_digest(folder, cache)
    weights_dir.mkdir(parents=True)
    shutil.copy(path.with_name("model.onnx"), weights_dir / "model.onnx")  # the plain export, already made
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("cannot fuse this graph")

    monkeypatch.setattr(optimizer, "optimize_model", broken)
    with pytest.warns(UserWarning, match="fusion skipped"):
        assert ox.onnx_path(folder, "fp32", cache) == weights_dir / "model.onnx"
    assert ox.onnx_path(folder, "fp32", cache) == weights_dir / "model.onnx" and calls == [1]
