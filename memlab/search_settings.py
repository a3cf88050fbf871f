"""Search settings of a Memory, resolved once from its config: analyzer, BM25, context, fusion, reranker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from memlab.errors import ConfigError, ValidationError
from memlab.store.analyzer import Analyzer
from memlab.store.fusion import check_weights


@dataclass
class SearchSettings:
    analyzer: Analyzer
    k1: float = 0.9
    b: float = 0.4
    context_window: int = 2
    fusion_weights: dict = field(default_factory=dict)
    fusion_normalization: str = "zscore"
    reranker: Any = None
    rerank_top_n: int = 50

    @classmethod
    def from_config(cls, config, embedder: Any = None, llm: Any = None) -> "SearchSettings":
        vs = config.vector_store.settings()
        try:
            weights = check_weights(vs.fusion_weights)
        except ValidationError as exc:
            raise ConfigError(f"vector_store.config.fusion_weights: {exc}") from None
        language = None if (vs.keyword_language or "none").lower() == "none" else vs.keyword_language
        settings = cls(analyzer=Analyzer(language, vs.keyword_stop_words), k1=vs.bm25_k1, b=vs.bm25_b,
                       context_window=vs.context_window, fusion_weights=weights,
                       fusion_normalization=vs.fusion_normalization)
        if config.reranker is not None:
            from memlab.rerankers import create_reranker

            settings.reranker, settings.rerank_top_n = create_reranker(
                config.reranker.provider, config.reranker.config, llm=_reranker_llm(config, llm))
        return settings

    def keyword_args(self) -> dict:
        return {"analyzer": self.analyzer, "k1": self.k1, "b": self.b}


def _reranker_llm(config, llm: Optional[Any]):
    """The LLM an ``llm`` reranker uses: its own config block, else the Memory's openai LLM."""
    if config.reranker.config.get("llm") or config.reranker.config.get("base_url"):
        return None  # create_reranker builds one from the reranker's own settings
    if llm is not None:
        return llm
    if config.llm.provider == "openai":
        from memlab.llms import create_llm

        return create_llm("openai", config.llm.config)
    return None
