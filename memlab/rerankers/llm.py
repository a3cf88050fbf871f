"""LLM reranker: the configured OpenAI-compatible model rates each candidate 0-10.

One chat call per search: the query and the numbered candidates go in, a JSON object
``{"scores": [s1, s2, ...]}`` (one number per candidate, in order) comes back. Replies are parsed
robustly (code fences, chatty text); a reply without usable scores raises ProviderError rather
than silently keeping or dropping results.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from memlab.errors import ProviderError

PROMPT = (
    "You rank memories for a search. Rate how useful each memory is for answering the query, from 0 "
    "(unrelated) to 10 (answers it). Reply with JSON only: {{\"scores\": [one number per memory, in order]}}.\n\n"
    "Query: {query}\n\nMemories:\n{items}"
)


class LLMReranker:
    def __init__(self, llm):
        if not hasattr(llm, "complete"):
            raise ProviderError(f"The llm reranker needs an LLM with complete(); {llm!r} has none.")
        self.llm = llm
        self.name = f"llm:{getattr(llm, 'name', type(llm).__name__)}"

    def score(self, query: str, candidates: Sequence[dict]) -> np.ndarray:
        from memlab.llms.parsing import ReplyParseError, extract_json, snippet

        items = "\n".join(f"{i}. {c['memory']}" for i, c in enumerate(candidates, 1))
        reply = self.llm.complete([{"role": "user", "content": PROMPT.format(query=query, items=items)}],
                                  json_mode=getattr(self.llm, "json_mode", False))
        try:
            data = extract_json(reply)
        except ReplyParseError:
            raise ProviderError(f"The reranking LLM's reply holds no JSON: {snippet(reply)!r}") from None
        scores = data.get("scores") if isinstance(data, dict) else data
        if not isinstance(scores, list) or len(scores) != len(candidates):
            raise ProviderError(f"The reranking LLM must return {len(candidates)} scores, got: {snippet(reply)!r}")
        try:
            return np.asarray([float(s) for s in scores], dtype=np.float64)
        except (TypeError, ValueError):
            raise ProviderError(f"The reranking LLM's scores are not numbers: {snippet(reply)!r}") from None
