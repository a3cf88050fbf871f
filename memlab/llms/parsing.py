"""Robust parsing of LLM replies into the pipeline's two payloads.

Models wrap JSON in code fences, add chatty text before or after it, emit ``<think>``
blocks, trailing commas or Python literals (single quotes, ``True``/``None``), invent
ids and leave out fields. Everything here is a pure function: a reply goes in, the
parsed data plus a list of *problems* (human-readable strings) come out. Only a reply
with no recoverable JSON at all raises :class:`ReplyParseError`.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

EVENTS = ("ADD", "UPDATE", "DELETE", "NONE")
# Spellings models use for the four events.
EVENT_ALIASES = {
    "ADD": "ADD", "INSERT": "ADD", "CREATE": "ADD", "NEW": "ADD",
    "UPDATE": "UPDATE", "MODIFY": "UPDATE", "EDIT": "UPDATE", "CHANGE": "UPDATE", "REPLACE": "UPDATE",
    "DELETE": "DELETE", "REMOVE": "DELETE", "DEL": "DELETE",
    "NONE": "NONE", "NOOP": "NONE", "NO_OP": "NONE", "NO-OP": "NONE", "NOTHING": "NONE",
    "NO_CHANGE": "NONE", "UNCHANGED": "NONE", "KEEP": "NONE", "SKIP": "NONE",
}

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class ReplyParseError(ValueError):
    """A reply holds no JSON object or list that can be recovered."""


def snippet(text: Any, limit: int = 200) -> str:
    """A short, single-line preview of a reply for error messages."""
    s = text if isinstance(text, str) else repr(text)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        pass
    fixed = _TRAILING_COMMA.sub(r"\1", text)
    try:
        return json.loads(fixed)
    except (json.JSONDecodeError, ValueError):
        pass
    try:  # Python literal: single quotes, True/False/None
        value = ast.literal_eval(fixed)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ReplyParseError("not JSON") from None
    if isinstance(value, (dict, list)):
        return value
    raise ReplyParseError("not a JSON object or list")


MAX_SPAN_STARTS = 32  # bounds the scan of a long chatty reply (each start is a linear pass)


def _balanced_spans(text: str):
    """Substrings that start at '{' or '[' and end at their matching bracket (strings respected)."""
    starts = [i for i, ch in enumerate(text) if ch in "{["][:MAX_SPAN_STARTS]
    for start in starts:
        depth, in_str, quote, esc = 0, False, "", False
        for end in range(start, len(text)):
            c = text[end]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == quote:
                    in_str = False
                continue
            if c in "\"'":
                in_str, quote = True, c
            elif c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    yield text[start : end + 1]
                    break


def extract_json(reply: Any) -> Any:
    """The first JSON object/list in a reply (dicts and lists pass through).

    Tries, in order: the whole text, each fenced code block, then every balanced
    ``{...}``/``[...]`` span (which skips chatty text around the JSON).

    Raises:
        ReplyParseError: nothing parseable was found.
    """
    if isinstance(reply, (dict, list)):
        return reply
    if not isinstance(reply, str):
        raise ReplyParseError(f"expected text, got {type(reply).__name__}")
    text = _THINK.sub("", reply).strip()
    if not text:
        raise ReplyParseError("the reply is empty")
    candidates = [text] + [m.group(1).strip() for m in _FENCE.finditer(text)]
    for cand in candidates:
        if cand and cand[0] in "{[":
            try:
                return _loads(cand)
            except ReplyParseError:
                pass
    for span in _balanced_spans(text):
        try:
            return _loads(span)
        except ReplyParseError:
            continue
    raise ReplyParseError(f"no JSON object found in the reply: {snippet(text)!r}")


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def parse_facts(reply: Any) -> tuple[list[str], list[str]]:
    """``{"facts": [...]}`` (or a bare list) -> (facts, problems).

    Fact entries may be strings or dicts with ``fact``/``text``/``memory``; blanks and
    exact repeats are dropped and reported.
    """
    data = extract_json(reply)
    problems: list[str] = []
    if isinstance(data, dict):
        key = next((k for k in ("facts", "fact", "memories", "memory") if k in data), None)
        if key is None:
            raise ReplyParseError(f"the JSON has no 'facts' key (keys: {sorted(data)[:8]})")
        items = data[key]
        if key != "facts":
            problems.append(f"facts were under {key!r} instead of 'facts'")
    else:
        items = data
    if isinstance(items, str):
        items = [items]
        problems.append("'facts' was a string, not a list; used it as one fact")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ReplyParseError(f"'facts' must be a list, got {type(items).__name__}")
    facts: list[str] = []
    for i, item in enumerate(items):
        text = _as_text(item)
        if text is None and isinstance(item, dict):
            text = next((_as_text(item[k]) for k in ("fact", "text", "memory", "content") if k in item), None)
        if text is None:
            problems.append(f"facts[{i}] is not text ({snippet(item, 80)}); skipped")
            continue
        if not text:
            problems.append(f"facts[{i}] is empty; skipped")
            continue
        if text in facts:
            problems.append(f"facts[{i}] repeats {text!r}; kept once")
            continue
        facts.append(text)
    return facts, problems


def parse_decisions(reply: Any) -> tuple[list[dict], list[str]]:
    """``{"memory": [{"id", "text", "event", "old_memory"}]}`` -> (entries, problems).

    Each entry comes back as ``{"id": str | None, "text": str | None, "event": str | None,
    "old_memory": str | None, "fact": ..., "reason": ...}`` with the event upper-cased and
    mapped from common synonyms (NOOP -> NONE, REMOVE -> DELETE, ...). Entries that are
    not objects are reported and skipped; checking ids and required fields is the
    pipeline's job (it knows which ids exist).
    """
    data = extract_json(reply)
    problems: list[str] = []
    if isinstance(data, dict):
        key = next((k for k in ("memory", "memories", "events", "decisions", "actions") if k in data), None)
        if key is None:
            if "event" in data:  # a single decision object
                items = [data]
                problems.append("the reply was one decision object, not a list under 'memory'")
            else:
                raise ReplyParseError(f"the JSON has no 'memory' key (keys: {sorted(data)[:8]})")
        else:
            items = data[key]
            if key != "memory":
                problems.append(f"decisions were under {key!r} instead of 'memory'")
    else:
        items = data
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ReplyParseError(f"'memory' must be a list, got {type(items).__name__}")
    entries: list[dict] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"memory[{i}] is not an object ({snippet(item, 80)}); skipped")
            continue
        raw_event = item.get("event")
        event = None
        if isinstance(raw_event, str):
            event = EVENT_ALIASES.get(raw_event.strip().upper().replace(" ", "_"))
            if event is None:
                problems.append(f"memory[{i}] has an unknown event {raw_event!r}")
        raw_id = item.get("id")
        entries.append({
            "index": i,
            "id": None if raw_id is None or isinstance(raw_id, bool) else _as_text(raw_id),
            "text": _as_text(item.get("text", item.get("memory"))),
            "event": event,
            "raw_event": raw_event,
            "old_memory": _as_text(item.get("old_memory")),
            "fact": item.get("fact"),
            "reason": item.get("reason"),
            "rule": item.get("rule"),
        })
    return entries, problems


def parse_summary(reply: Any) -> str:
    """Plain text of a procedural summary (``<think>`` blocks and a wrapping fence removed)."""
    if isinstance(reply, dict):
        text = next((_as_text(reply[k]) for k in ("summary", "memory", "text") if k in reply), None)
        if not text:
            raise ReplyParseError("the summary object has no 'summary' text")
        return text
    if not isinstance(reply, str):
        raise ReplyParseError(f"expected text, got {type(reply).__name__}")
    text = _THINK.sub("", reply).strip()
    fence = _FENCE.fullmatch(text)
    if fence:
        text = fence.group(1).strip()
    if not text:
        raise ReplyParseError("the summary is empty")
    return text
