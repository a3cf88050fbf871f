"""Typed exceptions raised by memlab.

Every error a user can trigger by passing bad input is a :class:`ValidationError`
(which is also a :class:`ValueError`, so code written for mem0's ``ValueError``
keeps working). Messages say what was wrong and how to fix it.
"""

from __future__ import annotations


class MemlabError(Exception):
    """Base class of every memlab error."""


class ValidationError(MemlabError, ValueError):
    """Bad input to a public call. Nothing was written."""


class NotFoundError(ValidationError, LookupError):
    """A memory id (or other named object) does not exist."""


class ConfigError(ValidationError):
    """A configuration is invalid or cannot be migrated."""


class EmbeddingError(MemlabError):
    """An embedder failed or returned unusable vectors (NaN/inf, wrong shape)."""


class ProviderError(MemlabError):
    """A remote provider (OpenAI-compatible server) failed: HTTP error, timeout, bad reply."""


class StoreError(MemlabError):
    """The on-disk store is unreadable, locked beyond the timeout, or inconsistent."""


class ConflictError(StoreError):
    """A write collides with rows already in the store (an id or history id that exists). Nothing was written."""


class MigrationError(MemlabError):
    """A data or schema migration could not be carried out. Nothing was written."""


__all__ = [
    "MemlabError",
    "ValidationError",
    "NotFoundError",
    "ConfigError",
    "EmbeddingError",
    "ProviderError",
    "StoreError",
    "ConflictError",
    "MigrationError",
]
