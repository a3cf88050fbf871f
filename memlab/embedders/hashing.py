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
import struct
import threading
from array import array
from functools import lru_cache
from collections import Counter
from itertools import chain
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
        self._lock = threading.Lock()  # the feature-id tables are shared by calls from several threads
        self._reset_ids()

    # Features get small integer ids (per embedder, bounded) so a whole batch is counted and summed
    # with numpy; the sums are the same float32 additions, in the same order, as one feature at a time.
    _MAX_FEATURES = 1 << 20

    def _reset_ids(self) -> None:
        self._fid: dict[str, int] = {}
        # per feature id: bucket, sign, weight (a word n-gram counts 1, a character n-gram 0.5); grown by
        # doubling, rows never change once written, so a call reads them without copying
        self._table = np.zeros((1024, 3), dtype=np.float64)
        # the same rows for the small-call path, compact (16 bytes a feature): bucket, and sign x weight
        self._buckets, self._signed = array("q"), array("d")
        self._word_ids: dict[str, tuple[int, ...]] = {}
        self._lines: dict[str, tuple] = {}

    def _id(self, feature: str, weight: float) -> int:
        fid = self._fid.get(feature)
        if fid is None:
            fid = len(self._fid)
            if fid == len(self._table):
                grown = np.zeros((2 * fid, 3), dtype=np.float64)
                grown[:fid] = self._table
                self._table = grown
            bucket, sign = _bucket(feature, self.dims)
            self._table[fid] = (bucket, sign, weight)
            self._buckets.append(bucket)
            self._signed.append(sign * weight)
            self._fid[feature] = fid
        return fid

    _MAX_LINES = 1 << 13

    def _line(self, line: str) -> tuple:
        """One line's words, its n-gram ids by n (n-grams inside the line) and its character n-gram ids;
        cached: a conversation's context windows repeat each message line in several windows."""
        got = self._lines.get(line)
        if got is not None:
            return got
        words = _WORD.findall(line)
        fid, new_id = self._fid.get, self._id
        lo, hi = self.ngram_range
        grams: dict[int, list[int]] = {}
        chars: list[int] = []
        cache = self._word_ids  # word -> (its unigram id, its character n-gram ids)
        known = [cache.get(w) for w in words]
        for i, got_ids in enumerate(known if None in known else ()):
            if got_ids is None:
                w = words[i]
                got_ids = known[i] = cache[w] = (new_id("w:" + w, 1.0), tuple(
                    new_id(f, 0.5) for f in _char_grams(w, self.char_ngrams)) if self.char_ngrams else ())
        for n in range(lo, hi + 1):
            if n == 1:
                grams[n] = [k[0] for k in known]
                continue
            keys = ["w:" + a + " " + b for a, b in zip(words, words[1:])] if n == 2 else \
                ["w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
            ids = [fid(key) for key in keys]
            if None in ids:
                ids = [new_id(key, 1.0) if got_id is None else got_id for key, got_id in zip(keys, ids)]
            grams[n] = ids
        for k in known:
            chars.extend(k[1])
        if len(self._lines) >= self._MAX_LINES:
            self._lines.clear()
        got = self._lines[line] = (words, grams, chars)
        return got

    def _feature_ids(self, text: str) -> list[int]:
        """Ids of the text's features, one per occurrence, in first-seen order: its word n-grams by n, then
        its words' character n-grams. Built line by line (a newline never sits inside a word), with the
        n-grams that cross a line break computed from the joined words."""
        lines = text.lower().split("\n")
        if len(lines) > 1:  # a context window: "speaker: message" lines; the message part is cached as itself
            lines = [part for line in lines for part in line.split(": ", 1)]
        if len(lines) == 1:
            words, grams, chars = self._line(lines[0])
            ids = [i for n in range(self.ngram_range[0], self.ngram_range[1] + 1) for i in grams[n]]
            ids.extend(chars)
        else:
            parts = [self._line(line) for line in lines]
            words = [w for p in parts for w in p[0]]
            ids = []
            fid, new_id = self._fid.get, self._id
            lo, hi = self.ngram_range
            for n in range(lo, hi + 1):
                at = 0  # the line's first word in ``words``
                for line_words, grams, _ in parts:
                    ids.extend(grams[n])
                    size = len(line_words)
                    for i in range(at + max(0, size - n + 1), min(at + size, len(words) - n + 1)):
                        key = "w:" + " ".join(words[i : i + n])  # crosses into the next line(s)
                        got = fid(key)
                        ids.append(new_id(key, 1.0) if got is None else got)
                    at += size
            for p in parts:
                ids.extend(p[2])
        if not ids:
            ids.append(self._id("empty:", 1.0))
        return ids

    # A call with at most this many (text, feature) pairs is summed in Python: numpy's per-call set-up costs
    # more than the sums of one text. Both paths give the same float32 vectors bit for bit.
    _SMALL = 512

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dims), dtype=np.float32)
        with self._lock:
            if len(self._fid) > self._MAX_FEATURES:
                self._reset_ids()
            # per text: its distinct features in first-seen order with their counts (Counter keeps order)
            per_text = [Counter(self._feature_ids(t)) for t in texts]
            table, rows = self._table, (self._buckets, self._signed)
        lens = [len(c) for c in per_text]
        if sum(lens) <= self._SMALL:
            out = _sum_small(per_text, *rows, self.dims)
        else:
            out = _sum_batch(per_text, lens, table, self.dims)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


