"""Mutated legacy configs: migrate_config either succeeds (valid, idempotent) or raises ConfigError."""

from __future__ import annotations

import json
import random

from memlab.errors import ConfigError
from memlab.migrate import migrate_config
from tests.config.cfg_cases import CASES

ATOMS = [None, True, 0, -1, 3.5, "", "x", "openai", "faiss", "qdrant", "v1.0", [], {}, [1, "a"], {"a": 1},
         1536, "euclidean", "env:FOO", "http://127.0.0.1:1"]
KEYS = ["provider", "config", "model", "foo", "embedding_dims", "embedding_model_dims", "azure_kwargs",
        "ollama_base_url", "distance_strategy", "llm", "api_key", "path", "version", "custom_prompt"]


def _mutate(obj, rng: random.Random):
    if isinstance(obj, dict):
        obj = dict(obj)
        if obj and rng.random() < 0.5:
            key = rng.choice(list(obj))
            obj[key] = _mutate(obj[key], rng) if rng.random() < 0.6 else rng.choice(ATOMS)
        if rng.random() < 0.2:
            obj[rng.choice(KEYS)] = rng.choice(ATOMS)
        return obj
    return rng.choice(ATOMS) if rng.random() < 0.5 else obj


def test_mutated_configs_never_crash_and_stay_idempotent():
    rng = random.Random(20240601)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(400):
        old = json.loads(json.dumps(rng.choice(CASES)[1]))
        for _ in range(rng.randint(1, 4)):
            old = _mutate(old, rng)
        try:
            m = migrate_config(old)
        except ConfigError as exc:
            assert str(exc)
            outcomes["error"] += 1
            continue
        m.diff(), m.report(), json.dumps(m.to_dict())
        again = migrate_config(m.config.to_dict())
        assert again.changes == [], (old, again.changes)
        outcomes["ok"] += 1
    assert outcomes["ok"] > 80 and outcomes["error"] > 25, outcomes
