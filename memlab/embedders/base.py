"""The embedder protocol and output checks shared by every provider."""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from memlab.errors import ConfigError, EmbeddingError, MemlabError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    Attributes:
        name: identity of the model, recorded in the store (vectors of two different
            models are not comparable, so a store refuses a different embedder).
        dims: vector size.
    """

    name: str
    dims: int

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:  # pragma: no cover - protocol
        """Return an array of shape ``(len(texts), dims)``; ``purpose`` is "add" or "search"."""
        ...


def check_vectors(vectors, n: int, dims: int | None, who: str) -> np.ndarray:
    """Validate and L2-normalise an embedder's output.

    Raises:
        EmbeddingError: wrong shape, NaN/inf values or all-zero vectors.
    """
    if isinstance(vectors, np.ndarray) and vectors.dtype == np.float32:
        arr = vectors
    else:
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf: rejected below
                arr = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(f"Embedder {who!r} returned something that is not a numeric array: {exc}") from None
    if arr.ndim == 1 and n == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise EmbeddingError(
            f"Embedder {who!r} returned shape {tuple(arr.shape)} for {n} text(s); expected ({n}, dims)."
        )
    if dims is not None and arr.shape[1] != dims:
        raise EmbeddingError(
            f"Embedder {who!r} returned {arr.shape[1]}-d vectors but the store holds {dims}-d vectors. "
            "Use the embedder the store was built with, or re-embed the store into a new one."
        )
    if arr.shape[1] == 0:
        raise EmbeddingError(f"Embedder {who!r} returned empty vectors.")
    # float64 norms (what np.linalg.norm computes, without its overhead): huge (1e38) or tiny (1e-40) float32
    # values would overflow/underflow to inf/0 in float32 and silently yield all-zero "normalised" vectors.
    # A NaN or infinite value makes its row's norm NaN or inf (float64 squares of float32 values cannot
    # overflow), so one check of the norms finds them.
    wide = arr.astype(np.float64)
    norms = np.sqrt(np.add.reduce(wide * wide, axis=1, keepdims=True))
    if not np.isfinite(norms).all():
        raise EmbeddingError(f"Embedder {who!r} returned NaN or infinite values; nothing was written.")
    if (norms == 0).any():
        raise EmbeddingError(f"Embedder {who!r} returned an all-zero vector; it cannot be compared by cosine.")
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


def check_embedder(embedder: Any) -> int:
    """An embedder object has ``name``, ``dims`` (a positive int) and ``embed``; returns ``dims``.

    Raises:
        ConfigError: what the object lacks.
    """
    for attr in ("name", "dims", "embed"):
        if not hasattr(embedder, attr):
            raise ConfigError(f"embedder object must have a '{attr}' attribute.")
    dims = embedder.dims
    if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
        raise ConfigError(f"embedder.dims must be a positive integer, got {dims!r}.")
    return int(dims)


def embed_checked(embedder: Any, texts: Sequence[str], purpose: str, dims: int) -> np.ndarray:
    """``embedder.embed(texts, purpose)``, checked (finite, ``dims`` wide) and L2-normalised.

    A custom embedder's own exception becomes an :class:`EmbeddingError` (nothing is written yet).
    """
    texts = list(texts)
    if not texts:
        return np.zeros((0, dims), dtype=np.float32)
    try:
        raw = embedder.embed(texts, purpose)
    except MemlabError:
        raise
    except Exception as exc:
        raise EmbeddingError(f"Embedder {embedder.name!r} failed: {type(exc).__name__}: {exc}") from exc
    return check_vectors(raw, len(texts), dims, str(embedder.name))
