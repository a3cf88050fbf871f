"""mem0 FAISS import and repair on stores the tests build themselves (no ../shared needed).

Both on-disk layouts (the ``.pkl`` tuple of mem0 <= 1.0.x, the ``.json`` of mem0 >= 2.0) are
written by tests/data/mem0_builder.py with mem0's drift (or with hand-placed damage) and a
ground truth the builder measured itself. tests/data/test_mem0_import.py checks the same
importer on the real mem0-written stores in ../shared as an extra layer.
"""

from __future__ import annotations

import json
import pickle
from collections import OrderedDict

import pytest

from memlab import Memory
from memlab.embedders import create_embedder
from memlab.errors import MigrationError
from memlab.migrate import import_mem0
from memlab.migrate.importers import mem0_faiss
from tests.data.mem0_builder import Mem0StoreBuilder, drifted_store

LAYOUTS = ["pkl", "json"]


@pytest.fixture(scope="module")
def emb():
    return create_embedder("hash", {"embedding_dims": 128})


def _import(folder, emb, **kw):
    m = Memory(embedder=emb)
    return m, import_mem0(folder, into=m, **kw)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_drifted_store_every_damaged_vector_is_found_and_repaired(tmp_path, emb, layout):
    b = drifted_store(emb)
    folder = b.save(tmp_path, layout)
    truth = b.truth()
    # the store really is damaged, beyond what a 16-vector sample can see
    assert len(truth.texts) > 2 * mem0_faiss.SAMPLE
    assert len(truth.mis_mapped) >= 4 and truth.unreachable and truth.orphan_rows
    m, report = _import(folder, emb)
    assert report.ok, report.skipped
    assert report.repaired_ids("mis_mapped") == truth.mis_mapped
    assert report.repaired_ids("unreachable") == truth.unreachable
    assert report.repair_counts().get("orphan_vectors") == 1
    assert not report.details["index"]["consistent"]
    assert report.details["index"]["orphan_positions"] == truth.orphan_rows
    # each mis-mapped memory's report names the live memory whose vector sits at its position
    text_owner = {text: i for i, text in truth.texts.items()}
    details = {r["id"]: r["detail"] for r in report.repairs if r["repair"] == "mis_mapped"}
    named = 0
    for memory_id in truth.mis_mapped:
        owner = text_owner.get(b.row_text[b.position_of(memory_id)])
        if owner is not None:
            assert f"it holds the vector of {owner}" in details[memory_id]
            named += 1
        else:  # the row holds a text no live memory has (an old version): nobody is named
            assert "it holds the vector of" not in details[memory_id]
    assert named >= 1
    # where each checked memory's vector really is in the mem0 index (a diagnostic of damaged stores)
    holders = report.details["positions_holding_vector"]
    for memory_id in truth.unreachable:
        assert holders[memory_id] == [p for p, t in enumerate(b.row_text) if t == truth.texts[memory_id]]
    # the healthy memories keep their stored vectors; the damaged ones are embedded afresh
    assert report.vectors_reused == len(truth.texts) - len(truth.mis_mapped) - len(truth.unreachable)
    ids = list(truth.texts)
    fresh = emb.embed([truth.texts[i] for i in ids])
    for memory_id, vec in zip(ids, fresh):
        assert float(m.store.vector(memory_id) @ vec) > 0.999, memory_id
        got = m.get(memory_id)
        assert got["memory"] == truth.texts[memory_id] and got["user_id"] == truth.scopes[memory_id]["user_id"]
        assert got["metadata"] == truth.metadata[memory_id]
        assert [h["event"] for h in m.history(memory_id)] == truth.history_events[memory_id]
    for memory_id in truth.deleted:
        assert m.get(memory_id) is None and m.store.get(memory_id)["state"] == "deleted"
        assert m.history(memory_id)[-1]["event"] == "DELETE"
    assert m.store.count() == len(truth.texts)
    for memory_id in ids:  # every memory is its own best match again (mem0's search missed the damaged ones)
        top = m.search(truth.texts[memory_id], **truth.scopes[memory_id], limit=1)["results"][0]
        assert top["id"] == memory_id
    m.close()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_consistent_store_reuses_every_vector_without_repairs(tmp_path, emb, layout):
    b = Mem0StoreBuilder(emb, drift=False, seed=1)
    ids = [b.add(f"memory {i} about tea number {i * 3}", "u1" if i % 2 else "u2") for i in range(20)]
    b.update(ids[4], "memory four, revised")
    b.delete(ids[9])
    folder = b.save(tmp_path, layout)
    truth = b.truth()
    assert not truth.mis_mapped and not truth.unreachable and not truth.orphan_rows
    m, report = _import(folder, emb)
    assert report.details["index"]["consistent"] and report.ok
    assert "positions_holding_vector" not in report.details  # only computed for damaged stores
    assert not [r for r in report.repairs if r["repair"] != "history_synthesized"]
    assert report.vectors_reused == len(truth.texts) == 19
    assert report.details["deleted_ids"] == [ids[9]]
    assert m.get(ids[4])["memory"] == "memory four, revised"
    m.close()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_other_embedder_reembeds_everything_and_still_names_unreachable(tmp_path, emb, layout):
    folder = drifted_store(emb).save(tmp_path, layout)
    truth = drifted_store(emb).truth()
    other = create_embedder("hash", {"embedding_dims": 64})
    m, report = _import(folder, other)
    assert report.vectors_reused == 0 and any("128-d" in w for w in report.warnings)
    assert report.repaired_ids("unreachable") == truth.unreachable
    for memory_id, text in truth.texts.items():
        assert float(m.store.vector(memory_id) @ other.embed([text])[0]) > 0.999
    m.close()


