"""Pydantic configuration models (see docs/config.md).

``MemoryConfig`` mirrors mem0's hierarchical config: ``{"provider": ..., "config": {...}}``
blocks for the embedder, the LLM and the vector store, plus ``version``, ``graph_store`` and
custom prompts. Unlike mem0, every block's ``config`` is validated against the provider's
own schema, unknown keys are errors (never silently dropped) and embedding dimensions are
inferred from the embedder instead of defaulting to 1536.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from memlab.errors import ConfigError

_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- embedders
class MiniLMEmbedderSettings(BaseModel):
    """Settings of the bundled all-MiniLM-L6-v2 embedder (offline)."""

    model_config = _STRICT
    model: str = Field("all-MiniLM-L6-v2", description="Informational model name.")
    model_path: Optional[str] = Field(None, description="Folder of a sentence-transformers model (default: bundled).")
    batch_size: int = Field(64, ge=1, le=4096)
    embedding_dims: Optional[int] = Field(None, description="Must be 384 if given.")
    cache_path: Optional[str] = Field(None, description="SQLite file caching vectors by (model, text hash).")
    backend: Literal["onnx", "onnx-int8", "torch"] = Field("onnx", description="Runtime (docs/config.md).")
    threads: Optional[int] = Field(None, ge=1, le=256, description="Threads for batches; queries use one.")
    query_cache_size: int = Field(1024, ge=0, le=1_000_000, description="LRU of search-query vectors (0: off).")
    onnx_cache_dir: Optional[str] = Field(None, description="Folder of the ONNX exports (docs/config.md).")

class HashEmbedderSettings(BaseModel):
    """Settings of the deterministic lexical hashing embedder (no model)."""

    model_config = _STRICT
    embedding_dims: int = Field(384, ge=8, le=8192, description="Vector size.")
    ngram_range: tuple[int, int] = Field((1, 2), description="Word n-gram sizes hashed into the vector.")
    char_ngrams: int = Field(3, ge=0, le=8, description="Character n-gram size (0 disables).")
    cache_path: Optional[str] = Field(None, description="SQLite file caching vectors by (model, text hash).")


class OpenAIEmbedderSettings(BaseModel):
    """Settings of an OpenAI-compatible embeddings endpoint."""

    model_config = _STRICT
    model: str = Field("text-embedding-3-small")
    api_key: Optional[str] = Field(None, description="Default: $OPENAI_API_KEY.")
    base_url: Optional[str] = Field(None, description="Any OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    embedding_dims: Optional[int] = Field(None, ge=1, description="Requested/expected vector size.")
    timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(2, ge=0)
    batch_size: int = Field(256, ge=1)
    cache_path: Optional[str] = Field(None, description="SQLite file caching vectors by (model, text hash).")


EMBEDDER_SETTINGS: dict[str, type[BaseModel]] = {
    "minilm": MiniLMEmbedderSettings,
    "hash": HashEmbedderSettings,
    "openai": OpenAIEmbedderSettings,
}


# --------------------------------------------------------------------------- llms
class RulesLLMSettings(BaseModel):
    """Settings of the offline, deterministic ``rules`` LLM."""

    model_config = _STRICT
    duplicate_threshold: float = Field(0.9, ge=-1, le=1, description="Cosine above which a fact is a duplicate (NONE).")
    same_subject_threshold: float = Field(0.5, ge=-1, le=1, description="Cosine above which two facts may be about the same subject.")


class OpenAILLMSettings(BaseModel):
    """Settings of an OpenAI-compatible chat-completions endpoint."""

    model_config = _STRICT
    model: str = Field("gpt-4o-mini")
    api_key: Optional[str] = Field(None, description="Default: $OPENAI_API_KEY.")
    base_url: Optional[str] = Field(None)
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: Optional[int] = Field(None, ge=1)
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(1, ge=0, description="Retries of a reply that is not valid JSON.")
    json_mode: bool = Field(False, description="Ask the server for response_format=json_object.")
    http_retries: int = Field(2, ge=0, description="Retries of HTTP 5xx / connection errors / timeouts.")


LLM_SETTINGS: dict[str, type[BaseModel]] = {"rules": RulesLLMSettings, "openai": OpenAILLMSettings}


# --------------------------------------------------------------------------- vector store
# Default channel weights of fusion search, chosen on the LoCoMo dev split (docs/engine.md, "Search
# stack"): each context channel counts twice its plain channel (a conversational turn is mostly
# understood through its neighbours); the 0/1 speaker and time channels (constant -> contribute 0
# when the query names no speaker / no date) are worth 2. The plain/context/speaker weights won every
# leave-one-conversation-out fold of a grid over 0.5..2; for time, 4 of 5 folds of a grid over
# 0.5..4 picked 2 (the fifth 1 or 3).
# BM25 (Anserini's defaults): the one source for both engines, the settings and memlab.ranking.bm25
DEFAULT_BM25_K1, DEFAULT_BM25_B = 0.9, 0.4
DEFAULT_FUSION_WEIGHTS = {"dense": 0.5, "dense_context": 1.0, "keyword": 0.5, "keyword_context": 1.0,
                          "speaker": 2.0, "time": 2.0}


class SearchStackSettings(BaseModel):
    """The search stack's settings, shared by every engine (context, fusion and BM25 run on both)."""

    model_config = _STRICT
    keyword_language: Optional[str] = Field(
        "english", description="Snowball stemming language of keyword search (and its stop list); 'none': no stemming."
    )
    keyword_stop_words: bool = Field(True, description="Drop the language's stop words in keyword search.")
    bm25_k1: float = Field(DEFAULT_BM25_K1, ge=0, description="BM25 term-frequency saturation (0.9: Anserini's default).")
    bm25_b: float = Field(DEFAULT_BM25_B, ge=0, le=1, description="BM25 length normalisation (0.4: Anserini's default).")
    context_window: int = Field(
        2, ge=0, le=20, description="Messages before/after each message of one add(infer=False) call that are "
        "indexed as its context (0: no context)."
    )
    fusion_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_FUSION_WEIGHTS), description=(
        "Channel weights of fusion search (dense, dense_context, keyword, keyword_context, speaker, time)."))
    fusion_normalization: Literal["zscore", "minmax"] = Field("zscore", description="Per-channel score normalisation.")
    calibration: Optional[str] = Field(None, description="Relevance calibration: a JSON file from `memlab calibrate`; "
                                       "None: the one shipped for the embedder (minilm, hash; else generic).")


