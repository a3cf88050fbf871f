"""System specs: parsing, the memlab config they produce, and refused input."""

from __future__ import annotations

import pytest

from memlab.bench.systems import SystemSpec, make_system, memlab_config
from memlab.errors import ConfigError, ValidationError


def test_spec_parsing_casts_values_and_keeps_the_spec_as_label():
    s = SystemSpec.parse("memlab:mode=dense,context_window=1,fusion_weights.speaker=0.5,reranker=none")
    assert s.kind == "memlab" and s.label == "memlab:mode=dense,context_window=1,fusion_weights.speaker=0.5,reranker=none"
    assert s.options == {"mode": "dense", "context_window": 1, "fusion_weights.speaker": 0.5, "reranker": None}
    assert SystemSpec.parse("bm25:label=BM25").label == "BM25"
    d = SystemSpec.parse({"system": "memlab", "mode": "keyword", "label": "kw"})
    assert (d.kind, d.options, d.label) == ("memlab", {"mode": "keyword"}, "kw")
    assert s.slug != SystemSpec.parse("memlab").slug and "/" not in s.slug


@pytest.mark.parametrize("bad", ["nope", "memlab:mode", "memlab;x=1", ""])
def test_bad_specs_are_refused_with_a_hint(bad):
    with pytest.raises(ValidationError, match="name\\[:key=value|key=value"):
        SystemSpec.parse(bad)


def test_memlab_config_maps_every_documented_key(tmp_path):
    cfg = memlab_config({"mode": "hybrid", "embedder": "hash", "embedder.embedding_dims": 64,
                         "weights": "dense:1+keyword:0.5", "reranker": "features", "reranker.top_n": 20,
                         "context_window": 0, "bm25_k1": 1.2}, cache_dir=tmp_path)
    vs = cfg["vector_store"]
    assert vs["provider"] == "faiss"
    assert vs["config"] == {"search_mode": "hybrid", "fusion_weights": {"dense": 1.0, "keyword": 0.5},
                            "context_window": 0, "bm25_k1": 1.2}
    assert cfg["embedder"] == {"provider": "hash", "config": {"embedding_dims": 64}}  # hash: nothing to cache
    assert cfg["reranker"] == {"provider": "features", "config": {"top_n": 20}}
    one = memlab_config({"fusion_weights.speaker": 0})["vector_store"]["config"]["fusion_weights"]
    assert one["speaker"] == 0.0 and one["dense_context"] > 0  # one channel changed, the defaults kept
    minilm = memlab_config({}, cache_dir=tmp_path)["embedder"]["config"]["cache_path"]
    assert minilm.startswith(str(tmp_path)) and minilm.endswith(".sqlite")


def test_bad_values_fail_before_any_work(tmp_path):
    with pytest.raises(ValidationError, match="mode must be one of"):
        memlab_config({"mode": "magic"})
    with pytest.raises(ValidationError, match="weights must look like"):
        memlab_config({"weights": "dense"})
    system = make_system("memlab:no_such_setting=1,embedder=hash")
    with pytest.raises(ConfigError, match="no_such_setting"):  # memlab's own config validation
        system.open(tmp_path / "store")
    with pytest.raises(ConfigError, match="unknown option"):
        make_system("mem0:mode=dense")