_MAGNITUDE: dict[float, float] = {}  # tf -> |value| rounded to float32 (1 + log tf, or tf below 1)


def _magnitude(tf: float) -> float:
    got = _MAGNITUDE.get(tf)
    if got is None:
        if len(_MAGNITUDE) > 4096:
            _MAGNITUDE.clear()
        got = _MAGNITUDE[tf] = struct.unpack("f", struct.pack("f", 1.0 + math.log(tf) if tf >= 1 else tf))[0]
    return got


def _sum_small(per_text: list[Counter], buckets: array, signed: array, dims: int) -> np.ndarray:
    """The feature sums of a few texts with Python floats: each value rounded to float32 first (as
    ``astype(float32)``), then added into a float32 array in first-seen order. A float32 + float32 sum done in
    double and rounded to float32 is the float32 sum (double has more than 2 x 24 + 2 bits), so this equals
    numpy's float32 ``add.at`` bit for bit."""
    acc = array("f", bytes(4 * dims * len(per_text)))
    for r, counts in enumerate(per_text):
        base = r * dims
        for fid, count in counts.items():
            sw = signed[fid]  # a feature seen once: its value is its signed weight, exactly
            acc[base + buckets[fid]] += sw if count == 1 else math.copysign(_magnitude(count * abs(sw)), sw)
    return np.frombuffer(acc, dtype=np.float32).reshape(len(per_text), dims)


def _sum_batch(per_text: list[Counter], lens: list[int], table: np.ndarray, dims: int) -> np.ndarray:
    """The feature sums of a batch, in one numpy pass: the same float32 additions, in the same order, as one
    feature at a time."""
    out = np.zeros((len(per_text), dims), dtype=np.float32)
    total = sum(lens)
    fid = np.fromiter(chain.from_iterable(per_text), dtype=np.int64, count=total)
    counts = np.fromiter(chain.from_iterable(c.values() for c in per_text), dtype=np.float64, count=total)
    row = np.repeat(np.arange(len(per_text), dtype=np.int64), lens)
    feature = table[fid]
    tf = counts * feature[:, 2]
    tf_values, tf_index = np.unique(tf, return_inverse=True)  # a batch repeats few distinct tf values
    logs = np.array([math.log(t) for t in tf_values.tolist()])[tf_index.reshape(-1)]
    sign = feature[:, 1]
    values = np.where(tf >= 1, sign * (1.0 + logs), sign * tf)
    buckets = feature[:, 0].astype(np.int64)
    np.add.at(out.reshape(-1), row * dims + buckets, values.astype(np.float32))
    return out


@lru_cache(maxsize=1 << 16)
def _char_grams(word: str, k: int) -> tuple[str, ...]:
    """The character k-gram features of one word (with < > boundaries); cached: words repeat."""
    padded = f"<{word}>"
    return tuple("c:" + padded[i : i + k] for i in range(max(1, len(padded) - k + 1)))
