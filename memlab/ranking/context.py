"""Conversational context of raw messages: what each memory is indexed with besides its text.

Messages stored together with one ``add([...], infer=False)`` call form a conversation. Each
memory keeps its *context window*: the lines ``"<speaker>: <text>"`` of the messages from
``window`` before to ``window`` after it in that call, its own line included, joined by
newlines. The window is stored in the ``context`` column (schema 0005) together with its
embedding (``context_vector``), and feeds the two context channels of search (BM25 over the
window, cosine to the window's embedding). It is never returned as the memory's text.

The speaker of a line is the message's ``name`` (memlab's ``actor_id``) or else its role, so
"who said it" is searchable ("What did Ana say about ...?"). A memory added alone, imported
without a context, or whose text was changed by ``update()`` has no context; its context
channels then use its own text and vector.

    >>> build_contexts([{"role": "user", "content": "hi", "name": "Ana"},
    ...                 {"role": "assistant", "content": "hello"}], window=1)
    ['Ana: hi\\nassistant: hello', 'Ana: hi\\nassistant: hello']
"""

from __future__ import annotations

from typing import Optional, Sequence

DEFAULT_WINDOW = 2


def speaker_line(msg: dict) -> str:
    """``"<name or role>: <content>"`` of one normalised message."""
    who = msg.get("name") or msg.get("role") or "user"
    return f"{who}: {msg['content']}"


def build_contexts(msgs: Sequence[dict], window: int = DEFAULT_WINDOW) -> list[Optional[str]]:
    """The context window of each message (None for every message when ``window`` is 0 or the
    call holds a single message: there is no conversation to add)."""
    if window <= 0 or len(msgs) < 2:
        return [None] * len(msgs)
    lines = [speaker_line(m) for m in msgs]
    return ["\n".join(lines[max(0, i - window): i + window + 1]) for i in range(len(lines))]


def keyword_document(memory: Optional[str], actor: Optional[str]) -> str:
    """What the memory BM25 channel indexes: the speaker's name and the memory text."""
    memory = memory or ""
    return f"{actor} {memory}" if actor else memory


def context_document(memory: Optional[str], actor: Optional[str], context: Optional[str]) -> str:
    """What the context BM25 channel indexes: the context window, else the memory document."""
    return context if context else keyword_document(memory, actor)
