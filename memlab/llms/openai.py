"""``openai``: any OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp, Ollama).

HTTP errors and timeouts become :class:`~memlab.errors.ProviderError`. Replies that are
not valid JSON are retried up to ``max_retries`` times with a short correction message;
the final reply is returned as is and the pipeline reports it if it still cannot be read.
"""

from __future__ import annotations

from typing import Callable, Optional

from memlab import prompts
from memlab.errors import ProviderError
from memlab.llms.base import EmbedFn, LLMReply
from memlab.llms.parsing import ReplyParseError, parse_decisions, parse_facts
from memlab.openai_client import make_openai_client


class OpenAILLM:
    """Chat completions through the ``openai`` client.

    Args:
        model: model name the server knows.
        api_key: default ``$OPENAI_API_KEY``; local servers (``base_url`` set) need none.
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        temperature / max_tokens: sampling settings sent with every call.
        timeout: seconds per HTTP request.
        max_retries: extra attempts when a reply is not valid JSON.
        http_retries: the client's own retries of HTTP 5xx / connection errors / timeouts.
        json_mode: send ``response_format={"type": "json_object"}`` on JSON calls.
    """

    def __init__(self, model: str = "gpt-4o-mini", api_key: Optional[str] = None, base_url: Optional[str] = None,
                 temperature: float = 0.0, max_tokens: Optional[int] = None, timeout: float = 60.0,
                 max_retries: int = 1, json_mode: bool = False, http_retries: int = 2):
        self.model = model
        self.base_url = base_url
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.max_retries = max_retries
        self.json_mode = json_mode
        self.name = f"openai:{model}"
        self._client = make_openai_client("llm", api_key=api_key, base_url=base_url, timeout=timeout,
                                          max_retries=http_retries)

    def __repr__(self) -> str:
        return f"OpenAILLM(model={self.model!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------------ plain chat
    def complete(self, messages: list[dict], *, json_mode: bool = False) -> str:
        """One chat completion; returns the assistant's text.

        Raises:
            ProviderError: HTTP error, timeout, connection failure or a reply without choices.
        """
        return self._create(messages, json_mode=json_mode).content or ""

    def call_tools(self, messages: list[dict], tools: list[dict]) -> list[dict]:
        """One chat completion offering ``tools``; the tool calls as ``{"name", "arguments"}``.

        ``arguments`` is the raw JSON string the model wrote (the caller parses it, so a
        malformed call can be reported instead of crashing).
        """
        message = self._create(messages, tools=tools)
        calls = getattr(message, "tool_calls", None) or []
        return [{"name": c.function.name, "arguments": c.function.arguments or ""} for c in calls
                if getattr(c, "function", None) is not None]

    def _create(self, messages: list[dict], *, json_mode: bool = False, tools: Optional[list] = None):
        import openai

        kwargs: dict = {"model": self.model, "messages": messages, "temperature": self.temperature}
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        if tools:
            kwargs["tools"] = tools
        where = self.base_url or "api.openai.com"
        try:
            resp = self._client.chat.completions.create(**kwargs)
        except openai.APITimeoutError:
            raise ProviderError(
                f"The LLM server at {where} did not answer within {self.timeout:g} s (model {self.model!r}). "
                "Raise llm.config.timeout or check the server."
            ) from None
        except openai.APIStatusError as exc:
            detail = getattr(exc, "message", None) or str(exc)
            raise ProviderError(
                f"The LLM server at {where} answered HTTP {exc.status_code} for model {self.model!r}: {detail}"
            ) from None
        except openai.APIConnectionError as exc:
            raise ProviderError(f"Cannot reach the LLM server at {where}: {exc}") from None
        except openai.OpenAIError as exc:
            raise ProviderError(f"LLM request to {where} failed: {exc}") from None
        choices = getattr(resp, "choices", None) or []
        if not choices:
            raise ProviderError(f"The LLM server at {where} returned no choices for model {self.model!r}.")
        return choices[0].message

    def _json_call(self, messages: list[dict], check: Callable[[str], object]) -> LLMReply:
        """Ask, and re-ask up to ``max_retries`` times while ``check`` cannot parse the reply."""
        attempts: list[str] = []
        convo = list(messages)
        while True:
            text = self.complete(convo, json_mode=self.json_mode)
            try:
                check(text)
                return LLMReply(payload=text, request=messages, attempts=attempts)
            except ReplyParseError as exc:
                if len(attempts) >= self.max_retries:
                    return LLMReply(payload=text, request=messages, attempts=attempts)
                attempts.append(text)
                convo = list(messages) + [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": prompts.RETRY_MESSAGE.format(error=exc)},
                ]

    # ------------------------------------------------------------------ pipeline jobs
    def extract_facts(self, messages: list[dict], *, prompt: Optional[str] = None,
                      instructions: Optional[str] = None) -> LLMReply:
        request = prompts.fact_extraction_messages(messages, custom_prompt=prompt, instructions=instructions)
        return self._json_call(request, parse_facts)

    def decide_updates(self, memories: list[dict], facts: list[str], *, prompt: Optional[str] = None,
                       embed: Optional[EmbedFn] = None) -> LLMReply:
        request = prompts.update_memory_messages(memories, facts, custom_prompt=prompt)
        return self._json_call(request, parse_decisions)

    def summarize_procedure(self, messages: list[dict], *, prompt: Optional[str] = None) -> LLMReply:
        request = prompts.procedural_messages(messages, custom_prompt=prompt)
        return LLMReply(payload=self.complete(request), request=request)
