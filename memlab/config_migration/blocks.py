"""Per-block mapping of legacy (mem0) config blocks to memlab's (used by ``migrate_config``).

Every function takes the legacy value and a report, returns memlab's block (or None for
"absent, use the default") and records each change with its reason.
"""

from __future__ import annotations

from typing import Any, Optional

from memlab.config import (
    EMBEDDER_SETTINGS,
    LLM_SETTINGS,
    VECTOR_STORE_SETTINGS,
)
from memlab.config_migration import tables as T
from memlab.errors import ConfigError

EMBEDDER_FIELDS = {p: set(m.model_fields) for p, m in EMBEDDER_SETTINGS.items()}
LLM_FIELDS = {p: set(m.model_fields) for p, m in LLM_SETTINGS.items()}
FAISS_FIELDS = set(VECTOR_STORE_SETTINGS["faiss"].model_fields)
PGVECTOR_FIELDS = set(VECTOR_STORE_SETTINGS["pgvector"].model_fields)
MINILM_SOURCES = {"huggingface", "sentence_transformers", "sentence-transformers", "sentence_transformer",
                  "fastembed", "ollama"}
_MEMLAB_DEFAULT = {"embedder": "minilm", "llm": "rules", "vector_store": "faiss"}
_MEM0_DEFAULT = {"embedder": "openai", "llm": "openai", "vector_store": "qdrant"}


def _split(value: Any, path: str, rep, extra_keys: tuple = ()) -> tuple[Optional[str], dict, dict]:
    """(provider, config, extras) of a block given as a bare name or a {provider, config} dict."""
    if isinstance(value, str):
        provider = value.strip().lower()
        if not provider:
            raise ConfigError(f"{path} is an empty string; give a provider name such as 'openai'.")
        rep.change(path, value, {"provider": provider, "config": {}},
                   "flat legacy form: a bare provider name becomes a {provider, config} block")
        return provider, {}, {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path} must be a provider name or a {{'provider': ..., 'config': {{...}}}} block, "
                          f"got {type(value).__name__}.")
    provider, cfg = value.get("provider"), value.get("config")
    if provider is not None and (not isinstance(provider, str) or not provider.strip()):
        raise ConfigError(f"{path}.provider must be a non-empty string, got {provider!r}.")
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}.config must be a mapping of settings, got {type(cfg).__name__}.")
    for key in value:
        if key not in ("provider", "config", *extra_keys):
            rep.removed(f"{path}.{key}", value[key],
                        "not part of a {provider, config} block (mem0 ignored it); put settings under config")
    extras = {k: value[k] for k in extra_keys if k in value}
    if provider and provider.strip().lower() != provider:
        rep.change(f"{path}.provider", provider, provider.strip().lower(), "provider names are lower case")
    return (provider.strip().lower() if provider else None), dict(cfg), extras


def _default_provider(kind: str, cfg: dict, rep) -> str:
    """A block without provider: memlab's default if its settings fit, else mem0's default."""
    native = _MEMLAB_DEFAULT[kind]
    fields = {"embedder": EMBEDDER_FIELDS, "llm": LLM_FIELDS, "vector_store": {"faiss": FAISS_FIELDS}}[kind][native]
    if set(cfg) <= fields:
        return native
    rep.change(f"{kind}.provider", None, _MEM0_DEFAULT[kind], "no provider given: mem0's default assumed")
    return _MEM0_DEFAULT[kind]


