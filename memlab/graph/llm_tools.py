"""Graph extraction through an OpenAI-compatible chat model, in mem0's tool-call style.

Three calls, as in mem0's graph memory: ``extract_entities`` (entities and their types; the
scope's own id stands for I/me/my), ``establish_relationships`` (source, relationship,
destination among those entities) and ``delete_graph_memory`` (existing relations the new
text makes outdated or contradicts). Tool names and argument shapes are mem0's, so a server
or a fine-tuned model that answers mem0's graph calls answers these. The prompt texts are
memlab's own wording of the same instructions.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from memlab.graph.normalize import clean_triples, entity_name, relationship_name

ENTITIES_SYSTEM = (
    "You are a smart assistant who understands entities and their types in a given text. If the text "
    "refers to its author ('I', 'me', 'my', ...), use {self_name} as that entity. Extract all the entities "
    "from the text. ***DO NOT*** answer the question itself if the given text is a question."
)

RELATIONS_SYSTEM = """\
You build a knowledge graph from text. Capture the information accurately:

1. Extract only what the text states explicitly.
2. Establish relationships among the entities you are given.
3. Use "{self_name}" as the source entity for self-references ("I", "me", "my", ...) in user messages.
{custom}
Relationships:
    - Use consistent, general and timeless relationship types, e.g. "professor" rather than "became_professor".
    - Only relate entities that the user's message mentions explicitly.

Entity consistency:
    - Relationships must fit the context of the message.
    - Name each entity the same way everywhere.

Establish all the relationships among the entities, keeping to the user's context."""

DELETE_SYSTEM = """\
You manage a graph memory. Given the existing relationships and new information, decide which \
existing relationships must be deleted.
Use "{self_name}" as the node for self-references ("I", "me", "my", ...) in user messages.

Delete a relationship only if:
- it is outdated or inaccurate because the new information is more recent or more accurate, or
- the new information contradicts or negates it.
Do NOT delete when the same kind of relationship may simply have another destination: for \
"alice -- loves_to_eat -- pizza" and the new information "Alice also loves to eat burgers", \
delete nothing, since Alice can love both.
Prefer recency when timestamps are given, and delete only what must go.

Memory format:
source -- relationship -- destination

Call delete_graph_memory once for every relationship to delete."""

DELETE_USER = "Here are the existing memories: {existing} \n\n New Information: {text}"


def _function(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False}}}


_S = {"type": "string"}
EXTRACT_ENTITIES_TOOL = _function(
    "extract_entities", "Extract entities and their types from the text.",
    {"entities": {"type": "array", "description": "An array of entities with their types.", "items": {
        "type": "object", "properties": {"entity": _S, "entity_type": _S},
        "required": ["entity", "entity_type"], "additionalProperties": False}}},
    ["entities"])
RELATIONS_TOOL = _function(
    "establish_relationships", "Establish relationships among the entities based on the provided text.",
    {"entities": {"type": "array", "items": {
        "type": "object", "properties": {"source": _S, "relationship": _S, "destination": _S},
        "required": ["source", "relationship", "destination"], "additionalProperties": False}}},
    ["entities"])
DELETE_TOOL = _function(
    "delete_graph_memory", "Delete the relationship between two nodes.",
    {"source": _S, "relationship": _S, "destination": _S}, ["source", "relationship", "destination"])


def format_relations(relations: list[dict]) -> str:
    return "\n".join(f"{r['source']} -- {r['relationship']} -- {r['destination']}" for r in relations)


class ToolCallGraphExtractor:
    """Graph jobs over an LLM object with ``call_tools(messages, tools)`` (memlab's OpenAILLM).

    Malformed tool arguments are skipped and listed in ``problems`` (never raised mid-write).
    """

    def __init__(self, llm: Any, custom_prompt: Optional[str] = None):
        self.llm = llm
        self.custom_prompt = custom_prompt
        self.name = f"tools:{getattr(llm, 'name', type(llm).__name__)}"
        self.problems: list[str] = []
        self.calls: list[dict] = []  # (request, reply) pairs for add(..., return_trace=True)

    def _call(self, messages: list[dict], tool: dict) -> list[dict]:
        calls = self.llm.call_tools(messages, [tool])
        self.calls.append({"tool": tool["function"]["name"], "messages": messages, "reply": calls})
        out = []
        for call in calls:
            if call.get("name") != tool["function"]["name"]:
                self.problems.append(f"graph: ignored a call of unknown tool {call.get('name')!r}")
                continue
            args = call.get("arguments")
            if isinstance(args, str):
                try:
                    args = json.loads(args or "{}")
                except json.JSONDecodeError as exc:
                    self.problems.append(f"graph: {tool['function']['name']} arguments are not JSON ({exc})")
                    continue
            if not isinstance(args, dict):
                self.problems.append(f"graph: {tool['function']['name']} arguments are not an object")
                continue
            out.append(args)
        return out

    def entities(self, text: str, self_name: Optional[str]) -> dict[str, str]:
        messages = [{"role": "system", "content": ENTITIES_SYSTEM.format(self_name=self_name or "USER")},
                    {"role": "user", "content": text}]
        found: dict[str, str] = {}
        for args in self._call(messages, EXTRACT_ENTITIES_TOOL):
            for item in args.get("entities") or []:
                if not isinstance(item, dict):
                    continue
                name = entity_name(item.get("entity"))
                if name in ("i", "me", "my", "user") and self_name:
                    name = self_name
                if name:
                    found.setdefault(name, relationship_name(item.get("entity_type")) or "entity")
        return found

    def relations(self, text: str, self_name: Optional[str], entities: dict[str, str]) -> list[dict]:
        custom = f"4. {self.custom_prompt}\n" if self.custom_prompt else ""
        system = RELATIONS_SYSTEM.format(self_name=self_name or "USER", custom=custom)
        user = text if self.custom_prompt else f"List of entities: {list(entities)}. \n\nText: {text}"
        calls = self._call([{"role": "system", "content": system}, {"role": "user", "content": user}],
                           RELATIONS_TOOL)
        items = calls[0].get("entities") if calls else []
        triples = clean_triples(items, self_name=self_name)
        for t in triples:
            t.setdefault("source_type", entities.get(t["source"], "entity"))
            t.setdefault("destination_type", entities.get(t["destination"], "entity"))
        return triples

    def deletions(self, existing: list[dict], text: str, self_name: Optional[str],
                  added: list[dict]) -> list[dict]:
        if not existing:  # nothing could be deleted: save the call (mem0 makes it anyway)
            return []
        messages = [{"role": "system", "content": DELETE_SYSTEM.format(self_name=self_name or "USER")},
                    {"role": "user", "content": DELETE_USER.format(existing=format_relations(existing), text=text)}]
        return clean_triples(self._call(messages, DELETE_TOOL), self_name=self_name)
