"""The LLM protocol the infer=True pipeline talks to.

A provider does three jobs, each returning an :class:`LLMReply` whose ``payload`` is the
raw answer: a string for chat models (parsed robustly by :mod:`memlab.llms.parsing`) or
already-structured data for the offline ``rules`` provider. Keeping the raw payload lets
``add(..., return_trace=True)`` show exactly what the model said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

EmbedFn = Callable[[Sequence[str]], np.ndarray]


@dataclass
class LLMReply:
    """One answer of a provider.

    Attributes:
        payload: the raw reply (text from a chat model; a dict from ``rules``).
        request: what was sent (chat messages), for the trace.
        attempts: earlier replies rejected as unparsable and retried, oldest first.
        notes: remarks of the provider (e.g. "rules ignores custom prompts").
    """

    payload: Any
    request: Any = None
    attempts: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@runtime_checkable
class LLM(Protocol):
    """What ``Memory(llm=...)`` accepts: any object with these three methods and a ``name``."""

    name: str

    def extract_facts(self, messages: list[dict], *, prompt: Optional[str] = None,
                      instructions: Optional[str] = None) -> LLMReply:  # pragma: no cover - protocol
        """Facts worth remembering in a conversation: payload ``{"facts": [...]}``."""
        ...

    def decide_updates(self, memories: list[dict], facts: list[str], *, prompt: Optional[str] = None,
                       embed: Optional[EmbedFn] = None) -> LLMReply:  # pragma: no cover - protocol
        """ADD / UPDATE / DELETE / NONE per fact against ``memories`` (``{"id": "0", "text": ...}``):
        payload ``{"memory": [{"id", "text", "event", "old_memory"?}]}``."""
        ...

    def summarize_procedure(self, messages: list[dict], *,
                            prompt: Optional[str] = None) -> LLMReply:  # pragma: no cover - protocol
        """A procedural summary of an agent's run: payload is the summary text."""
        ...