def _keep(cfg: dict, path: str, allowed: set, renames: dict, rep, reason: str) -> dict:
    """Keep allowed keys, rename mem0 names, report the rest as removed."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key == "api_key" and isinstance(value, str) and value.startswith("env:"):
            rep.change(f"{path}.{key}", value, None, "OpenMemory env: reference; memlab reads $OPENAI_API_KEY itself")
            if value != "env:OPENAI_API_KEY":
                rep.warn(f"{path}.api_key referred to ${value[4:]}; memlab does not expand env: references, "
                         f"so set {path}.api_key explicitly (otherwise $OPENAI_API_KEY is sent).")
        elif key in renames and renames[key] in allowed and (renames[key] in cfg or renames[key] in out):
            rep.removed(f"{path}.{key}", value, f"superseded by {path}.{renames[key]} (both given)")
        elif key in renames and renames[key] in allowed:
            out[renames[key]] = value
            rep.change(f"{path}.{key} -> {path}.{renames[key]}", value, value, "memlab's name for this setting")
        elif key in allowed:
            out[key] = value
        else:
            rep.removed(f"{path}.{key}", value, T.REMOVED_KEY_REASONS.get(key, reason if _known(key) else None))
    return out


_KNOWN_MEM0_KEYS = {
    "model", "api_key", "embedding_dims", "ollama_base_url", "openai_base_url", "huggingface_base_url",
    "azure_kwargs", "vertex_credentials_json", "lmstudio_base_url", "aws_access_key_id", "aws_secret_access_key",
    "aws_region", "temperature", "max_tokens", "deepseek_base_url", "xai_base_url", "sarvam_base_url",
    "vllm_base_url", "openrouter_base_url", "collection_name", "embedding_model_dims", "client", "host", "port",
    "path", "url", "on_disk", "connection_string", "dbname", "user", "password", "index_name", "environment",
    "namespace", "cloud", "region", "metric", "serverless_config", "pod_config", "hybrid_search", "diskann",
    "hnsw", "minimal_connections", "maximal_connections", "redis_url", "token", "db_name", "mongo_uri",
    "cluster_name", "api_base", "distance_strategy", "normalize_L2", "batch_size", "database", "username",
}


def _known(key: str) -> bool:
    return key in _KNOWN_MEM0_KEYS or key.endswith("_base_url")


def _model(cfg: dict, provider: str, defaults: dict) -> Optional[str]:
    model = cfg.get("model") or defaults.get(provider)
    if model is not None and not isinstance(model, str):
        raise ConfigError(f"model must be a model name string, got {type(model).__name__}.")
    return model


def _compat_endpoint(provider: str, cfg: dict, path: str, rep) -> Optional[str]:
    """Base URL of an OpenAI-compatible server standing in for a mem0 provider (None: no endpoint)."""
    if provider.startswith("azure_openai"):
        kwargs = cfg.get("azure_kwargs") or {}
        if not isinstance(kwargs, dict):
            raise ConfigError(f"{path}.config.azure_kwargs must be a mapping, got {type(kwargs).__name__}.")
        endpoint = kwargs.get("azure_endpoint")
        if not (isinstance(endpoint, str) and endpoint):
            return None
        url = endpoint.rstrip("/") + "/openai/v1/"
        rep.change(f"{path}.config.azure_kwargs.azure_endpoint -> {path}.config.base_url", endpoint, url,
                   "Azure OpenAI's OpenAI-compatible v1 API")
        return url
    if provider == "huggingface":
        url = cfg.get("huggingface_base_url")
        if url is not None and not isinstance(url, str):
            raise ConfigError(f"{path}.config.huggingface_base_url must be a URL string, got {url!r}.")
        if url:
            rep.change(f"{path}.config.huggingface_base_url -> {path}.config.base_url", url, url,
                       "a Text Embeddings Inference server speaks the OpenAI embeddings API")
        return url
    url_key, default, _ = T.OPENAI_COMPATIBLE[provider]
    url = cfg.get(url_key) if url_key else None
    if url is not None and (not isinstance(url, str) or not url.strip()):
        raise ConfigError(f"{path}.config.{url_key} must be a URL such as {default!r}, got {url!r}.")
    if url is None:
        url = default
        rep.change(f"{path}.config.base_url", None, url, f"mem0's default {provider} endpoint made explicit")
    else:
        given = url
        if provider == "ollama" and not url.rstrip("/").endswith("/v1"):
            url = url.rstrip("/") + "/v1"  # Ollama's OpenAI-compatible API lives under /v1
        rep.change(f"{path}.config.{url_key} -> {path}.config.base_url", given, url,
                   "memlab's name for the server URL" + (" (Ollama's OpenAI-compatible API is under /v1)"
                                                         if url != given else ""))
    return url


def _openai_via(provider: str, cfg: dict, url: str, path: str, rep, fields: set, model: Optional[str]) -> dict:
    """Map a provider reached through an OpenAI-compatible URL onto memlab's openai provider."""
    consumed = {"model", T.OPENAI_COMPATIBLE.get(provider, (None,))[0], "huggingface_base_url", "azure_kwargs"}
    out = _keep({k: v for k, v in cfg.items() if k not in consumed}, f"{path}.config", fields, {}, rep,
                f"a setting of {provider} with no equivalent in memlab's openai provider")
    out["base_url"] = url
    if model is not None:
        if cfg.get("model") != model:
            rep.change(f"{path}.config.model", cfg.get("model"), model,
                       f"mem0's default {provider} model made explicit" if cfg.get("model") is None
                       else "the litellm provider prefix is not part of the model name")
        out["model"] = model
    if provider.startswith("azure_openai"):
        kwargs = cfg.get("azure_kwargs") or {}
        if kwargs.get("api_key") and "api_key" not in out:
            out["api_key"] = kwargs["api_key"]
            rep.change(f"{path}.config.azure_kwargs.api_key -> {path}.config.api_key", kwargs["api_key"],
                       kwargs["api_key"], "memlab's name for the key")
        if kwargs.get("azure_deployment"):
            out["model"] = kwargs["azure_deployment"]
            rep.change(f"{path}.config.azure_kwargs.azure_deployment -> {path}.config.model", kwargs["azure_deployment"],
                       kwargs["azure_deployment"], "Azure's v1 API takes the deployment name as the model")
        for key in kwargs:
            if key not in ("azure_endpoint", "azure_deployment") and not (key == "api_key" and out.get("api_key")):
                rep.removed(f"{path}.config.azure_kwargs.{key}", kwargs[key], "not needed by Azure's OpenAI-compatible v1 API")
    rep.change(f"{path}.provider", provider, "openai", f"{provider} is served through its OpenAI-compatible API at {url}")
    env = T.OPENAI_COMPATIBLE.get(provider, (None, None, None))[2]
    if "api_key" not in out and provider not in T.LOCAL_SERVERS and provider != "huggingface":
        rep.warn(f"{path}: set {path}.config.api_key to your {provider} key"
                 + (f" (mem0 read ${env})" if env else "") + "; otherwise memlab sends $OPENAI_API_KEY to that server.")
    return out