class FaissStoreSettings(SearchStackSettings):
    """Settings of memlab's store (SQLite + pandas + FAISS)."""

    model_config = _STRICT
    path: Optional[str] = Field(None, description="Store directory; None keeps everything in memory.")
    collection_name: str = Field("memlab")
    embedding_model_dims: Optional[int] = Field(None, ge=1, description="Checked against the embedder if given.")
    distance_strategy: Literal["cosine"] = Field("cosine", description="Scores are cosine similarities.")
    busy_timeout_ms: int = Field(30_000, ge=0)
    exact_subset_max: int = Field(
        20_000, ge=0, description="Filtered searches over at most this many rows use numpy; larger use FAISS."
    )
    search_mode: Literal["fusion", "dense", "hybrid", "keyword"] = Field(
        "fusion", description="Default ranking of Memory.search: fusion (normalised CombSUM of dense, keyword and "
        "their context channels), cosine only, RRF of cosine + BM25, or BM25 only."
    )


class PgvectorStoreSettings(SearchStackSettings):
    """PostgreSQL + pgvector (``memlab[pg]``), with mem0's pgvector keys; see docs/engines.md."""

    model_config = _STRICT
    connection_string: Optional[str] = Field(None, description="postgresql://user:password@host:port/dbname; wins.")
    host: Optional[str] = None
    port: Optional[int] = Field(None, ge=1, le=65535)
    user: Optional[str] = None
    password: Optional[str] = None
    dbname: Optional[str] = None
    sslmode: Optional[str] = Field(None, description="libpq sslmode (disable, require, verify-full, ...).")
    path: Optional[str] = Field(None, description="A data directory where memlab runs PostgreSQL itself (pgserver).")
    collection_name: str = Field("memlab", description="The memories table (its companions use it as a prefix).")
    embedding_model_dims: Optional[int] = Field(None, ge=1, description="Checked against the embedder if given.")
    hnsw: bool = Field(False, description="Create an HNSW index, used by dense searches of large scopes.")
    hnsw_exact_below: int = Field(10_000, ge=1, description="Scopes smaller than this stay exact (HNSW or not).")
    hnsw_ef_search: int = Field(100, ge=1, le=1000, description="hnsw.ef_search of HNSW searches (recall vs speed).")
    hnsw_m: int = Field(16, ge=2, le=100, description="HNSW build: links per node (set when the index is created).")
    hnsw_ef_construction: int = Field(64, ge=4, le=1000, description="HNSW build: candidate list size.")
    diskann: bool = Field(False, description="Create a pgvectorscale DiskANN index (needs that extension).")
    minconn: int = Field(1, ge=0, description="Connections the pool keeps open.")
    maxconn: int = Field(5, ge=1, description="Most connections the pool opens.")
    busy_timeout_ms: int = Field(30_000, ge=0, description="Longest wait for a row lock (lock_timeout).")
    search_mode: Literal["fusion", "dense", "hybrid", "keyword"] = Field(
        "fusion", description="Default ranking of Memory.search (as the faiss engine: fusion of dense, keyword and "
        "their context channels; or cosine only, RRF of cosine + BM25, BM25 only)."
    )


