"""Embedder registry: ``minilm`` (default, offline), ``hash`` (no model), ``openai``.

Providers are chosen by an explicit factory (no dotted-string imports), so a typo in a
provider name is a config error at construction, not a surprise at run time.
"""

from __future__ import annotations

from memlab.embedders.base import Embedder, check_embedder, check_vectors, embed_checked
from memlab.errors import ConfigError


def create_embedder(provider: str, config: dict | None = None) -> Embedder:
    """Build an embedder from a provider name and its (validated) settings."""
    config = dict(config or {})
    cache_path = config.pop("cache_path", None)
    embedder = _create(provider, config)
    if cache_path:
        from memlab.embedders.cache import CachedEmbedder

        return CachedEmbedder(embedder, cache_path)
    return embedder


def _create(provider: str, config: dict) -> Embedder:
    if provider == "hash":
        from memlab.embedders.hashing import HashEmbedder

        return HashEmbedder(**config)
    if provider == "minilm":
        from memlab.embedders.minilm import MiniLMEmbedder

        return MiniLMEmbedder(**config)
    if provider == "openai":
        from memlab.embedders.openai import OpenAIEmbedder

        return OpenAIEmbedder(**config)
    raise ConfigError(f"Unknown embedder provider {provider!r}; allowed: minilm, hash, openai.")


__all__ = ["check_embedder", "embed_checked", "Embedder", "check_vectors", "create_embedder"]