# ----------------------------------------------------------------------------- top level
V10_CLIENT_CHANGE = (
    "client code must read the list from response['results'] of add() / get_all() / search() "
    "(v1.0 returned the bare list), e.g. `for m in memory.search(q, user_id=u)['results']:`"
)


def version(data: dict, rep, keep_version: bool = False) -> Optional[str]:
    value, api = data.get("version"), data.get("api_version")
    if api is not None:
        if value is None:
            value = api
            rep.change("api_version -> version", api, api, "mem0's older name of the API version setting")
        else:
            rep.removed("api_version", api, "superseded by version (both given)")
    if value is None:
        return None
    if value not in ("v1.0", "v1.1"):
        raise ConfigError(f"version {value!r} is not an API version; allowed: 'v1.0', 'v1.1'.")
    if value == "v1.0" and keep_version:
        rep.warn("version 'v1.0' is kept (keep_version=True): add/get_all/search return bare lists and emit a "
                 "DeprecationWarning (mem0 2.x silently ignores it). Migrate without keep_version to move to "
                 "'v1.1'; then " + V10_CLIENT_CHANGE + ".")
    elif value == "v1.0":
        rep.change("version", "v1.0", "v1.1", "v1.0 (bare lists from add/get_all/search) is deprecated; "
                   "v1.1 is the current format (mem0 2.x only has v1.1)")
        rep.warn("version v1.0 -> v1.1: " + V10_CLIENT_CHANGE + ". To stay on v1.0 for now, migrate with "
                 "keep_version=True (`memlab config migrate --keep-version`).")
        value = "v1.1"
    return value