def test_same_dims_but_another_model_is_detected_by_the_sample(tmp_path, emb):
    folder = drifted_store(emb).save(tmp_path, "json")
    other = create_embedder("hash", {"embedding_dims": 128, "ngram_range": (1, 1), "char_ngrams": 0})
    assert other.dims == emb.dims and other.name != emb.name
    m, report = _import(folder, other)
    assert report.vectors_reused == 0
    assert any("do not match the target embedder" in w for w in report.warnings)
    assert any("mis-mapped memories cannot be named" in w for w in report.warnings)
    m.close()


def test_hand_damaged_json_store(tmp_path, emb):
    """Dangling and duplicate mapping entries, lost text, wrong hash, reserved keys, no scope."""
    b = Mem0StoreBuilder(emb, drift=False, seed=2)
    ids = [b.add(f"fact {i} on the list", "u") for i in range(6)]
    folder = b.save(tmp_path, "json")
    path = folder / "faiss" / "mem0.json"
    data = json.loads(path.read_text())
    doc, mapping = data["docstore"], data["index_to_id"]
    mapping["6"] = ids[0]            # a second position for ids[0]: past the end of the index (dangling)
    mapping["99"] = "gone-id"        # an id that is not in the docstore (dangling)
    mapping["-1"] = ids[0]           # a negative position (dangling, not the index's last row)
    mapping["5"] = ids[1]            # ids[1] now mapped twice, ids[5] unreachable
    doc[ids[2]]["data"] = ""         # text lost: recovered from history.db
    doc[ids[3]]["hash"] = "0" * 32   # wrong hash: recomputed
    doc[ids[3]]["score"] = 0.5       # legal metadata in mem0 (only scope ids are reserved): kept as "score"
    del doc[ids[4]]["user_id"]       # no scope left: skipped, named
    path.write_text(json.dumps(data))
    m, report = _import(folder, emb)
    assert report.repaired_ids("multiply_mapped") == {ids[1]}
    assert report.repaired_ids("unreachable") == {ids[5]}
    assert report.repair_counts()["dangling_mapping"] == 1
    assert "[-1, 6, 99]" in next(r["detail"] for r in report.repairs if r["repair"] == "dangling_mapping")
    assert report.repaired_ids("text_from_history") == {ids[2]} and m.get(ids[2])["memory"] == "fact 2 on the list"
    assert report.repaired_ids("hash_recomputed") == {ids[3]}
    assert m.get(ids[3])["metadata"] == {"score": 0.5}
    assert [s["id"] for s in report.skipped] == [ids[4]] and not report.ok
    assert m.get(ids[4]) is None
    for i in (0, 1, 2, 3, 5):
        text = m.get(ids[i])["memory"]
        assert float(m.store.vector(ids[i]) @ emb.embed([text])[0]) > 0.999
    m.close()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_missing_index_file_embeds_everything(tmp_path, emb, layout):
    b = drifted_store(emb)
    folder = b.save(tmp_path, layout, index=False)
    m, report = _import(folder, emb)
    assert report.vectors_reused == 0 and report.vectors_embedded == len(b.truth().texts) + len(b.truth().deleted)
    assert any("no .faiss index" in w for w in report.warnings)
    assert report.details["index"]["ntotal"] == 0 and "orphan_vectors" not in report.repair_counts()
    assert {i: m.get(i)["memory"] for i in b.truth().texts} == b.truth().texts
    m.close()


