"""Data tables behind :func:`memlab.config_migration.migrate_config` (no logic here).

Each table records what a mem0 provider or key *meant* and where memlab's equivalent lives,
so the migration can map faithfully and explain every change.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- embedding sizes
# Output size of known embedding models. Keys are normalised by ``model_key`` (lower case,
# organisation prefix and ":latest" removed). mem0 defaults to 1536 whatever the model.
KNOWN_EMBEDDING_DIMS: dict[str, int] = {
    # OpenAI
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    # sentence-transformers / Hugging Face
    "all-minilm-l6-v2": 384,
    "all-minilm-l12-v2": 384,
    "paraphrase-minilm-l6-v2": 384,
    "multi-qa-minilm-l6-cos-v1": 384,
    "all-mpnet-base-v2": 768,
    "multi-qa-mpnet-base-dot-v1": 768,
    "paraphrase-multilingual-minilm-l12-v2": 384,
    "bge-small-en-v1.5": 384,
    "bge-base-en-v1.5": 768,
    "bge-large-en-v1.5": 1024,
    "bge-m3": 1024,
    "gte-small": 384,
    "gte-base": 768,
    "gte-large": 1024,
    "e5-small-v2": 384,
    "e5-base-v2": 768,
    "e5-large-v2": 1024,
    "multilingual-e5-small": 384,
    "multilingual-e5-base": 768,
    "multilingual-e5-large": 1024,
    "nomic-embed-text-v1": 768,
    "nomic-embed-text-v1.5": 768,
    "nomic-embed-text-v1.5.f16.gguf": 768,
    "jina-embeddings-v2-small-en": 512,
    "jina-embeddings-v2-base-en": 768,
    # Ollama tags
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
    "snowflake-arctic-embed": 1024,
    "bge-large": 1024,
    # Google
    "text-embedding-004": 768,
    "text-embedding-005": 768,
    "text-multilingual-embedding-002": 768,
    "gemini-embedding-001": 3072,
    "embedding-001": 768,
    # AWS Bedrock
    "amazon.titan-embed-text-v1": 1536,
    "amazon.titan-embed-text-v2:0": 1024,
    "cohere.embed-english-v3": 1024,
    # Together
    "m2-bert-80m-8k-retrieval": 768,
    # more sentence-transformers / Ollama models mem0 users configure
    "paraphrase-mpnet-base-v2": 768,
    "mxbai-embed-large-v1": 1024,
    "snowflake-arctic-embed-xs": 384,
    "snowflake-arctic-embed-s": 384,
    "snowflake-arctic-embed-m": 768,
    "snowflake-arctic-embed-l": 1024,
    "bge-small-en": 384,
    "bge-base-en": 768,
    "granite-embedding": 384,
    # Cohere, Voyage, Mistral (through OpenAI-compatible gateways)
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
    "cohere.embed-multilingual-v3": 1024,
    "voyage-3": 1024,
    "voyage-3-large": 1024,
    "voyage-3-lite": 512,
    "mistral-embed": 1024,
}

# Names under which all-MiniLM-L6-v2 (memlab's bundled offline model) appears.
MINILM_NAMES = {"all-minilm-l6-v2", "all-minilm", "all-minilm:22m", "all-minilm:l6-v2"}

# mem0's default model per embedder provider (used when a legacy block names none).
MEM0_DEFAULT_EMBEDDER_MODEL: dict[str, str] = {
    "openai": "text-embedding-3-small",
    "azure_openai": "text-embedding-3-small",
    "huggingface": "multi-qa-MiniLM-L6-cos-v1",
    "ollama": "nomic-embed-text",
    "lmstudio": "nomic-ai/nomic-embed-text-v1.5-GGUF/nomic-embed-text-v1.5.f16.gguf",
    "together": "togethercomputer/m2-bert-80M-8k-retrieval",
    "gemini": "models/text-embedding-004",
    "vertexai": "text-embedding-004",
    "fastembed": "thenlper/gte-large",
    "aws_bedrock": "amazon.titan-embed-text-v1",
}

# mem0's default chat model per LLM provider (memlab's openai default would be wrong elsewhere).
MEM0_DEFAULT_LLM_MODEL: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "openai_structured": "gpt-4o-2024-08-06",
    "azure_openai": "gpt-4o",
    "ollama": "llama3.1:70b",
    "groq": "llama3-70b-8192",
    "together": "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "deepseek": "deepseek-chat",
    "xai": "grok-2-latest",
    "gemini": "gemini-2.0-flash",
    "anthropic": "claude-3-5-sonnet-20240620",
    "lmstudio": "lmstudio-community/Meta-Llama-3.1-70B-Instruct-GGUF/Meta-Llama-3.1-70B-Instruct-IQ2_M.gguf",
    "vllm": "Qwen/Qwen2.5-32B-Instruct",
    "litellm": "gpt-4o-mini",
}


def model_key(model: str) -> str:
    """Normalise a model name for the tables: ``BAAI/bge-m3:latest`` -> ``bge-m3``."""
    key = model.strip().lower()
    if key.endswith(":latest"):
        key = key[: -len(":latest")]
    if "/" in key:
        key = key.rsplit("/", 1)[1]
    return key


# ----------------------------------------------------------------------------- OpenAI-compatible endpoints
# provider -> (mem0 config key holding its base URL, default URL, environment variable mem0 read the key from)
OPENAI_COMPATIBLE: dict[str, tuple[str | None, str, str | None]] = {
    "ollama": ("ollama_base_url", "http://localhost:11434/v1", None),
    "lmstudio": ("lmstudio_base_url", "http://localhost:1234/v1", None),
    "vllm": ("vllm_base_url", "http://localhost:8000/v1", None),
    "together": (None, "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "groq": (None, "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "deepseek": ("deepseek_base_url", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "xai": ("xai_base_url", "https://api.x.ai/v1", "XAI_API_KEY"),
    "gemini": (None, "https://generativelanguage.googleapis.com/v1beta/openai/", "GOOGLE_API_KEY"),
    "anthropic": (None, "https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY"),
}
LOCAL_SERVERS = {"ollama", "lmstudio", "vllm"}

# litellm model prefixes -> the OpenAI-compatible provider above ("openai" = api.openai.com).
LITELLM_PREFIXES = {
    "openai": "openai", "ollama": "ollama", "ollama_chat": "ollama", "groq": "groq", "deepseek": "deepseek",
    "together_ai": "together", "xai": "xai", "gemini": "gemini", "anthropic": "anthropic",
    "hosted_vllm": "vllm", "lm_studio": "lmstudio",
}

# ----------------------------------------------------------------------------- known mem0 providers
MEM0_EMBEDDERS = {
    "openai", "ollama", "huggingface", "azure_openai", "gemini", "vertexai", "together", "lmstudio",
    "langchain", "aws_bedrock", "fastembed", "sentence_transformers", "sentence-transformers",
    "sentence_transformer",
}
MEM0_LLMS = {
    "openai", "openai_structured", "ollama", "groq", "together", "aws_bedrock", "litellm", "azure_openai",
    "azure_openai_structured", "gemini", "deepseek", "xai", "sarvam", "lmstudio", "vllm", "langchain",
    "anthropic",
}
MEM0_VECTOR_STORES = {
    "qdrant", "chroma", "pgvector", "pinecone", "mongodb", "milvus", "baidu", "redis", "valkey",
    "elasticsearch", "opensearch", "supabase", "weaviate", "azure_ai_search", "azure_mysql", "upstash_vector",
    "vertex_ai_vector_search", "langchain", "databricks", "s3_vectors", "cassandra", "neptune", "faiss",
}
GRAPH_ALIASES = {"neptunedb": "neptune", "neptune-db": "neptune", "neptune_analytics": "neptune"}
GRAPH_UNSUPPORTED = {"falkordb"}

# ----------------------------------------------------------------------------- key renames and removals
EMBEDDER_RENAMES = {"openai_base_url": "base_url"}
LLM_RENAMES = {"openai_base_url": "base_url", "openrouter_base_url": "base_url"}

# Why a mem0 key has no memlab equivalent (anything not listed gets a generic reason).
REMOVED_KEY_REASONS: dict[str, str] = {
    "http_client_proxies": "memlab's OpenAI client has no proxy setting; set HTTPS_PROXY in the environment",
    "model_kwargs": "model keyword arguments of a local Hugging Face model; memlab's bundled model takes none",
    "top_p": "memlab's openai LLM sends only temperature and max_tokens",
    "top_k": "memlab's openai LLM sends only temperature and max_tokens",
    "enable_vision": "memlab stores text memories only; images are not described",
    "vision_details": "memlab stores text memories only; images are not described",
    "models": "OpenRouter fallback models are not supported; one model is used",
    "route": "OpenRouter routing is not supported; one model is used",
    "site_url": "OpenRouter ranking header, not sent by memlab",
    "app_name": "OpenRouter ranking header, not sent by memlab",
    "normalize_L2": "memlab always L2-normalises vectors (scores are cosine similarities)",
    "memory_add_embedding_type": "Vertex AI task types are not used by memlab's embedders",
    "memory_update_embedding_type": "Vertex AI task types are not used by memlab's embedders",
    "memory_search_embedding_type": "Vertex AI task types are not used by memlab's embedders",
    "output_dimensionality": "Gemini-specific output size; memlab infers dimensions from the model",
    "lmstudio_response_format": "LM Studio response format; memlab asks for JSON itself",
    "response_format": "memlab's openai LLM asks for JSON itself (see json_mode)",
}

# Top-level keys of other mem0 products that are not part of an OSS MemoryConfig.
TOP_LEVEL_REASONS: dict[str, str] = {
    "enable_graph": "mem0 platform project flag; in memlab a graph is configured with graph_store",
    "custom_categories": "mem0 platform categories are not applied to a local memory",
    "retrieval_criteria": "mem0 platform retrieval criteria; use search(threshold=...) and memlab's evaluation",
    "includes": "mem0 platform project setting, not applied locally",
    "excludes": "mem0 platform project setting, not applied locally",
    "org_id": "mem0 platform credentials; memlab runs locally",
    "project_id": "mem0 platform credentials; memlab runs locally",
    "api_key": "mem0 platform credentials; memlab runs locally",
    "host": "mem0 platform host; memlab runs locally",
}

SECRET_MARKERS = ("api_key", "password", "secret", "token", "access_key", "connection_string", "credentials")
