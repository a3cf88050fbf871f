"""One way to build an ``openai`` client for every OpenAI-compatible provider (embedder, LLM, reranker).

The key comes from the config or ``$OPENAI_API_KEY``; with neither, a ``base_url`` of a local
OpenAI-compatible server is enough (such servers usually ignore the key).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from memlab.errors import ConfigError


def make_openai_client(component: str, *, api_key: Optional[str], base_url: Optional[str], timeout: float,
                       max_retries: int) -> Any:
    """An ``openai.OpenAI`` client for ``component`` (``"embedder"``, ``"llm"``, ...).

    Raises:
        ConfigError: the openai package is missing, or there is neither a key nor a base_url.
    """
    try:
        import openai
    except ImportError:
        raise ConfigError(f"The 'openai' {component} needs the openai package (pip install openai).") from None
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        if not base_url:
            raise ConfigError(
                f"The 'openai' {component} needs an api_key ({component}.config.api_key or $OPENAI_API_KEY), "
                "or a base_url of an OpenAI-compatible server."
            )
        key = "not-needed"
    return openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)