VECTOR_STORE_SETTINGS: dict[str, type[BaseModel]] = {"faiss": FaissStoreSettings, "pgvector": PgvectorStoreSettings}


# --------------------------------------------------------------------------- graph store
class Neo4jSettings(BaseModel):
    model_config = _STRICT
    url: str
    username: str
    password: str
    database: Optional[str] = None
    base_label: Optional[bool] = None


class NeptuneSettings(BaseModel):
    model_config = _STRICT
    endpoint: str = Field(..., description="neptune-graph://<id> or neptune-db://<host>")
    base_label: Optional[bool] = None
    collection_name: Optional[str] = None


class KuzuSettings(BaseModel):
    """mem0's embedded graph config; memlab runs it on LadybugDB, Kùzu's continuation (docs/graph.md)."""

    model_config = _STRICT
    db: Optional[str] = Field(
        None, description="Graph database file; default graph.lbug beside memlab.db, or in memory "
                          "(also with ':memory:') when the store has no path."
    )


GRAPH_STORE_SETTINGS: dict[str, type[BaseModel]] = {
    "neo4j": Neo4jSettings,
    "memgraph": Neo4jSettings,
    "neptune": NeptuneSettings,
    "kuzu": KuzuSettings,
}


def validate_block(kind: str, provider: str, config: dict, table: dict[str, type[BaseModel]]) -> dict:
    if provider not in table:
        raise ValueError(
            f"{kind}.provider {provider!r} is not supported; allowed: {', '.join(sorted(table))}"
        )
    try:
        settings = table[provider](**(config or {}))
    except PydanticValidationError as exc:
        raise ValueError(f"{kind}.config for provider {provider!r}: {_describe(exc, prefix=f'{kind}.config')}") from None
    return settings.model_dump(mode="json")


class _Block(BaseModel):
    """A ``{"provider": ..., "config": {...}}`` block whose config is validated by the provider's model."""

    model_config = _STRICT
    provider: str
    config: dict[str, Any] = Field(default_factory=dict)

    KIND: ClassVar[str] = "block"
    SETTINGS: ClassVar[dict[str, type[BaseModel]]] = {}

    @model_validator(mode="after")
    def _check(self):
        validated = validate_block(self.KIND, self.provider, self.config, self.SETTINGS)
        object.__setattr__(self, "config", {k: v for k, v in validated.items() if v is not None})
        return self

    def settings(self) -> BaseModel:
        """The provider's typed settings."""
        return self.SETTINGS[self.provider](**self.config)


class EmbedderConfig(_Block):
    """``{"provider": "minilm" | "hash" | "openai", "config": {...}}``."""

    KIND: ClassVar[str] = "embedder"
    SETTINGS: ClassVar[dict[str, type[BaseModel]]] = EMBEDDER_SETTINGS
    provider: str = Field("minilm", description="minilm (default, offline), hash, openai")


class LLMConfig(_Block):
    """``{"provider": "rules" | "openai", "config": {...}}``."""

    KIND: ClassVar[str] = "llm"
    SETTINGS: ClassVar[dict[str, type[BaseModel]]] = LLM_SETTINGS
    provider: str = Field("rules", description="rules (default, offline), openai")


class VectorStoreConfig(_Block):
    """``{"provider": "faiss", "config": {"path": ...}}``."""

    KIND: ClassVar[str] = "vector_store"
    SETTINGS: ClassVar[dict[str, type[BaseModel]]] = VECTOR_STORE_SETTINGS
    provider: str = Field("faiss", description="faiss (SQLite + pandas + FAISS) or pgvector (PostgreSQL)")


class GraphStoreConfig(_Block):
    """A graph store block: ``kuzu`` runs on the embedded engine (``memlab[graph]``); neo4j / memgraph /
    neptune blocks are accepted and run embedded too, with a warning that the server's data is not read."""

    KIND: ClassVar[str] = "graph_store"
    SETTINGS: ClassVar[dict[str, type[BaseModel]]] = GRAPH_STORE_SETTINGS
    provider: str = Field(..., description="neo4j, memgraph, neptune, kuzu")
    llm: Optional[LLMConfig] = None
    custom_prompt: Optional[str] = None
    threshold: Optional[float] = Field(None, ge=0, le=1, description="mem0's node-similarity threshold; kept.")


