"""One helper reopens a store directory from the embedder it recorded (import/export/verify, compare)."""

from __future__ import annotations

import pytest

from memlab import Memory
from memlab.cli import main
from memlab.compare import compare
from memlab.errors import ConfigError, NotFoundError
from memlab.migrate import export, import_to_store, open_store, store_config
from memlab.migrate.stores import embedder_config

# not the hash defaults: a helper that keeps only the size reopens this store with another embedder
ODD_HASH = {"provider": "hash", "config": {"embedding_dims": 96, "ngram_range": [1, 3], "char_ngrams": 4}}
FACTS = ["Maya is vegetarian", "Maya lives in Lisbon", "Maya plays the cello on Sundays"]


@pytest.fixture
def odd_store(tmp_path):
    path = tmp_path / "odd"
    with Memory({"embedder": ODD_HASH}, path=str(path)) as m:
        for fact in FACTS:
            m.add(fact, user_id="maya", infer=False)
    return path


@pytest.mark.parametrize("block", [ODD_HASH, {"provider": "hash", "config": {}}, {"provider": "minilm", "config": {}}])
def test_embedder_config_inverts_the_recorded_name(block):
    from memlab.embedders import create_embedder

    name = create_embedder(block["provider"], block["config"]).name
    rebuilt = embedder_config(name)
    assert create_embedder(rebuilt["provider"], rebuilt["config"]).name == name


@pytest.mark.parametrize("name", ["openai:text-embedding-3-small", "minilm:my-finetuned-model", "hash:96:x:c4"])
def test_an_embedder_memlab_cannot_rebuild_is_a_clear_error(name, tmp_path):
    with pytest.raises(ConfigError, match="cannot guess from its name"):
        embedder_config(name)


def test_a_store_of_an_api_embedder_says_how_to_open_it(tmp_path, openai_server):
    path = tmp_path / "api"
    block = {"provider": "openai", "config": {"model": "text-embedding-3-small", "api_key": "k",
                                              "base_url": openai_server.base_url, "embedding_dims": 64}}
    with Memory({"embedder": block}, path=str(path)):
        pass
    with pytest.raises(ConfigError, match="built with embedder 'openai:text-embedding-3-small'.*config file"):
        store_config(path)
    with pytest.raises(ConfigError, match="built with embedder 'openai"):
        open_store(path)


def test_open_store_reopens_with_the_exact_recorded_embedder(odd_store):
    assert store_config(odd_store) == {"embedder": ODD_HASH, "vector_store": {"config": {"path": str(odd_store)}}}
    with open_store(odd_store) as m:
        assert m.embedder.name == "hash:96:1-3:c4"
        assert [h["memory"] for h in m.search("cello", user_id="maya", limit=1)["results"]] == [FACTS[2]]
    with open_store(odd_store, embedder="hash") as m:  # naming the same provider only checks it
        assert m.store.count() == 3
    with pytest.raises(ConfigError, match="was built with 'hash:96:1-3:c4'; embedder 'minilm' does not match"):
        open_store(odd_store, embedder="minilm")


def test_open_store_never_turns_a_typo_into_a_new_store(tmp_path):
    with pytest.raises(NotFoundError, match="No memlab store.*missing memlab.db"):
        open_store(tmp_path / "typo")
    with pytest.raises(NotFoundError, match="No memlab store"):
        store_config(tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
    with open_store(tmp_path / "new", embedder={"provider": "hash", "config": {"embedding_dims": 32}},
                    create=True) as m:
        assert m.embedder.name.startswith("hash:32:") and m.store.count() == 0
    assert store_config(tmp_path / "new")["embedder"]["config"]["embedding_dims"] == 32


def test_cli_and_compare_open_the_same_store_the_same_way(odd_store, tmp_path, capsys):
    out = tmp_path / "odd.jsonl"
    assert main(["export", "--store", str(odd_store), str(out)]) == 0
    assert "exported 3 memories" in capsys.readouterr().out
    assert main(["verify", "--source", str(odd_store), "--target", str(odd_store)]) == 0
    assert capsys.readouterr().out.startswith("OK: 3/3")
    result = compare(str(odd_store), str(odd_store), [{"query": "cello", "user_id": "maya"}], k=2)
    assert result.identical and result.summary().loc["overlap@k", "mean"] == 1.0


def test_a_new_store_takes_the_exports_exact_embedder_and_reuses_its_vectors(odd_store, tmp_path):
    path = tmp_path / "with_vectors.jsonl"
    with open_store(odd_store) as m:
        export(m, path, schema=["id", "memory", "user_id", "created_at", "history", "vector"])
    report = import_to_store("jsonl", path, tmp_path / "copy")
    assert report.vectors_reused == 3 and report.vectors_embedded == 0
    with open_store(tmp_path / "copy") as copy, open_store(odd_store) as src:
        assert copy.embedder.name == src.embedder.name
        assert [copy.store.vector(i).tolist() for i in report.imported] == \
            [src.store.vector(i).tolist() for i in report.imported]
