"""``openai``: embeddings from any OpenAI-compatible endpoint (``base_url``)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from memlab.errors import ProviderError
from memlab.openai_client import make_openai_client

# Known output sizes, so a store never defaults to a wrong dimension (mem0 assumes 1536).
KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class OpenAIEmbedder:
    """Calls ``POST {base_url}/embeddings`` through the ``openai`` client."""

    def __init__(self, model: str = "text-embedding-3-small", api_key: Optional[str] = None,
                 base_url: Optional[str] = None, embedding_dims: Optional[int] = None,
                 timeout: float = 30.0, max_retries: int = 2, batch_size: int = 256):
        self.model = model
        self.base_url = base_url
        self.requested_dims = embedding_dims
        self.batch_size = batch_size
        self._client = make_openai_client("embedder", api_key=api_key, base_url=base_url, timeout=timeout,
                                          max_retries=max_retries)
        self.name = f"openai:{model}"
        self._dims = embedding_dims or KNOWN_DIMS.get(model)

    @property
    def dims(self) -> int:
        if self._dims is None:
            # Unknown model and no configured size: ask the server once.
            self._dims = int(self.embed(["dimension probe"]).shape[1])
        return self._dims

    def embed(self, texts: Sequence[str], purpose: str = "add") -> np.ndarray:
        import openai

        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = [t.replace("\n", " ") for t in texts[start : start + self.batch_size]]
            kwargs = {"model": self.model, "input": chunk}
            if self.requested_dims and not self.model.endswith("ada-002"):
                kwargs["dimensions"] = self.requested_dims
            try:
                resp = self._client.embeddings.create(**kwargs)
            except openai.APIError as exc:
                raise ProviderError(f"Embedding request to {self.base_url or 'OpenAI'} failed: {exc}") from None
            except Exception as exc:  # connection refused, timeouts
                raise ProviderError(f"Embedding request to {self.base_url or 'OpenAI'} failed: {exc}") from None
            data = sorted(resp.data, key=lambda d: d.index)
            if len(data) != len(chunk):
                raise ProviderError(f"Embedding server returned {len(data)} vectors for {len(chunk)} texts.")
            out.extend(d.embedding for d in data)
        arr = np.asarray(out, dtype=np.float32)
        if self._dims is None and arr.ndim == 2:
            self._dims = arr.shape[1]
        return arr
