"""Config migration of the optional blocks: ``graph_store`` (to the embedded graph engine) and ``reranker``."""

from __future__ import annotations

from typing import Any, Optional

from memlab.config import GRAPH_STORE_SETTINGS, RERANKER_PROVIDERS, validate_block
from memlab.config_migration import tables as T
from memlab.config_migration.blocks import _keep, _split, llm
from memlab.errors import ConfigError


def graph_store(value: Any, rep) -> Optional[dict]:
    if value is None:
        return None
    provider, cfg, extras = _split(value, "graph_store", rep, extra_keys=("llm", "custom_prompt", "threshold"))
    if provider is None:
        provider = "neo4j"
        rep.change("graph_store.provider", None, "neo4j", "no provider given: mem0's default assumed")
    if provider in T.GRAPH_ALIASES:
        rep.change("graph_store.provider", provider, T.GRAPH_ALIASES[provider], "memlab's name of this provider")
        provider = T.GRAPH_ALIASES[provider]
    if provider in T.GRAPH_UNSUPPORTED:
        rep.change("graph_store", {"provider": provider, "config": cfg}, None,
                   f"{provider} graphs are not supported by memlab (or by current mem0)")
        rep.warn(f"graph_store: the {provider} graph was removed; its relations are not migrated.")
        return None
    if provider not in GRAPH_STORE_SETTINGS:
        raise ConfigError(f"graph_store.provider {provider!r} is not supported; allowed: "
                          f"{', '.join(sorted(GRAPH_STORE_SETTINGS))}.")
    try:  # a broken server block is an error here too, not silently replaced
        validate_block("graph_store", provider, cfg, GRAPH_STORE_SETTINGS)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if provider == "kuzu":
        out: dict[str, Any] = {"provider": "kuzu", "config": _keep(cfg, "graph_store.config", {"db"}, {}, rep,
                                                                    "not a kuzu setting")}
    else:  # a graph server: memlab runs the embedded engine instead (its data stays on the server)
        for k, v in cfg.items():
            rep.removed(f"graph_store.config.{k}", v, f"a connection setting of {provider}; memlab's graph is "
                        "embedded (stored beside memlab.db, or in memory)")
        rep.change("graph_store.provider", provider, "kuzu",
                   f"memlab does not connect to {provider}; it runs an embedded graph engine (mem0's kuzu config)")
        rep.warn(f"graph_store: memlab does not connect to {provider}. The relations stored there are not reachable "
                 "offline; the embedded graph starts empty and fills as memories are added.")
        out = {"provider": "kuzu", "config": {}}
    if extras.get("llm") is not None:
        out["llm"] = llm(extras["llm"], "graph_store.llm", rep)
    for key in ("custom_prompt", "threshold"):
        if extras.get(key) is not None:
            out[key] = extras[key]
    return out


def reranker(value: Any, rep) -> Optional[dict]:
    """mem0's reranker block -> one memlab runs offline (features, cross_encoder, llm), with warnings."""
    if value is None:
        return None
    provider, cfg, _ = _split(value, "reranker", rep)
    aliases = {"sentence_transformers": "sentence_transformer", "sentence-transformers": "sentence_transformer",
               "llm": "llm_reranker"}
    if provider in aliases:
        rep.change("reranker.provider", provider, aliases[provider], "mem0's name of this reranker")
        provider = aliases[provider]
    if provider not in RERANKER_PROVIDERS:
        raise ConfigError(f"reranker.provider {provider!r} is not known; allowed: {', '.join(RERANKER_PROVIDERS)}.")
    cfg = dict(cfg or {})
    out: dict = {}
    top_n = cfg.get("top_n", cfg.get("top_k"))
    if isinstance(top_n, int) and not isinstance(top_n, bool) and top_n > 0:
        out["top_n"] = top_n
    if provider in ("features", "cross_encoder", "llm"):  # already memlab's
        return {"provider": provider, "config": cfg}
    target = {"cohere": "features", "zero_entropy": "features", "llm_reranker": "llm"}.get(provider)
    if provider in ("sentence_transformer", "huggingface"):
        from pathlib import Path

        model = cfg.get("model") or cfg.get("model_name")
        if model and Path(str(model)).expanduser().is_dir():
            target, out["model"] = "cross_encoder", str(model)
            rep.warn(f"reranker ({provider}) runs as memlab's cross_encoder from the local folder {model!r}.")
        else:
            target = "features"
            rep.warn(f"reranker ({provider}) names the model {model!r}, which is not a local folder, and memlab "
                     "never downloads models: the offline 'features' reranker runs instead. To run the "
                     "cross-encoder, save it to a folder and set reranker = {'provider': 'cross_encoder', "
                     "'config': {'model': '/path/to/folder'}}.")
    elif target == "features":
        rep.warn(f"reranker ({provider}) is a hosted service memlab does not call: the offline 'features' "
                 "reranker (channel scores, term coverage and proximity, speaker match) runs instead.")
    else:  # llm_reranker
        llm = cfg.get("llm") if isinstance(cfg.get("llm"), dict) else {}
        llm_cfg = llm.get("config") or {}
        if llm.get("provider") not in (None, "openai"):
            rep.warn(f"reranker llm provider {llm.get('provider')!r} is reached through memlab's OpenAI-compatible "
                     "client: set reranker.config.llm.base_url to its endpoint.")
        if llm_cfg:
            out["llm"] = {k: llm_cfg[k] for k in ("model", "api_key", "base_url", "timeout") if k in llm_cfg}
        rep.warn("reranker (llm_reranker) runs as memlab's 'llm' reranker over the OpenAI-compatible provider "
                 "(its own reranker.config.llm, else the memory's openai llm).")
    new = {"provider": target, "config": out}
    rep.change("reranker", {"provider": provider, "config": cfg}, new, "the reranker memlab runs offline")
    return new