RERANKER_PROVIDERS = ("features", "cross_encoder", "llm",
                      "cohere", "sentence_transformer", "huggingface", "llm_reranker", "zero_entropy")


class RerankerConfig(BaseModel):
    """``reranker`` block: memlab's providers (features, cross_encoder, llm) or mem0's names (mapped,
    see memlab.rerankers). ``config.top_n`` candidates are reranked (default 50)."""

    model_config = _STRICT
    provider: Literal[RERANKER_PROVIDERS] = Field(..., description=", ".join(RERANKER_PROVIDERS))
    config: dict[str, Any] = Field(default_factory=dict)


class MemoryConfig(BaseModel):
    """The whole configuration of a :class:`memlab.Memory`.

    Example:
        >>> MemoryConfig(embedder={"provider": "hash"}, version="v1.1").embedder.provider
        'hash'
    """

    model_config = _STRICT

    version: Literal["v1.0", "v1.1"] = Field("v1.1", description="Response format: v1.1 {'results': [...]} or legacy v1.0 lists.")
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    vector_store: VectorStoreConfig = Field(default_factory=VectorStoreConfig)
    history_db_path: Optional[str] = Field(
        None, description="Accepted for mem0 compatibility; memlab keeps history inside the store's memlab.db."
    )
    graph_store: Optional[GraphStoreConfig] = Field(
        None, description="Graph memory on the embedded engine: relations in add/search/get_all (memlab[graph])."
    )
    reranker: Optional[RerankerConfig] = Field(None, description="Reranks the top candidates of every search "
                                               "(search(rerank=False) skips it).")
    custom_fact_extraction_prompt: Optional[str] = None
    custom_update_memory_prompt: Optional[str] = None
    custom_instructions: Optional[str] = Field(None, description="mem0 2.x name of extra extraction instructions.")

    @classmethod
    def from_dict(cls, data: dict) -> "MemoryConfig":
        """Validate a current-format dict, raising :class:`ConfigError` with a readable message."""
        if isinstance(data, MemoryConfig):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"A config must be a dict or MemoryConfig, got {type(data).__name__}.")
        try:
            return cls(**data)
        except PydanticValidationError as exc:
            raise ConfigError(f"Invalid memlab config: {_describe(exc)}") from None

    def to_dict(self) -> dict:
        """Plain JSON-able dict (round-trips through :meth:`from_dict`)."""
        return json.loads(self.model_dump_json(exclude_none=True))

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def load(cls, path: str | Path) -> "MemoryConfig":
        """Load a JSON or YAML file (current format; use ``migrate_config`` for legacy ones)."""
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"Config file {str(path)!r} does not exist.")
        if not path.is_file():
            raise ConfigError(f"{str(path)!r} is a directory, not a config file; pass a .json or .yaml file.")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:  # binary or unreadable: one clear error, not a traceback
            raise ConfigError(f"Cannot read config file {str(path)!r}: {exc}") from None
        data = parse_config_text(text, hint=path.suffix)
        return cls.from_dict(data)

    def save(self, path: str | Path, format: Optional[str] = None) -> Path:
        """Write JSON (default) or YAML (``.yaml``/``.yml`` or ``format="yaml"``)."""
        path = Path(path)
        fmt = format or ("yaml" if path.suffix in (".yaml", ".yml") else "json")
        if fmt == "yaml":
            import yaml

            text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        elif fmt == "json":
            text = self.to_json() + "\n"
        else:
            raise ConfigError(f"Unknown config format {fmt!r}; use 'json' or 'yaml'.")
        path.write_text(text, encoding="utf-8")
        return path


def parse_config_text(text: str, hint: str = "") -> Any:
    """Parse JSON, falling back to YAML (safe loader only)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_exc:
        if hint == ".json":
            raise ConfigError(f"Config is not valid JSON: {json_exc}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config is neither valid JSON nor valid YAML: {exc}") from None


def _describe(exc: PydanticValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "__root__")
        if prefix and loc:
            loc = f"{prefix}.{loc}"
        elif prefix:
            loc = prefix
        msg = err.get("msg", "invalid")
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key (not a field of this block)"
        elif err.get("type") == "literal_error":
            msg = f"{msg}"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


__all__ = [
    "MemoryConfig",
    "EmbedderConfig",
    "LLMConfig",
    "VectorStoreConfig",
    "GraphStoreConfig",
    "RerankerConfig",
    "EMBEDDER_SETTINGS",
    "LLM_SETTINGS",
    "VECTOR_STORE_SETTINGS",
    "GRAPH_STORE_SETTINGS",
]
