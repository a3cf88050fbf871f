"""Model-based test: random sequences of every verb (and re-opening the store) are checked
against a plain-dict model after each step, together with SQLite/FAISS agreement."""

from __future__ import annotations

import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from memlab import Memory
from memlab.errors import NotFoundError
from tests.reliability._rel_support import WORDS, assert_index_agrees, hash_cfg

USERS = ("alice", "bob", "carol")
text_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)


class MemoryMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="memlab-model-")
        self.m = Memory(hash_cfg(16), path=self.dir)
        self.model: dict[str, dict] = {}  # id -> {memory, user_id, state, metadata}

    def teardown(self):
        self.m.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(target=ids, text=text_st, user=st.sampled_from(USERS), tag=st.integers(0, 3))
    def add(self, text, user, tag):
        mid = self.m.add(text, user_id=user, infer=False, metadata={"tag": tag})["results"][0]["id"]
        self.model[mid] = {"memory": text, "user_id": user, "state": "active", "metadata": {"tag": tag}}
        return mid

    @rule(target=ids, texts=st.lists(text_st, min_size=1, max_size=4), user=st.sampled_from(USERS))
    def add_records(self, texts, user):
        mids = self.m.add_records([{"memory": t, "user_id": user} for t in texts])
        for mid, t in zip(mids, texts):
            self.model[mid] = {"memory": t, "user_id": user, "state": "active", "metadata": {}}
        return mids[0]

    @rule(mid=ids, text=st.one_of(st.none(), text_st), tag=st.one_of(st.none(), st.integers(0, 3)))
    def update(self, mid, text, tag):
        if text is None and tag is None:
            return
        meta = None if tag is None else {"tag": tag}
        if self.model[mid]["state"] == "deleted":
            with pytest.raises(NotFoundError):
                self.m.update(mid, text, metadata=meta)
            return
        self.m.update(mid, text, metadata=meta)
        if text is not None:
            self.model[mid]["memory"] = text
        if meta:
            self.model[mid]["metadata"].update(meta)

    @rule(mid=ids)
    def delete(self, mid):
        if self.model[mid]["state"] == "deleted":
            with pytest.raises(NotFoundError):
                self.m.delete(mid)
            return
        self.m.delete(mid)
        self.model[mid]["state"] = "deleted"

    @rule(mid=ids, state=st.sampled_from(["active", "paused", "archived"]))
    def set_state(self, mid, state):
        if self.model[mid]["state"] == "deleted":
            with pytest.raises(NotFoundError):
                self.m.set_state(mid, state)
            return
        self.m.set_state(mid, state)
        self.model[mid]["state"] = state

    @rule(user=st.sampled_from(USERS), tag=st.one_of(st.none(), st.integers(0, 3)))
    def delete_all(self, user, tag):
        filters = None if tag is None else {"tag": tag}
        self.m.delete_all(user_id=user, filters=filters)
        for rec in self.model.values():
            if rec["user_id"] == user and rec["state"] == "active" and (tag is None or rec["metadata"].get("tag") == tag):
                rec["state"] = "deleted"

    @rule()
    def reopen(self):
        self.m.close()
        self.m = Memory(hash_cfg(16), path=self.dir)

    @precondition(lambda self: len(self.model) > 0)
    @rule(user=st.sampled_from(USERS), query=text_st, limit=st.integers(1, 50))
    def search(self, user, query, limit):
        res = self.m.search(query, user_id=user, limit=limit)["results"]
        live = {k for k, r in self.model.items() if r["user_id"] == user and r["state"] == "active"}
        assert {r["id"] for r in res} <= live and len(res) == min(limit, len(live))
        # ordered by the value the search ranks by: the fused rank_score (default), else the cosine
        scores = [r.get("rank_score", r["score"]) for r in res]
        assert scores == sorted(scores, reverse=True)

    @invariant()
    def agrees_with_model(self):
        for user in USERS:
            got = {r["id"]: (r["memory"], r["metadata"]) for r in self.m.get_all(user_id=user, limit=10_000)["results"]}
            want = {k: (r["memory"], r["metadata"]) for k, r in self.model.items()
                    if r["user_id"] == user and r["state"] == "active"}
            assert got == want
        for mid, rec in self.model.items():
            item = self.m.get(mid)
            assert (item is None) == (rec["state"] == "deleted")
        assert_index_agrees(self.dir, self.m.store)


MemoryMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, derandomize=True,
                                           database=None, deadline=None, suppress_health_check=list(HealthCheck))
test_memory_matches_a_dict_model = MemoryMachine.TestCase
