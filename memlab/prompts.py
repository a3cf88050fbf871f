"""Prompt texts of the infer=True pipeline and the builders that fill them in.

The output formats follow mem0's (``{"facts": [...]}`` and ``{"memory": [{"id", "text",
"event", "old_memory"}]}``) so that a ``custom_fact_extraction_prompt`` or
``custom_update_memory_prompt`` written for mem0 keeps working.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Optional, Sequence

FACT_EXTRACTION_PROMPT = """\
You are a careful personal-information organiser. From the conversation you are given, extract the \
facts worth remembering about the user: preferences, personal details (names, relationships, \
important dates), plans and intentions, activities, health and wellness, profession, and any \
other stable information. Write each fact as a short third-person statement without a subject, \
for example "Loves sushi", "Lives in Berlin", "Name is Alice".

Rules:
- Extract facts from the user's messages only; ignore what the assistant or system says.
- Skip greetings, small talk, questions and requests to the assistant.
- Keep each fact self-contained and in the language the user wrote in.
- Today's date is {today}.

Reply with JSON only, exactly in this form: {{"facts": ["fact one", "fact two"]}}
If there is nothing worth remembering, reply {{"facts": []}}."""

UPDATE_MEMORY_PROMPT = """\
You manage a memory store. You are given the existing memories (each with an id) and newly \
extracted facts. Decide for every new fact one of four operations:
- ADD: the fact is new information -> add it (give it a new id).
- UPDATE: the fact changes or refines an existing memory about the same thing (for example \
"Lives in Paris" and "Moved to Berlin") -> keep that memory's id and give the new text.
- DELETE: the fact contradicts an existing memory or says it is no longer true -> that memory's id.
- NONE: the fact is already stored (same meaning) -> that memory's id, unchanged.
Only use ids from the existing memories for UPDATE, DELETE and NONE; never invent ids."""

UPDATE_MEMORY_FORMAT = """\
Existing memories:
{memories}

New facts:
{facts}

Reply with JSON only, in this form:
{{"memory": [{{"id": "0", "text": "memory text", "event": "ADD|UPDATE|DELETE|NONE", "old_memory": "previous text (UPDATE only)"}}]}}"""

PROCEDURAL_MEMORY_PROMPT = """\
You summarise an AI agent's run so that the agent can repeat or continue it later. Write a \
concise procedural summary in plain text:
- Task: what the agent was asked to do.
- Steps: a numbered list of the actions the agent took, each with its key result (keep exact \
values such as URLs, file names, numbers and errors).
- Outcome: where the run ended and what remains to be done.
Reply with the summary only, no preamble."""


def format_conversation(messages: Sequence[dict]) -> str:
    """``role: content`` lines (system messages included, names shown) as the models see them."""
    lines = []
    for m in messages:
        who = m["role"] if not m.get("name") else f"{m['role']} ({m['name']})"
        lines.append(f"{who}: {m['content']}")
    return "\n".join(lines)


def fact_extraction_messages(messages: Sequence[dict], *, custom_prompt: Optional[str] = None,
                             instructions: Optional[str] = None, today: Optional[str] = None) -> list[dict]:
    """Chat messages of the fact-extraction call.

    Args:
        custom_prompt: replaces the system prompt (mem0's ``custom_fact_extraction_prompt``
            or ``prompt=`` of one ``add`` call); it must ask for ``{"facts": [...]}``.
        instructions: extra instructions appended to the system prompt (mem0 2.x
            ``custom_instructions``).
    """
    system = custom_prompt if custom_prompt is not None else FACT_EXTRACTION_PROMPT.format(
        today=today or date.today().isoformat()
    )
    if instructions:
        system = f"{system}\n\nAdditional instructions:\n{instructions}"
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Input:\n{format_conversation(messages)}"},
    ]


def update_memory_messages(memories: Sequence[dict], facts: Sequence[str], *,
                           custom_prompt: Optional[str] = None) -> list[dict]:
    """Chat messages of the decision call; ``memories`` are ``{"id": "<temp int>", "text": ...}``."""
    system = custom_prompt if custom_prompt is not None else UPDATE_MEMORY_PROMPT
    body = UPDATE_MEMORY_FORMAT.format(
        memories=json.dumps(list(memories), ensure_ascii=False, indent=1) if memories else "(none)",
        facts=json.dumps(list(facts), ensure_ascii=False, indent=1),
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": body}]


def procedural_messages(messages: Sequence[dict], *, custom_prompt: Optional[str] = None) -> list[dict]:
    """Chat messages of the procedural-summary call."""
    return [
        {"role": "system", "content": custom_prompt if custom_prompt is not None else PROCEDURAL_MEMORY_PROMPT},
        {"role": "user", "content": f"Agent run:\n{format_conversation(messages)}"},
    ]


RETRY_MESSAGE = (
    "Your previous reply could not be read as JSON ({error}). Reply again with the JSON object only, "
    "no code fences and no other text."
)
