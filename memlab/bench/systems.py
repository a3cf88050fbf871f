"""The systems a benchmark puts side by side, parsed from ``name[:key=value,...]`` specs.

Every system has the same small interface, driven only through the system's own public API:

- ``open(store_dir, cache_dir)``: open (or re-open, on resume) its persistent store;
- ``add_session(session) -> [system id per turn]``: ONE add of the session's messages, dated;
- ``purge_session(session) -> n``: delete what a killed ``add`` may have left half-written;
- ``search(scope, query, k) -> [{"id", "memory", "score"}]``: best first, in the question's scope;
- ``close()``.

memlab systems (``memlab``, ``bm25``, ``dense``) live in this module; mem0's (``mem0``,
``mem0-platform``) in :mod:`memlab.bench.mem0_systems`.

Spec keys of ``memlab`` (and ``bm25`` / ``dense``, which are presets of it):

- ``mode``: fusion | dense | hybrid | keyword (``search_mode``);
- ``embedder``: minilm | hash | openai, ``embedder.<field>=...`` for its settings (e.g. ``base_url``);
- ``weights``: fusion channel weights ``dense:0.5+keyword:1`` (the channels listed, no others);
- ``reranker``: features | cross_encoder | llm | none;
- ``engine``: faiss (default) | pgvector (``engine.<field>`` for the connection, e.g. ``connection_string``);
- any other key is a search-stack setting of the engine, dotted into dicts:
  ``context_window=1``, ``fusion_weights.speaker=0``, ``bm25_k1=1.2``;
- ``label``: the name shown in reports (default: the spec itself).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from memlab.errors import ConfigError, ValidationError

KINDS = ("memlab", "bm25", "dense", "mem0", "mem0-platform")
MODES = ("fusion", "dense", "hybrid", "keyword")
# Presets: bm25 is the reference lexical baseline (the engine's BM25, no vectors needed), dense plain cosine.
PRESETS = {"memlab": {}, "bm25": {"mode": "keyword", "embedder": "hash"}, "dense": {"mode": "dense"}}
_SPEC = re.compile(r"^([A-Za-z0-9_-]+)(?::(.*))?$")


def _value(text: str) -> Any:
    """``"1"`` -> 1, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"none"`` -> None, else the string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


@dataclass
class SystemSpec:
    """A parsed ``name[:key=value,...]``."""

    kind: str
    options: dict = field(default_factory=dict)
    label: str = ""

    @classmethod
    def parse(cls, spec: Any) -> "SystemSpec":
        if isinstance(spec, SystemSpec):
            return spec
        if isinstance(spec, dict):
            spec = dict(spec)
            kind = spec.pop("system", spec.pop("kind", None))
            if kind is None:
                raise ValidationError(f"a system dict needs 'system' (one of {', '.join(KINDS)}), got {spec!r}.")
            label = spec.pop("label", None)
            text = kind + (":" + ",".join(f"{k}={v}" for k, v in spec.items()) if spec else "")
            out = cls.parse(text)
            out.options.update(spec)
            out.label = label or text
            return out
        m = _SPEC.match(str(spec).strip())
        if not m or m.group(1) not in KINDS:
            raise ValidationError(
                f"unknown system {spec!r}: expected name[:key=value,...] with name one of {', '.join(KINDS)} "
                "(e.g. memlab:mode=dense or mem0)."
            )
        options: dict = {}
        for part in filter(None, (p.strip() for p in (m.group(2) or "").split(","))):
            if "=" not in part:
                raise ValidationError(f"system {spec!r}: option {part!r} is not key=value.")
            key, val = part.split("=", 1)
            options[key.strip()] = _value(val)
        label = str(options.pop("label", "")) or str(spec).strip()
        return cls(m.group(1), options, label)

    @property
    def slug(self) -> str:
        """A file-system name for the label (unique per label)."""
        import hashlib

        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label).strip("_")[:40]
        return f"{safe}-{hashlib.sha1(self.label.encode()).hexdigest()[:6]}"

    def fingerprint(self) -> dict:
        return {"kind": self.kind, "options": {k: self.options[k] for k in sorted(self.options)},
                "label": self.label}


def _weights(text: Any) -> dict:
    out = {}
    for part in str(text).split("+"):
        if ":" not in part:
            raise ValidationError(f"weights must look like dense:0.5+keyword:1, got {text!r}.")
        ch, w = part.split(":", 1)
        try:
            out[ch.strip()] = float(w)
        except ValueError:
            raise ValidationError(f"weight of {ch!r} must be a number, got {w!r}.") from None
    return out


def set_dotted(target: dict, key: str, value: Any) -> None:
    """``set_dotted(d, "fusion_weights.speaker", 0)`` sets ``d["fusion_weights"]["speaker"] = 0``."""
    parts = key.split(".")
    for p in parts[:-1]:
        nxt = target.get(p)
        if not isinstance(nxt, dict):
            nxt = target[p] = dict(nxt or {})
        target = nxt
    target[parts[-1]] = value


