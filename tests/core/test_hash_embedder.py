"""The ``hash`` embedder's fast path (features built line by line from a line cache, n-grams that cross a line
or a "speaker: " break computed from the joined words, counts by Counter, one numpy pass per batch) gives exactly
the vector of the embedder's definition computed one feature at a time: bit for bit, for single texts, batches,
context windows and every n-gram setting."""

from __future__ import annotations

import hashlib
import math
import random
import re

import numpy as np
import pytest

from memlab.embedders.hashing import HashEmbedder


def reference(text: str, dims: int, ngram_range=(1, 2), char_ngrams: int = 3) -> np.ndarray:
    """The module docstring's definition, feature by feature, with no caches."""
    words = re.findall(r"[\w']+", text.lower())
    feats: list[tuple[str, float]] = []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        feats += [("w:" + " ".join(words[i:i + n]), 1.0) for i in range(len(words) - n + 1)]
    if char_ngrams:
        for w in words:
            padded = f"<{w}>"
            feats += [("c:" + padded[i:i + char_ngrams], 0.5) for i in range(max(1, len(padded) - char_ngrams + 1))]
    if not feats:
        feats = [("empty:", 1.0)]
    counts: dict[str, list] = {}
    for f, weight in feats:  # first-seen order
        counts.setdefault(f, [0, weight])[0] += 1
    out = np.zeros(dims, dtype=np.float32)
    for f, (count, weight) in counts.items():
        value = int.from_bytes(hashlib.blake2b(f.encode("utf-8"), digest_size=8).digest(), "little")
        sign = 1.0 if (value >> 63) & 1 else -1.0
        tf = count * weight
        out[value % dims] += np.float32(sign * (1.0 + math.log(tf)) if tf >= 1 else sign * tf)
    norm = np.linalg.norm(out[None, :], axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    return (out[None, :] / norm)[0]


def _texts(seed: int, k: int) -> list[str]:
    rng = random.Random(seed)
    vocab = "the a I went hiking near lake dog café don't it's 42 Caroline Melanie ΣΊΣΥΦΟΣ support group".split()
    out = []
    for _ in range(k):
        lines = [rng.choice(["user: ", "Ana: ", "", "  ", "x: y: "]) + " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 8)))
                 + rng.choice(["", ".", " -", ":"]) for _ in range(rng.randint(1, 6))]
        out.append(rng.choice(["\n", "\n\n", " \n"]).join(lines))
    return out + ["", "\n", "\n\n a", "b\n", "one", "a: b", "a:\nb", ": x"]


@pytest.mark.parametrize("kw", [{}, {"ngram_range": (1, 3)}, {"ngram_range": (2, 3)}, {"char_ngrams": 0},
                                {"ngram_range": (1, 1), "char_ngrams": 4}])
def test_vectors_are_the_definition_bit_for_bit(kw):
    texts = _texts(7, 300)
    expected = np.stack([reference(t, 64, **kw) for t in texts])
    emb = HashEmbedder(64, **kw)
    assert np.array_equal(emb.embed(texts), expected)  # one batch (numpy path, line cache filled)
    assert np.array_equal(np.stack([emb.embed([t])[0] for t in texts[:80]]), expected[:80])  # one by one, cached
    fresh = HashEmbedder(64, **kw)
    assert np.array_equal(np.stack([fresh.embed([t])[0] for t in texts[:80]]), expected[:80])  # cold caches


def test_a_conversation_and_its_windows_match_the_definition():
    from memlab.ranking.context import build_contexts

    msgs = [{"role": "user" if j % 2 == 0 else "assistant", "content": f"message {j}: I went hiking near lake {j % 7}",
             "name": "Ana" if j % 3 == 0 else None} for j in range(12)]
    msgs = [{k: v for k, v in m.items() if v is not None} for m in msgs]
    windows = [c for c in build_contexts(msgs, 2) if c]
    texts = [m["content"] for m in msgs] + windows
    emb = HashEmbedder(384)
    assert np.array_equal(emb.embed(texts), np.stack([reference(t, 384) for t in texts]))


def test_the_line_cache_is_bounded(monkeypatch):
    emb = HashEmbedder(32)
    monkeypatch.setattr(HashEmbedder, "_MAX_LINES", 8)
    texts = [f"line {i}\nother {i}" for i in range(40)]
    assert np.array_equal(emb.embed(texts), np.stack([reference(t, 32) for t in texts]))
    assert len(emb._lines) <= 8


def test_the_small_call_path_and_the_batch_path_agree_bit_for_bit(monkeypatch):
    """A call of few features is summed in Python (float32 values into a float32 array), a larger one by numpy's
    ``add.at``: both give the definition's vector, repeated features (tf > 1, log weights) included."""
    texts = ["the the the cat cat sat", "don't don't stop", "a", "", "ΣΊΣΥΦΟΣ σίσυφος ΣΊΣΥΦΟΣ"] + _texts(3, 20)
    expected = np.stack([reference(t, 48) for t in texts])
    small = HashEmbedder(48)
    assert np.array_equal(small.embed(texts[:3]), expected[:3])  # a few texts in one small call
    assert np.array_equal(np.stack([small.embed([t])[0] for t in texts]), expected)
    monkeypatch.setattr(HashEmbedder, "_SMALL", 0)  # every call through numpy
    assert np.array_equal(HashEmbedder(48).embed(texts[:3]), expected[:3])
    monkeypatch.setattr(HashEmbedder, "_SMALL", 1 << 30)  # every call through Python
    assert np.array_equal(HashEmbedder(48).embed(texts), expected)