def test_unreadable_sources_raise_and_write_nothing(tmp_path, emb):
    good = Mem0StoreBuilder(emb, drift=False)
    good.add("a fact", "u")
    json_dir = good.save(tmp_path / "json", "json")
    raw = (json_dir / "faiss" / "mem0.json").read_text()
    (json_dir / "faiss" / "mem0.json").write_text(raw[: len(raw) // 2])  # truncated mid-write
    pkl_dir = good.save(tmp_path / "pkl", "pkl")

    with open(pkl_dir / "faiss" / "mem0.pkl", "wb") as fh:  # names a class: loading it could run code
        pickle.dump((OrderedDict(x={"data": "a fact", "user_id": "u"}), {0: "x"}), fh)
    for folder, match in ((json_dir, "not valid JSON"), (pkl_dir, "only loads pickles made of plain builtins")):
        m = Memory(embedder=emb)
        with pytest.raises(MigrationError, match=match):
            import_mem0(folder, into=m)
        assert m.store.count() == 0
        m.close()


def test_two_swapped_positions_name_each_other_and_a_half_agreeing_sample_is_trusted(tmp_path, emb):
    """A structurally consistent store whose first two index rows were swapped: the sample of 4 agrees on
    exactly half, which is enough to trust the stored vectors (the two that disagree are verified and
    repaired), and each swapped memory's report names the other -- the first checked one included."""
    b = Mem0StoreBuilder(emb, drift=False, seed=3)
    texts = ["the blue kayak is stored in the garage", "Maria's birthday is on the ninth of March",
             "our wifi password changed last Tuesday", "I prefer green tea without sugar"]
    ids = [b.add(t, "u") for t in texts]
    b.index_to_id[0], b.index_to_id[1] = ids[1], ids[0]
    m, report = _import(b.save(tmp_path, "json"), emb)
    assert report.details["index"]["consistent"]  # the damage is invisible to the structure
    assert report.details["vector_sample"] == 4  # fewer singles than the sample size: every one
    assert not any("do not match the target embedder" in w for w in report.warnings)
    assert report.repaired_ids("mis_mapped") == {ids[0], ids[1]}
    assert report.vectors_reused == 2
    details = {r["id"]: r["detail"] for r in report.repairs if r["repair"] == "mis_mapped"}
    assert f"it holds the vector of {ids[1]}" in details[ids[0]]
    assert f"it holds the vector of {ids[0]}" in details[ids[1]]
    for memory_id, text in zip(ids, texts):
        assert float(m.store.vector(memory_id) @ emb.embed([text])[0]) > 0.999
    m.close()
    # three of four rows rotated: the sample mostly disagrees, so nothing stored is trusted
    b.index_to_id[0], b.index_to_id[1], b.index_to_id[2] = ids[2], ids[0], ids[1]
    m, report = _import(b.save(tmp_path / "rotated", "json"), emb)
    assert report.vectors_reused == 0 and not report.repaired_ids("mis_mapped")
    assert any("do not match the target embedder" in w for w in report.warnings)
    for memory_id, text in zip(ids, texts):
        assert float(m.store.vector(memory_id) @ emb.embed([text])[0]) > 0.999
    m.close()


def test_the_sample_strides_over_a_large_consistent_store(tmp_path, emb):
    b = Mem0StoreBuilder(emb, drift=False, seed=4)
    for i in range(40):
        b.add(f"note number {i}: {' '.join(['alpha', 'beta', 'gamma', 'delta'][: 1 + i % 4])} {i * 13}", "u")
    m, report = _import(b.save(tmp_path, "pkl"), emb)
    assert report.details["vector_sample"] == mem0_faiss.SAMPLE  # every 40 // 16 = 2nd single, the first 16
    assert report.vectors_reused == 40 and report.details["index"]["consistent"]
    m.close()


def test_a_verified_stored_vector_is_imported_as_stored_not_replaced_by_the_fresh_embedding(tmp_path, emb):
    """A stored vector close to (cosine > SAME) but not equal to the target embedder's is the memory's own:
    it is reused as stored, even when the sample re-embedded that memory to check it."""
    import numpy as np

    b = Mem0StoreBuilder(emb, drift=False, seed=5)
    texts = ["the spare key is under the blue flowerpot", "Jonas plays the cello on Thursdays",
             "the boiler was serviced in October", "I am allergic to peanuts and cashews"]
    ids = [b.add(t, "u") for t in texts]
    v = b.vectors[2]
    noise = np.random.default_rng(0).normal(size=v.shape).astype(np.float32)
    noise -= (noise @ v) * v
    stored = v + 0.08 * noise / np.linalg.norm(noise)
    stored = (stored / np.linalg.norm(stored)).astype(np.float32)
    assert mem0_faiss.SAME < float(stored @ v) < 0.999  # the same memory, not the same numbers
    b.vectors[2] = stored
    m, report = _import(b.save(tmp_path, "json"), emb)
    assert report.details["vector_sample"] == 4 and report.vectors_reused == 4 and report.ok
    assert not report.repaired_ids("mis_mapped")
    np.testing.assert_allclose(m.store.vector(ids[2]), stored, atol=1e-6)
    for i in (0, 1, 3):
        np.testing.assert_allclose(m.store.vector(ids[i]), emb.embed([texts[i]])[0], atol=1e-6)
    m.close()