def prompts(data: dict, out: dict, rep) -> None:
    for key in ("custom_prompt", "custom_fact_extraction_prompt", "custom_update_memory_prompt", "custom_instructions"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ConfigError(f"{key} must be a string, got {type(data[key]).__name__}.")
    for key in ("custom_fact_extraction_prompt", "custom_update_memory_prompt", "custom_instructions"):
        if data.get(key) is not None:
            out[key] = data[key]
    old = data.get("custom_prompt")
    if old is not None:
        if out.get("custom_fact_extraction_prompt") is None:
            out["custom_fact_extraction_prompt"] = old
            rep.change("custom_prompt -> custom_fact_extraction_prompt", old, old, "mem0 0.1.x name of this prompt")
        else:
            rep.removed("custom_prompt", old, "superseded by custom_fact_extraction_prompt (both given)")
            rep.warn("custom_prompt and custom_fact_extraction_prompt were both given; "
                     "custom_fact_extraction_prompt is kept.")
    if out.get("custom_instructions") is not None and out.get("custom_fact_extraction_prompt") is not None:
        rep.warn("custom_instructions (mem0 2.x) and custom_fact_extraction_prompt are both kept; "
                 "mem0 2.x ignores custom_fact_extraction_prompt, memlab does not.")


def embedder(value: Any, rep) -> tuple[Optional[dict], tuple[Optional[int], bool, str]]:
    """memlab's embedder block and (dims, dims_known, model name)."""
    if value is None:
        return None, (384, True, "all-MiniLM-L6-v2")
    provider, cfg, _ = _split(value, "embedder", rep)
    provider = provider or _default_provider("embedder", cfg, rep)
    if provider == "minilm":
        return {"provider": "minilm", "config": cfg}, (384, True, "all-MiniLM-L6-v2")
    if provider == "hash":
        return {"provider": "hash", "config": cfg}, (cfg.get("embedding_dims", 384), True, "hash")
    if provider not in T.MEM0_EMBEDDERS:
        raise ConfigError(f"embedder.provider {provider!r} is not known; memlab runs: minilm, hash, openai; "
                          f"mem0 providers it maps: {', '.join(sorted(T.MEM0_EMBEDDERS - {'openai'}))}.")
    model = _model(cfg, provider, T.MEM0_DEFAULT_EMBEDDER_MODEL)
    key = T.model_key(model) if model else ""
    src_dims = cfg.get("embedding_dims")
    known = T.KNOWN_EMBEDDING_DIMS.get(key)
    fields = EMBEDDER_FIELDS["openai"]
    if provider == "openai":
        out = _keep(cfg, "embedder.config", fields, T.EMBEDDER_RENAMES, rep, "no equivalent in memlab's openai embedder")
        return {"provider": "openai", "config": out}, (src_dims or known, bool(src_dims or known), model)
    remote = cfg.get("huggingface_base_url") if provider == "huggingface" else None
    if provider in MINILM_SOURCES and key in T.MINILM_NAMES and not remote:
        rep.change("embedder.provider", provider, "minilm",
                   f"{model} is all-MiniLM-L6-v2, bundled with memlab and run offline")
        for k, v in cfg.items():
            if k == "embedding_dims" and v == 384:
                continue
            reason = ("all-MiniLM-L6-v2 produces 384-d vectors" if k == "embedding_dims"
                      else "the bundled model's name is all-MiniLM-L6-v2" if k == "model"
                      else T.REMOVED_KEY_REASONS.get(k, f"a setting of {provider} the bundled model does not need"))
            rep.change(f"embedder.config.{k}", v, "all-MiniLM-L6-v2" if k == "model" else None, reason)
        if provider == "ollama":
            rep.warn("embedder: Ollama's all-minilm is replaced by memlab's bundled all-MiniLM-L6-v2; its vectors "
                     "may differ slightly from Ollama's GGUF conversion, so re-embed when importing old data.")
        return {"provider": "minilm", "config": {"embedding_dims": 384} if src_dims == 384 else {}}, (384, True, model)
    url = None
    if provider in T.OPENAI_COMPATIBLE or provider in ("azure_openai", "huggingface"):
        url = _compat_endpoint(provider, cfg, "embedder", rep)
    if url:
        sent = provider.startswith("azure_openai")  # only Azure's API was sent mem0's embedding_dims
        body = {k: v for k, v in cfg.items() if sent or k != "embedding_dims"}
        out = _openai_via(provider, body, url, "embedder", rep, fields, model)
        if src_dims is not None and not sent:
            rep.change("embedder.config.embedding_dims", src_dims, None,
                       "mem0 used it only to size the vector store; it now sizes vector_store.config.embedding_model_dims")
        if sent and src_dims:  # Azure was asked for this size (dimensions=...), so it is the real one
            return {"provider": "openai", "config": out}, (src_dims, True, model)
        return {"provider": "openai", "config": out}, (known or src_dims, bool(known), model)
    rep.change("embedder.provider", provider, "minilm", f"memlab cannot run {provider} model {model or '(default)'}; bundled offline model instead")
    for k, v in cfg.items():
        rep.change(f"embedder.config.{k}", v, None, T.REMOVED_KEY_REASONS.get(k, f"a setting of {provider}"))
    rep.warn(f"embedder: {provider} model {model or '(default)'} is replaced by the bundled all-MiniLM-L6-v2 (384-d). "
             "Vectors from the old store are not comparable: re-embed from text when importing (memlab import).")
    return {"provider": "minilm", "config": {}}, (384, True, "all-MiniLM-L6-v2")


def llm(value: Any, path: str, rep) -> Optional[dict]:
    if value is None:
        return None
    provider, cfg, _ = _split(value, path, rep)
    provider = provider or _default_provider("llm", cfg, rep)
    fields = LLM_FIELDS["openai"]
    if provider == "rules":
        return {"provider": "rules", "config": cfg}
    if provider in ("openai", "openai_structured"):
        out = _keep(cfg, f"{path}.config", fields, T.LLM_RENAMES, rep, "no equivalent in memlab's openai LLM")
        if provider == "openai_structured":
            rep.change(f"{path}.provider", provider, "openai", "structured outputs become JSON mode")
            out["json_mode"] = True
            out.setdefault("model", T.MEM0_DEFAULT_LLM_MODEL[provider])
        if "openrouter_base_url" in cfg and "api_key" not in out:
            rep.warn(f"{path}: set {path}.config.api_key to your OpenRouter key (mem0 read $OPENROUTER_API_KEY).")
        return {"provider": "openai", "config": out}
    if provider not in T.MEM0_LLMS:
        raise ConfigError(f"{path}.provider {provider!r} is not known; memlab runs: rules, openai; "
                          f"mem0 providers it maps: {', '.join(sorted(T.MEM0_LLMS - {'openai'}))}.")
    model = _model(cfg, provider, T.MEM0_DEFAULT_LLM_MODEL)
    target = provider
    if provider == "litellm":
        prefix, _, rest = (model or "").partition("/")
        target = T.LITELLM_PREFIXES.get(prefix, "openai" if not rest else "")
        model = rest if rest and target else model
    if target == "openai":
        out = _keep({k: v for k, v in cfg.items() if k != "model"}, f"{path}.config", fields, T.LLM_RENAMES, rep,
                    f"a setting of {provider}")
        out["model"] = model
        if cfg.get("model") != model:
            rep.change(f"{path}.config.model", cfg.get("model"), model,
                       "mem0's default litellm model made explicit" if cfg.get("model") is None
                       else "the litellm provider prefix is not part of the model name")
        rep.change(f"{path}.provider", provider, "openai", f"litellm model {model} is an OpenAI model")
        return {"provider": "openai", "config": out}
    url = None
    if target in T.OPENAI_COMPATIBLE or target.startswith("azure_openai"):
        url = _compat_endpoint(target, cfg, path, rep)
    if url:
        out = _openai_via(target, cfg, url, path, rep, fields, model)
        if provider == "litellm":
            out["model"] = model
        if target.startswith("azure_openai") and provider.endswith("_structured"):
            out["json_mode"] = True
        return {"provider": "openai", "config": out}
    rep.change(f"{path}.provider", provider, "rules", f"memlab cannot call {provider}; the offline rules LLM instead")
    for k, v in cfg.items():
        rep.change(f"{path}.config.{k}", v, None, f"a setting of {provider}; the rules LLM has none")
    rep.warn(f"{path}: {provider} is replaced by the offline 'rules' LLM (heuristic fact extraction). For LLM "
             "quality, point provider 'openai' at an OpenAI-compatible gateway with base_url.")
    return {"provider": "rules", "config": {}}


def vector_store(value: Any, rep) -> Optional[dict]:
    if value is None:
        return None
    provider, cfg, _ = _split(value, "vector_store", rep)
    provider = provider or _default_provider("vector_store", cfg, rep)
    if provider not in T.MEM0_VECTOR_STORES:
        raise ConfigError(f"vector_store.provider {provider!r} is not known; memlab runs: faiss, pgvector; "
                          f"mem0 stores it maps: {', '.join(sorted(T.MEM0_VECTOR_STORES - {'faiss', 'pgvector'}))}.")
    if provider == "faiss":
        strategy = cfg.get("distance_strategy", "cosine")
        if strategy not in ("cosine", "euclidean", "inner_product"):
            raise ConfigError(f"vector_store.config.distance_strategy {strategy!r} is invalid; "
                              "allowed: 'cosine' (memlab), or mem0's 'euclidean', 'inner_product'.")
        if strategy != "cosine":
            cfg["distance_strategy"] = "cosine"
            rep.change("vector_store.config.distance_strategy", strategy, "cosine",
                       "memlab scores are cosine similarities (higher = closer)")
            if strategy == "euclidean":
                rep.warn("vector_store: distance_strategy 'euclidean' became 'cosine'. Scores now mean the opposite "
                         "(higher = closer, in [-1, 1]); thresholds tuned on euclidean distances do not carry over: "
                         "re-tune them (see memlab.evaluate threshold sweeps).")
            else:
                rep.warn("vector_store: distance_strategy 'inner_product' became 'cosine'; rankings are unchanged "
                         "for normalised embeddings, but scores of unnormalised ones change: re-check thresholds.")
        out = _keep(cfg, "vector_store.config", FAISS_FIELDS, {}, rep, "no equivalent in memlab's store")
        return {"provider": "faiss", "config": out}
    if provider == "pgvector":  # memlab runs it (memlab[pg]): mem0's keys carry over as they are
        out = _keep(cfg, "vector_store.config", PGVECTOR_FIELDS, {}, rep, "a pgvector setting memlab does not use")
        return {"provider": "pgvector", "config": out}
    out = {}
    for k, v in cfg.items():
        if k == "collection_name" and isinstance(v, str) and v:
            out[k] = v
        elif k == "embedding_model_dims":
            out[k] = v
        else:
            rep.removed(f"vector_store.config.{k}", v,
                        f"a connection/storage setting of {provider}; memlab's store is local (SQLite + FAISS)")
    rep.change("vector_store.provider", provider, "faiss", f"memlab does not run {provider}; its own store instead")
    rep.warn(f"vector_store: memlab does not run {provider}. Memories stored there are not read: import them into "
             "memlab's store (`memlab import`). The store is kept in memory until vector_store.config.path is set.")
    return {"provider": "faiss", "config": out}
