"""Cross-encoder reranker: sentence-transformers ``CrossEncoder`` from a local model folder.

Nothing is downloaded: the folder must hold a saved cross-encoder (``CrossEncoder.save(path)``
or a model snapshot). Each candidate is scored on the pair (query, memory text), or
(query, context window) with ``with_context=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from memlab.errors import ConfigError


class CrossEncoderReranker:
    def __init__(self, model: Optional[str], *, batch_size: int = 32, with_context: bool = False):
        if not model:
            raise ConfigError("The cross_encoder reranker needs reranker.config.model: the path of a local "
                              "cross-encoder folder (memlab never downloads models).")
        path = Path(str(model)).expanduser()
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ConfigError(f"Cross-encoder folder {str(path)!r} does not exist or holds no config.json; save a "
                              "model there with sentence_transformers.CrossEncoder(...).save(path).")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder must never trigger a hub lookup
        try:
            from sentence_transformers import CrossEncoder

            self.model = CrossEncoder(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # a broken folder: typed, with the cause
            raise ConfigError(f"Cannot load the cross-encoder in {str(path)!r}: {type(exc).__name__}: {exc}") from None
        self.name = f"cross_encoder:{path.name}"
        self.batch_size = batch_size
        self.with_context = with_context

    def score(self, query: str, candidates: Sequence[dict]) -> np.ndarray:
        docs = [(c.get("context") if self.with_context and c.get("context") else c["memory"]) for c in candidates]
        scores = self.model.predict([(query, d) for d in docs], batch_size=self.batch_size,
                                    show_progress_bar=False, convert_to_numpy=True)
        scores = np.asarray(scores, dtype=np.float64)
        return scores.reshape(len(candidates), -1)[:, -1]  # one logit per pair (the last if several labels)
