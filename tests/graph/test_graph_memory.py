"""Graph memory through the Memory facade on the real embedded engine (LadybugDB), rules LLM, hash embedder."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from memlab import Memory
from memlab.errors import ConfigError, ValidationError

pytest.importorskip("ladybug", reason="graph tests need memlab[graph]")

KUZU = {"provider": "kuzu", "config": {}}


def triples(rels) -> set:
    return {(r["source"], r["relationship"], r.get("destination", r.get("target"))) for r in rels}


def added(res) -> set:
    return triples(e[0] for e in res["relations"]["added_entities"])


def deleted(res) -> set:
    return triples(e[0] for e in res["relations"]["deleted_entities"])


@pytest.fixture
def gm(hash_config):
    m = Memory({**hash_config, "graph_store": KUZU})
    yield m
    m.close()


def test_mem0_kuzu_config_add_shapes(gm):
    res = gm.add("Alice lives in Berlin. Alice's sister is Anna.", user_id="u1", infer=False)
    assert set(res) == {"results", "relations"}
    assert set(res["relations"]) == {"added_entities", "deleted_entities"}
    # mem0's shape: one single-element list per relation, keys source / relationship / target
    assert res["relations"]["added_entities"][0] == [{"source": "alice", "relationship": "lives_in", "target": "berlin"}]
    assert added(res) == {("alice", "lives_in", "berlin"), ("alice", "has_sister", "anna")}
    assert res["relations"]["deleted_entities"] == []
    got = gm.get_all(user_id="u1")["relations"]
    assert all(set(r) == {"source", "relationship", "destination", "target"} for r in got)
    assert triples(got) == {("alice", "lives_in", "berlin"), ("alice", "has_sister", "anna")}


def test_contradiction_updates_the_graph(gm):
    gm.add("Alice lives in Berlin.", user_id="u1", infer=False)
    res = gm.add("Alice moved to Munich.", user_id="u1", infer=False)
    assert deleted(res) == {("alice", "lives_in", "berlin")}
    assert added(res) == {("alice", "lives_in", "munich")}
    assert triples(gm.get_all(user_id="u1")["relations"]) == {("alice", "lives_in", "munich")}
    gm.add("Alice loves tea. Alice likes jazz.", user_id="u1", infer=False)
    res = gm.add("Alice hates tea.", user_id="u1", infer=False)
    assert deleted(res) == {("alice", "loves", "tea")}
    assert ("alice", "likes", "jazz") in triples(gm.get_all(user_id="u1")["relations"])


def test_names_are_one_node_across_spellings(gm):
    gm.add("ALICE lives in Berlin.", user_id="u1", infer=False)
    gm.add("Alice's brother is Tom.", user_id="u1", infer=False)
    assert gm.graph.engine.entity_names({"user_id": "u1"}) == ["alice", "berlin", "tom"]


def test_infer_true_uses_the_message_text_and_self_entity(gm):
    res = gm.add([{"role": "user", "content": "I work at Acme and I love hiking."},
                  {"role": "assistant", "content": "Bob lives in Rome."}], user_id="dana")
    assert {r["memory"] for r in res["results"]} == {"Works at Acme", "Loves hiking"}
    assert added(res) == {("dana", "works_at", "acme"), ("dana", "loves", "hiking")}  # assistant text ignored


def test_scoping_like_memories(gm):
    gm.add("Alice lives in Berlin.", user_id="u1", infer=False)
    gm.add("Alice lives in Rome.", user_id="u2", infer=False)
    gm.add("Alice likes chess.", user_id="u1", agent_id="coach", infer=False)
    assert triples(gm.get_all(user_id="u2")["relations"]) == {("alice", "lives_in", "rome")}
    # user_id alone sees every agent of the user; a narrower scope only its own
    assert triples(gm.get_all(user_id="u1")["relations"]) == {("alice", "lives_in", "berlin"),
                                                              ("alice", "likes", "chess")}
    assert triples(gm.get_all(user_id="u1", agent_id="coach")["relations"]) == {("alice", "likes", "chess")}
    assert triples(gm.search("Where does Alice live?", user_id="u2")["relations"]) == {("alice", "lives_in", "rome")}
    assert gm.get_all(user_id="nobody")["relations"] == []
    # a contradiction in one scope leaves the other scopes alone
    gm.add("Alice moved to Paris.", user_id="u2", infer=False)
    assert ("alice", "lives_in", "berlin") in triples(gm.get_all(user_id="u1")["relations"])


def test_search_ranks_query_entities_before_neighbours(gm):
    gm.add("Alice's sister is Anna. Anna works at Acme. Bob lives in Oslo. Alice lives in Berlin.",
           user_id="u1", infer=False)
    rels = gm.search("Where does Alice live?", user_id="u1")["relations"]
    assert all(set(r) == {"source", "relationship", "destination"} for r in rels)
    assert rels[0] == {"source": "alice", "relationship": "lives_in", "destination": "berlin"}
    assert triples(rels) == {("alice", "has_sister", "anna"), ("alice", "lives_in", "berlin"),
                             ("anna", "works_at", "acme")}  # Anna's job: one hop; Bob: unrelated
    assert [r["destination"] for r in rels].index("acme") == 2
    assert gm.search("Where does Alice live?", user_id="u1", limit=1)["relations"] == rels[:1]
    assert gm.search("what about the weather", user_id="u1")["relations"] == []


def test_delete_all_and_reset_remove_relations(gm):
    gm.add("Alice lives in Berlin.", user_id="u1", infer=False)
    gm.add("Bob lives in Rome.", user_id="u2", infer=False)
    gm.delete_all(user_id="u1")
    assert gm.get_all(user_id="u1")["relations"] == []
    assert triples(gm.get_all(user_id="u2")["relations"]) == {("bob", "lives_in", "rome")}
    gm.reset()
    assert gm.get_all(user_id="u2")["relations"] == []
    assert gm.graph.engine.count() == {"entities": 0, "relations": 0}


def test_reopen_keeps_relations_beside_memlab_db(tmp_path, hash_config):
    cfg = {**hash_config, "graph_store": KUZU, "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path)}}}
    with Memory(cfg) as m:
        m.add("Alice lives in Berlin.", user_id="u1", infer=False)
    assert (tmp_path / "graph.lbug").exists() and (tmp_path / "memlab.db").exists()
    with Memory(cfg) as m:
        assert triples(m.get_all(user_id="u1")["relations"]) == {("alice", "lives_in", "berlin")}
        res = m.add("Alice moved to Munich.", user_id="u1", infer=False)
        assert deleted(res) == {("alice", "lives_in", "berlin")}


def test_explicit_db_path_and_explicit_memory(tmp_path, hash_config):
    db = tmp_path / "g" / "my.graph"
    with Memory({**hash_config, "graph_store": {"provider": "kuzu", "config": {"db": str(db)}}}) as m:
        m.add("Alice lives in Berlin.", user_id="u1", infer=False)
    assert db.exists()
    cfg = {**hash_config, "graph_store": {"provider": "kuzu", "config": {"db": ":memory:"}},
           "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "s")}}}
    with Memory(cfg) as m:
        m.add("Alice lives in Berlin.", user_id="u1", infer=False)
    assert not (tmp_path / "s" / "graph.lbug").exists()


def test_graph_fused_search(gm):
    ids = {}
    for text in ["Alice's sister is Anna.", "Anna works at Acme.", "The weather was lovely at the lake.",
                 "Bob lives in Oslo."]:
        ids[text] = gm.add(text, user_id="u1", infer=False)["results"][0]["id"]
    plain = gm.search("Where does Alice's sister work?", user_id="u1", limit=4)
    fused = gm.search("Where does Alice's sister work?", user_id="u1", limit=4, graph=True)
    assert {r["id"] for r in fused["results"]} == set(ids.values())
    by_id = {r["id"]: r for r in fused["results"]}
    assert by_id[ids["Alice's sister is Anna."]]["graph_score"] == 1.0
    assert by_id[ids["Anna works at Acme."]]["graph_score"] == 0.5  # a neighbour's relation
    assert by_id[ids["Bob lives in Oslo."]]["graph_score"] == 0.0
    top2 = {r["id"] for r in fused["results"][:2]}
    assert top2 == {ids["Alice's sister is Anna."], ids["Anna works at Acme."]}
    # one calibrated score, ordered by: an unlinked memory keeps its score, a link raises it
    plain_scores = {r["id"]: r["score"] for r in plain["results"]}
    for r in fused["results"]:
        if r["graph_score"] == 0:
            assert r["score"] == pytest.approx(plain_scores[r["id"]], abs=1e-9)
        else:
            assert plain_scores[r["id"]] < r["score"] <= 1.0
    scores = [r["score"] for r in fused["results"]]
    assert scores == sorted(scores, reverse=True)
    t = scores[1]
    assert [r["id"] for r in gm.search("Where does Alice's sister work?", user_id="u1", limit=4, graph=True,
                                       threshold=t)["results"]] == [r["id"] for r in fused["results"][:2]]
    other = gm.search("Where does Alice's sister work?", user_id="u2", graph=True)
    assert other["results"] == [] and other["relations"] == []


def test_graph_search_goes_through_the_search_step(hash_config):
    """graph=True uses the configured fusion weights, the reranker and explain, like any other search."""
    texts = ["Alice's sister is Anna.", "Anna works at Acme.", "The weather was lovely at the lake.",
             "Bob lives in Oslo.", "Alice's sister likes the lake."]
    query = "Where does Alice's sister work?"
    cfgs = {"dense_only": {"vector_store": {"provider": "faiss", "config": {"fusion_weights": {"dense": 1.0}}}},
            "keyword_only": {"vector_store": {"provider": "faiss", "config": {"fusion_weights": {"keyword": 1.0}}}}}
    got = {}
    for name, extra in cfgs.items():
        with Memory({**hash_config, **extra, "graph_store": KUZU,
                     "reranker": {"provider": "features", "config": {"top_n": 10}}}) as m:
            for text in texts:
                m.add(text, user_id="u1", infer=False)
            res = m.search(query, user_id="u1", limit=5, graph=True, explain=True)["results"]
            plain = m.search(query, user_id="u1", limit=5, rerank=False, explain=True)["results"]
            got[name] = res
            for r in res:
                ex = r["explain"]
                assert ex["mode"] == "fusion" and "graph" in ex["channels"]
                assert ex["calibration"]["model"] in ("graph", "reranked")
                assert r["score_details"]["entity_boost"] == r["graph_score"]
                # the configured weights reach the engine's fusion under graph=True
                assert {c: v["weight"] for c, v in ex["channels"].items() if "weight" in v} == \
                    {c: v["weight"] for c, v in plain[0]["explain"]["channels"].items()}
                assert "rerank_score" in r and ex["rerank"]["reranker"] == "features"
            scores = [r["score"] for r in res]
            assert scores == sorted(scores, reverse=True)
    assert [r["explain"]["channels"]["dense"]["weight"] for r in got["dense_only"]] == [1.0] * 5
    assert [r["explain"]["channels"]["keyword"]["weight"] for r in got["keyword_only"]] == [1.0] * 5


def test_graph_search_option_errors(mem, gm):
    with pytest.raises(ConfigError, match="graph store"):
        mem.search("x", user_id="u", graph=True)
    with pytest.raises(ValidationError, match="True or False"):
        gm.search("x", user_id="u", graph="yes")


def test_v10_lists_still_write_the_graph(hash_config):
    with Memory({**hash_config, "version": "v1.0", "graph_store": KUZU}) as m:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            out = m.add("Alice lives in Berlin.", user_id="u1", infer=False)
        assert isinstance(out, list)
        assert m.graph.get_all({"user_id": "u1"})[0]["destination"] == "berlin"


def test_server_providers_run_embedded_with_a_warning(hash_config):
    block = {"provider": "neo4j", "config": {"url": "bolt://x:7687", "username": "u", "password": "p"}}
    with pytest.warns(UserWarning, match="not reachable offline"):
        m = Memory({**hash_config, "graph_store": block})
    with m:
        assert added(m.add("Alice lives in Berlin.", user_id="u1", infer=False)) == {("alice", "lives_in", "berlin")}


def test_without_the_extra_memlab_imports_and_graph_is_a_config_error(tmp_path):
    code = (
        "import sys; sys.modules['ladybug'] = None\n"  # as if memlab[graph] were not installed
        "import memlab\n"
        "from memlab import Memory\n"
        "m = Memory({'embedder': {'provider': 'hash'}})\n"
        "m.add('Alice lives in Berlin.', user_id='u', infer=False)\n"
        "try:\n"
        "    Memory({'embedder': {'provider': 'hash'}, 'graph_store': {'provider': 'kuzu'}})\n"
        "except memlab.errors.ConfigError as exc:\n"
        "    print('CONFIG_ERROR', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=str(tmp_path), env={**__import__("os").environ, "PYTHONPATH": str(
                             __import__("pathlib").Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr
    assert "CONFIG_ERROR" in out.stdout and "memlab[graph]" in out.stdout


def test_relations_link_to_the_memories_that_name_them(gm):
    res = gm.add("I live in Berlin. I love climbing.", user_id="alice")
    ids = {r["memory"]: r["id"] for r in res["results"]}
    links = {(r["relationship"], r["destination"]): r["memory_ids"]
             for r in gm.graph.engine.relations({"user_id": "alice"})}
    assert links == {("lives_in", "berlin"): [ids["Lives in Berlin"]], ("loves", "climbing"): [ids["Loves climbing"]]}


def test_a_graph_open_in_another_process_is_a_clear_error(tmp_path, hash_config):
    from memlab.graph.engine import GraphEngineError

    cfg = {**hash_config, "graph_store": KUZU, "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path)}}}
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, ladybug; db = ladybug.Database(sys.argv[1]); print('ready', flush=True); sys.stdin.read()"),
        str(tmp_path / "graph.lbug")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(GraphEngineError, match="Another process has this graph open"):
            Memory(cfg)
    finally:
        holder.communicate("", timeout=60)


class _CustomExtractor:
    """A user's own graph extractor passed as the LLM: its output is cleaned like an LLM's."""

    name = "custom"

    def entities(self, text, self_name):
        return {"alice": "person"}

    def relations(self, text, self_name, entities):
        return [{"source": "Alice", "relationship": "Knows", "destination": "Bob's"}, {"source": "x"}, "junk",
                {"source": "I", "relationship": "likes", "destination": "Tea"}]

    def deletions(self, existing, text, self_name, added):
        return [{"source": "nobody", "relationship": "knows", "destination": "bob"}]  # not in the graph: ignored

    def extract_facts(self, *a, **k):  # pragma: no cover - infer=False below
        raise AssertionError


def test_custom_extractor_output_is_cleaned(hash_config):
    with Memory({**hash_config, "graph_store": KUZU}, llm=_CustomExtractor()) as m:
        res = m.add("anything", user_id="u1", infer=False)
        assert added(res) == {("alice", "knows", "bob"), ("u1", "likes", "tea")}
        assert res["relations"]["deleted_entities"] == []


def test_an_llm_without_graph_support_is_a_config_error(hash_config):
    class FactsOnly:
        name = "facts-only"

    with Memory({**hash_config, "graph_store": KUZU}, llm=FactsOnly()) as m:
        with pytest.raises(ConfigError, match="cannot extract graph relations"):
            m.add("Alice lives in Berlin.", user_id="u1", infer=False)
        assert m.get_all(user_id="u1")["results"] == []  # nothing written


def test_a_failing_graph_write_rolls_back_the_whole_plan(gm, monkeypatch):
    from memlab.graph.engine import GraphEngine, GraphEngineError

    gm.add("Alice lives in Berlin.", user_id="u1", infer=False)
    real = GraphEngine.add_relation
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise GraphEngineError("disk full (simulated)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(GraphEngine, "add_relation", flaky)
    with pytest.raises(GraphEngineError, match="simulated"):
        gm.add("Alice moved to Munich. Alice loves tea.", user_id="u1", infer=False)
    # the delete of berlin and the first add were rolled back with the failing second add
    assert triples(gm.get_all(user_id="u1")["relations"]) == {("alice", "lives_in", "berlin")}


def test_deleting_a_memory_removes_the_relations_only_it_supported(gm):
    first = gm.add("Alice lives in Berlin. Alice loves tea.", user_id="u1", infer=False)["results"][0]["id"]
    second = gm.add("Alice loves tea.", user_id="u1", infer=False)["results"][0]["id"]
    gm.delete(first)
    rels = {(r["relationship"], r["destination"]): r["memory_ids"] for r in gm.graph.engine.relations({"user_id": "u1"})}
    assert rels == {("loves", "tea"): [second]}  # berlin went with its only memory; tea is still supported
    gm.delete(second)
    assert gm.get_all(user_id="u1")["relations"] == []


def test_filtered_delete_all_unlinks_only_the_deleted_memories(gm):
    gm.add("Alice lives in Berlin.", user_id="u1", infer=False, metadata={"topic": "home"})
    gm.add("Alice works at Acme.", user_id="u1", infer=False, metadata={"topic": "work"})
    gm.delete_all(user_id="u1", filters={"topic": "work"})
    assert triples(gm.get_all(user_id="u1")["relations"]) == {("alice", "lives_in", "berlin")}


def test_async_memory_with_a_graph_from_many_threads(hash_config):
    import asyncio

    from memlab import AsyncMemory

    async def scenario():
        m = AsyncMemory({**hash_config, "graph_store": KUZU})
        names = [f"Person{i}" for i in range(12)]
        await asyncio.gather(*(m.add(f"{n} lives in Oslo.", user_id="u", infer=False) for n in names))
        got = await m.get_all(user_id="u")
        assert len(got["results"]) == 12 and len(got["relations"]) == 12
        found = await m.search("Where does Person3 live?", user_id="u")
        assert found["relations"][0] == {"source": "person3", "relationship": "lives_in", "destination": "oslo"}
        m.close()

    asyncio.run(scenario())
