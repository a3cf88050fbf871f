"""Sentence embeddings on ONNX Runtime: tokenizer -> transformer (ONNX) -> mean pooling -> L2 norm.

The same pipeline as sentence-transformers (same tokenizer file, truncation at the model's
``max_seq_length``, mean pooling over the attention mask, normalisation), so fp32 vectors equal
PyTorch's to float rounding.

Threads: the session runs on at most :data:`QUERY_THREADS` intra-op threads that sleep instead of spinning
between calls. A query (or any small input) runs in the caller's thread on that pool, so a search never wakes
a crowd of spinning threads that fight other processes for the cores (torch's default oversubscribes a busy
2-core machine: 145 ms per query instead of ~10). Measured with the bundled model on 2 cores, a 300-memory
``m.search`` p50: one thread 10.9 / 11.1 / 13.3 ms idle / one core held / both held; two sleeping threads
8.6 / 9.3 / 12.6 ms. A larger batch is cut into length-sorted chunks; with more cores than the session's
threads, chunks run concurrently on worker threads (ONNX Runtime releases the GIL and a session may run from
several threads at once), so bulk embedding uses every core without oversubscribing them.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

SMALL_INPUT = 8  # at most this many texts run inline, in the caller's thread
QUERY_THREADS = 2  # intra-op threads of the session (fewer if fewer cores)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what an exported BERT may take


def default_threads() -> int:
    """Cores this process may use (affinity-aware), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OnnxSentenceEncoder:
    """Encodes texts with an exported transformer (see memlab.embedders.onnx_export)."""

    def __init__(self, onnx_file: Path, tokenizer_file: Path, max_length: int, *, threads: Optional[int] = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # tokenizer.json may carry a fixed padding/truncation of its own (all-MiniLM-L6-v2's: 128);
        # sentence-transformers truncates at max_seq_length and pads to the longest text
        self.tokenizer.enable_truncation(max_length=max_length)
        pad_id = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
        self.threads = max(1, int(threads or default_threads()))
        self.intra = min(QUERY_THREADS, self.threads)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.intra
        opts.inter_op_num_threads = 1
        # idle pool threads sleep: spinning ones would compete with other processes (and other sessions)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.workers = max(1, self.threads // self.intra)  # concurrent chunks of a batch
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pool_lock = threading.Lock()

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.input_names and k in INPUTS})[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if len(texts) <= SMALL_INPUT:
            return self._run(texts)
        # length-sorted chunks pad little; chunks small enough that every worker gets some
        order = np.argsort([-len(t) for t in texts], kind="stable")
        size = max(1, min(batch_size, -(-len(texts) // self.workers)))
        chunks = [order[i:i + size] for i in range(0, len(order), size)]
        work = lambda idx: self._run([texts[i] for i in idx])  # noqa: E731
        parts = list(map(work, chunks)) if len(chunks) == 1 or self.workers == 1 else list(
            self._executor().map(work, chunks))
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        for idx, part in zip(chunks, parts):
            out[idx] = part
        return out

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="memlab-embed")
            return self._pool
