"""``hash``: a deterministic lexical hashing embedder that needs no model.

Each text becomes a bag of lower-cased word n-grams and (optionally) character n-grams of
words; every feature is hashed with BLAKE2b (stable across processes, unlike ``hash()``)
into one of ``dims`` buckets with a sign bit, weighted by ``1 + log(tf)``, then
L2-normalised. Cosine between two vectors approximates the overlap of their vocabularies:
useful for fast tests of mechanics and for huge sweeps, not for semantic retrieval.
"""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache
from typing import Sequence

import numpy as np

_WORD = re.compile(r"[\w']+", re.UNICODE)


@lru_cache(maxsize=1 << 18)
def _bucket(feature: str, dims: int) -> tuple[int, float]:
    """(bucket, sign) of a feature; cached because real text repeats its features a lot."""
    value = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return value % dims, (1.0 if (value >> 63) & 1 else -1.0)


class HashEmbedder:
    """Deterministic hashing embedder (see module docstring)."""

    def __init__(self, embedding_dims: int = 384, ngram_range=(1, 2), char_ngrams: int = 3):
        self.dims = int(embedding_dims)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.char_ngrams = int(char_ngrams)
        self.name = f"hash:{self.dims}:{self.ngram_range[0]}-{self.ngram_range[1]}:c{self.char_ngrams}"

    def _features(self, text: str) -> dict:
        """Feature -> weight (word n-grams count 1, character n-grams 0.5), in first-seen order."""
        words = _WORD.findall(text.lower())
        feats: dict = {}
        get = feats.get
        lo, hi = self.ngram_range
        for n in range(lo, hi + 1):
            for i in range(len(words) - n + 1):
                key = "w:" + " ".join(words[i : i + n])
                feats[key] = get(key, 0) + 1
        if self.char_ngrams:
            for w in words:
                for key in _char_grams(w, self.char_ngrams):
                    feats[key] = get(key, 0) + 0.5
        if not feats:
            feats["empty:"] = 1
        return feats

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        flat: list[int] = []
        values: list[float] = []
        dims = self.dims
        for row, text in enumerate(texts):
            base = row * dims
            for feat, tf in self._features(text).items():
                bucket, sign = _bucket(feat, dims)
                flat.append(base + bucket)
                values.append(sign * (1.0 + math.log(tf)) if tf >= 1 else sign * tf)
        # one unbuffered float32 accumulation in feature order: the same sums as adding one by one
        np.add.at(out.reshape(-1), np.asarray(flat, dtype=np.int64), np.asarray(values, dtype=np.float32))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


@lru_cache(maxsize=1 << 16)
def _char_grams(word: str, k: int) -> tuple[str, ...]:
    """The character k-gram features of one word (with < > boundaries); cached: words repeat."""
    padded = f"<{word}>"
    return tuple("c:" + padded[i : i + k] for i in range(max(1, len(padded) - k + 1)))