def memlab_config(options: dict, *, cache_dir: Optional[Path] = None) -> dict:
    """The memlab Memory config a spec's options describe (validated by memlab when opened)."""
    from memlab.config import DEFAULT_FUSION_WEIGHTS

    emb = {"provider": "minilm", "config": {}}
    engine = {"provider": "faiss", "config": {}}
    reranker = None
    vs = engine["config"]
    for key, val in options.items():
        if key == "mode":
            if val not in MODES:
                raise ValidationError(f"mode must be one of {', '.join(MODES)}, got {val!r}.")
            vs["search_mode"] = val
        elif key == "embedder":
            emb["provider"] = str(val)
        elif key.startswith("embedder."):
            set_dotted(emb["config"], key.split(".", 1)[1], val)
        elif key == "weights":
            vs["fusion_weights"] = _weights(val)
        elif key.startswith("fusion_weights."):
            vs.setdefault("fusion_weights", dict(DEFAULT_FUSION_WEIGHTS))
            set_dotted(vs, key, float(val))
        elif key == "reranker":
            reranker = None if val in (None, "none") else {"provider": str(val), "config": {}}
        elif key.startswith("reranker."):
            if reranker is None:
                raise ValidationError(f"{key} needs reranker=<provider> first.")
            set_dotted(reranker["config"], key.split(".", 1)[1], val)
        elif key == "engine":
            engine["provider"] = str(val)
        elif key.startswith("engine."):
            set_dotted(vs, key.split(".", 1)[1], val)
        else:
            set_dotted(vs, key, val)
    if cache_dir is not None and "cache_path" not in emb["config"] and emb["provider"] != "hash":
        # one vector cache per embedder for the whole run: systems and grid points share embeddings
        tag = re.sub(r"[^A-Za-z0-9]+", "_", json.dumps(emb, sort_keys=True))[:60]
        emb["config"]["cache_path"] = str(Path(cache_dir) / f"embeddings-{tag}.sqlite")
    cfg: dict = {"embedder": emb, "vector_store": engine}
    if reranker is not None:
        cfg["reranker"] = reranker
    return cfg


class MemlabSystem:
    """memlab's :class:`~memlab.Memory` with a spec's config overrides (persistent store per system)."""

    def __init__(self, spec: SystemSpec):
        self.spec = spec
        self.options = {**PRESETS.get(spec.kind, {}), **spec.options}
        self.memory = None
        self.accepts_timestamp = True

    def config(self, cache_dir: Optional[Path] = None) -> dict:
        return memlab_config(self.options, cache_dir=cache_dir)

    def open(self, store_dir: Path, cache_dir: Optional[Path] = None) -> None:
        from memlab import Memory, MemoryConfig

        # strict validation: an unknown or misspelt setting must fail, never be dropped as a legacy key
        cfg = MemoryConfig.from_dict(self.config(cache_dir))
        if cfg.vector_store.provider == "faiss":
            self.memory = Memory(cfg, path=str(store_dir))
        else:
            self.memory = Memory(cfg)

    def add_session(self, session) -> list[str]:
        when = session.when
        out = self.memory.add(session.messages(), user_id=session.scope, infer=False,
                              metadata={"bench_session": session.key}, timestamp=None if when is None else when)
        return [r["id"] for r in out["results"]]

    def purge_session(self, session) -> int:
        items = self.memory.get_all(user_id=session.scope, filters={"bench_session": session.key}, limit=100_000)
        for item in items["results"]:
            self.memory.delete(item["id"])
        return len(items["results"])

    def search(self, scope: str, query: str, k: int) -> list[dict]:
        hits = self.memory.search(query, user_id=scope, limit=k)["results"]
        # `score` is the calibrated relevance every mode orders by (and search(threshold=...) cuts on)
        return [{"id": h["id"], "memory": h["memory"], "score": float(h["score"])} for h in hits]

    def describe(self) -> dict:
        cfg = self.config()
        return {"system": self.spec.kind, "label": self.spec.label, "config": cfg,
                "ingest": "one add(messages, infer=False, timestamp=session date) per session"}

    def close(self) -> None:
        if self.memory is not None:
            self.memory.close()
            self.memory = None


def make_system(spec: Any):
    """A system object for a spec (string, dict or :class:`SystemSpec`)."""
    spec = SystemSpec.parse(spec)
    if spec.kind in PRESETS:
        return MemlabSystem(spec)
    from memlab.bench.mem0_systems import Mem0PlatformSystem, Mem0System

    if spec.kind == "mem0":
        return Mem0System(spec)
    if spec.kind == "mem0-platform":
        return Mem0PlatformSystem(spec)
    raise ConfigError(f"no system {spec.kind!r}")  # pragma: no cover (parse() checked the kind)
