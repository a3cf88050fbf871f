"""LLM registry: ``rules`` (offline default, deterministic) and ``openai`` (any OpenAI-compatible server).

Providers are chosen by an explicit factory, so a typo in a provider name is a
:class:`~memlab.errors.ConfigError` when the LLM is first needed, never a dotted-path import at run time.
"""

from __future__ import annotations

from memlab.errors import ConfigError
from memlab.llms.base import LLM, LLMReply

PROVIDERS = ("rules", "openai")


def create_llm(provider: str, config: dict | None = None) -> LLM:
    """Build an LLM from a provider name and its settings (see ``memlab.config.LLM_SETTINGS``)."""
    from memlab.config import LLM_SETTINGS
    from pydantic import ValidationError as PydanticValidationError

    if provider not in PROVIDERS:
        raise ConfigError(f"Unknown llm provider {provider!r}; allowed: {', '.join(PROVIDERS)}.")
    try:
        settings = LLM_SETTINGS[provider](**(config or {}))
    except PydanticValidationError as exc:
        raise ConfigError(f"llm.config for provider {provider!r} is invalid: {exc}") from None
    if provider == "rules":
        from memlab.llms.rules import RulesLLM

        return RulesLLM(**settings.model_dump())
    from memlab.llms.openai import OpenAILLM

    return OpenAILLM(**settings.model_dump())


__all__ = ["LLM", "LLMReply", "PROVIDERS", "create_llm"]
