"""Entity and relationship names: one spelling per entity, so the same entity is one node.

mem0 lower-cases names and joins words with underscores (``"New York"`` -> ``"new_york"``);
memlab does the same and also drops possessives (``"Alice's"`` -> ``"alice"``), leading articles
and surrounding punctuation, so ``"Alice"``, ``"alice"`` and ``"Alice's"`` are one node.
"""

from __future__ import annotations

import re
from typing import Any, Optional

_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)(?=\s|$)")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
MAX_NAME = 100


def entity_name(text: Any) -> Optional[str]:
    """The normalised name of an entity, or None when nothing is left of it."""
    if not isinstance(text, str):
        return None
    name = _POSSESSIVE.sub("", text.strip())
    name = _ARTICLE.sub("", name)
    name = _NON_WORD.sub("_", name.lower()).strip("_")
    return name[:MAX_NAME] or None


def relationship_name(text: Any) -> Optional[str]:
    """A relationship as mem0 writes it: lower case, words joined by underscores."""
    if not isinstance(text, str):
        return None
    rel = _NON_WORD.sub("_", text.strip().lower()).strip("_")
    return rel[:MAX_NAME] or None


def display(name: str) -> str:
    """``new_york`` -> ``new york`` (for matching names inside text)."""
    return name.replace("_", " ")


def clean_triples(items: Any, *, self_name: Optional[str] = None) -> list[dict]:
    """Valid, normalised ``{source, relationship, destination}`` dicts from an LLM's tool arguments.

    Entries that are not dicts or lack a part are skipped (as mem0 does), duplicates dropped.
    ``self_name`` replaces the self-references an LLM may leave (``"I"``, ``"me"``, ``"user"``).
    """
    out, seen = [], set()
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        parts = []
        for key, norm in (("source", entity_name), ("relationship", relationship_name),
                          ("destination", entity_name)):
            value = norm(item.get(key))
            if value in ("i", "me", "myself", "user") and key != "relationship" and self_name:
                value = self_name
            parts.append(value)
        if None in parts or parts[0] == parts[2]:
            continue
        triple = tuple(parts)
        if triple in seen:
            continue
        seen.add(triple)
        entry = {"source": parts[0], "relationship": parts[1], "destination": parts[2]}
        for key in ("source_type", "destination_type"):
            if isinstance(item.get(key), str) and item[key].strip():
                entry[key] = relationship_name(item[key]) or "entity"
        out.append(entry)
    return out
