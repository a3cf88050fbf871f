"""The ``infer=True`` pipeline and procedural memory.

1. the LLM extracts facts from the conversation;
2. each fact is embedded and the 5 nearest active memories *of the same scope* are retrieved;
3. the LLM decides ADD / UPDATE / DELETE / NONE per fact, seeing the retrieved memories
   under temporary integer ids ("0", "1", ...), never their UUIDs;
4. the decisions are checked (invented ids, missing fields, facts left without a decision)
   and applied in ONE store transaction, each with its history row.

Nothing is written before step 4, so an LLM or embedder failure leaves the store unchanged.
Every run returns a *trace* (raw payloads, parsed results, problems, timings) that
``Memory.add(..., return_trace=True)`` hands to the caller.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from memlab.enums import MemoryState, MemoryType
from memlab.errors import MemlabError, ProviderError
from memlab.llms.base import LLMReply
from memlab.llms.parsing import (
    ReplyParseError,
    parse_decisions,
    parse_facts,
    parse_summary,
    snippet,
)
from memlab.store import filters as F
from memlab.store import now_iso
from memlab.store.rows import apply_add, apply_delete, apply_update, item_of, new_row


@dataclass(frozen=True)
class Engine:
    """What the pipeline works with: the store, the embedding function, the LLM and the config.

    ``Memory`` builds one per call; the pipeline never sees the facade itself.
    """

    store: Any
    embed: Callable[[Sequence[str]], np.ndarray]
    llm: Any
    config: Any


log = logging.getLogger("memlab.pipeline")
NEIGHBOURS = 5  # retrieved memories per fact (mem0's choice)
_WORD = re.compile(r"[a-z0-9']+")
_COVER_STOP = {"a", "an", "the", "to", "in", "at", "of", "on", "for", "with", "and", "is", "are", "their", "they"}


class _Clock:
    def __init__(self):
        self.timings: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - since, 6)
        return now

    def total(self) -> None:
        self.timings["total"] = round(time.perf_counter() - self._t0, 6)


def _ask(llm, step: str, what: str, call, parse, trace: dict, key: str, problems: list) -> list:
    """One LLM step: call, record the raw exchange under ``trace[key]``, parse, collect problems."""
    reply = _call_llm(step, llm, call)
    trace[key] = {"request": reply.request, "raw": reply.payload, "retried": reply.attempts, "notes": reply.notes}
    try:
        parsed, parse_problems = parse(reply.payload)
    except ReplyParseError as exc:
        raise _unreadable(what, llm, reply, exc) from None
    problems.extend(f"{key}: {p}" for p in parse_problems)
    return parsed


def _call_llm(what: str, llm: Any, fn: Callable):
    """Run one LLM job; foreign exceptions of custom LLM objects become ProviderError.

    A custom LLM may return the bare payload (text or dict) instead of an ``LLMReply``.
    """
    try:
        reply = fn()
        return reply if isinstance(reply, LLMReply) else LLMReply(payload=reply)
    except MemlabError:
        raise
    except Exception as exc:  # a user-supplied LLM object failed
        raise ProviderError(f"LLM {getattr(llm, 'name', llm)!r} failed during {what}: {exc!r}") from exc


def _unreadable(what: str, llm: Any, reply: Any, exc: Exception) -> ProviderError:
    tries = 1 + len(getattr(reply, "attempts", []) or [])
    return ProviderError(
        f"The {what} reply of LLM {getattr(llm, 'name', llm)!r} could not be read after {tries} attempt(s): {exc}. "
        f"Reply began: {snippet(reply.payload)!r}. Nothing was written."
    )


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower())) - _COVER_STOP


def _covers(entry: dict, fact: str) -> bool:
    """Does a decision entry account for a fact (explicitly, or by sharing most of its words)?"""
    named = entry.get("fact")
    if named is not None:
        named = named if isinstance(named, list) else [named]
        if fact in [n for n in named if isinstance(n, str)]:
            return True
    a = _words(fact)
    for text in (entry.get("text"), entry.get("old_memory")):
        if text:
            b = _words(text)
            if a and b and len(a & b) / min(len(a), len(b)) >= 0.5:
                return True
    return False


def _embed_cache(engine: Engine, seed: dict[str, np.ndarray]) -> Callable[[Sequence[str]], np.ndarray]:
    cache = dict(seed)

    def embed(texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, engine.embed(missing)))
        return np.vstack([cache[t] for t in texts]) if texts else np.zeros((0, engine.store.dims), np.float32)

    return embed


def _plan(entries: list[dict], facts: list[str], temp_rows: dict[str, dict], problems: list[str]) -> list[dict]:
    """Checked operations from parsed decision entries; every skip is reported in ``problems``."""
    ops: list[dict] = []
    touched: dict[str, str] = {}
    added: set[str] = set()
    known = f"one of {', '.join(temp_rows)}" if temp_rows else "there were no existing memories"
    for e in entries:
        where = f"memory[{e['index']}]"
        event, mid, text = e["event"], e["id"], e["text"]
        if event is None:
            problems.append(f"{where} has no valid 'event' ({e['raw_event']!r}); skipped")
            continue
        if event in ("UPDATE", "DELETE", "NONE") and mid not in temp_rows:
            if event == "NONE" and mid is None:
                continue  # a fact the LLM judged redundant within the conversation itself
            if event == "UPDATE" and text:
                problems.append(f"{where}: UPDATE of unknown id {mid!r} ({known}); added as a new memory instead")
                event = "ADD"
            else:
                problems.append(f"{where}: {event} of unknown id {mid!r} ({known}); skipped")
                continue
        if event in ("ADD", "UPDATE") and not text:
            problems.append(f"{where}: {event} without 'text'; skipped")
            continue
        if event == "ADD":
            if text in added:
                problems.append(f"{where}: ADD repeats {text!r}; added once")
                continue
            added.add(text)
            ops.append({"event": "ADD", "text": text, "entry": e})
            continue
        if mid in touched:
            if event != "NONE" and touched[mid] != "NONE":
                problems.append(f"{where}: second decision ({event}) for memory {mid} after {touched[mid]}; skipped")
                continue
            if event == "NONE":
                continue
            ops = [op for op in ops if op.get("temp_id") != mid]  # a real change beats an earlier NONE
        if event == "UPDATE" and text == temp_rows[mid]["memory"]:
            event = "NONE"
        touched[mid] = event
        ops.append({"event": event, "temp_id": mid, "uuid": temp_rows[mid]["id"], "text": text, "entry": e})
    for fact in facts:
        if not any(_covers(e, fact) for e in entries):
            problems.append(f"fact {fact!r} got no decision from the LLM; nothing was stored for it")
    # NONE decisions become result items only when they answer a fact (not every memory shown to the LLM)
    return [op for op in ops if op["event"] != "NONE" or any(_covers(op["entry"], f) for f in facts)]


def _explain_no_facts(trace: dict, problems: list) -> None:
    """Nothing extracted although the user made statements (about someone else): say so, never silently."""
    raw = (trace.get("extraction") or {}).get("raw")
    skipped = raw.get("skipped", []) if isinstance(raw, dict) else []
    third = [s["sentence"] for s in skipped if str(s.get("reason", "")).startswith("third-person statement")]
    if not third:
        return
    shown = "; ".join(repr(x) for x in third[:3]) + (f" (and {len(third) - 3} more)" if len(third) > 3 else "")
    message = (f"extraction: no memory was stored: the {trace.get('llm')} LLM extracted no fact. It reads first-person "
               f"statements only ('I work at Acme', 'My sister is Anna') and skipped {len(third)} about someone "
               f"else: {shown}. Write them in the first person, pass infer=False to store the text as it is, or "
               "configure an LLM provider (docs/llm.md).")
    problems.append(message)
    log.warning("add(infer=True): %s", message)


def add_inferred(engine: Engine, msgs: list[dict], scope: dict, metadata: dict, prompt: Optional[str],
                 memory_type: Optional[str], expiration_date: Optional[str] = None,
                 timestamp: Optional[str] = None) -> tuple[list[dict], dict]:
    """Extract facts, reconcile them with the scope's memories and apply the events atomically.
    ``timestamp`` (ISO) replaces now as the time of every event of this call."""
    clock = _Clock()
    llm = engine.llm
    cfg = engine.config
    problems: list[str] = []
    trace: dict[str, Any] = {"llm": getattr(llm, "name", type(llm).__name__), "problems": problems}

    t = time.perf_counter()
    extraction_prompt = prompt if prompt is not None else cfg.custom_fact_extraction_prompt
    facts = _ask(llm, "fact extraction", "fact extraction", lambda: llm.extract_facts(
        msgs, prompt=extraction_prompt, instructions=cfg.custom_instructions),
        parse_facts, trace, "extraction", problems)
    trace["facts"] = facts
    t = clock.lap("extract", t)
    if not facts:
        _explain_no_facts(trace, problems)
        trace.update(retrieval=[], memories_shown=[], decision=None, events=[])
        clock.total()
        trace["timings"] = clock.timings
        return [], trace

    fact_vecs = engine.embed(facts)
    t = clock.lap("embed", t)
    node = F.parse({k: v for k, v in scope.items() if v is not None})
    temp_rows: dict[str, dict] = {}
    by_uuid: dict[str, str] = {}
    retrieval = []
    seed = dict(zip(facts, fact_vecs))
    for fact, vec in zip(facts, fact_vecs):
        hits = []
        for row, score, _ in engine.store.search(vec, node, NEIGHBOURS):
            if row["id"] not in by_uuid:
                temp = str(len(temp_rows))
                by_uuid[row["id"]] = temp
                temp_rows[temp] = row
                stored = engine.store.vector(row["id"])
                if stored is not None:
                    seed.setdefault(row["memory"], stored)
            hits.append({"temp_id": by_uuid[row["id"]], "id": row["id"], "memory": row["memory"],
                         "score": round(score, 6)})
        retrieval.append({"fact": fact, "neighbours": hits})
    shown = [{"id": temp, "text": row["memory"]} for temp, row in temp_rows.items()]
    trace.update(retrieval=retrieval, memories_shown=shown, id_map={k: r["id"] for k, r in temp_rows.items()})
    t = clock.lap("retrieve", t)

    embed = _embed_cache(engine, seed)
    entries = _ask(llm, "the update decision", "update decision", lambda: llm.decide_updates(
        shown, facts, prompt=cfg.custom_update_memory_prompt, embed=embed),
        parse_decisions, trace, "decision", problems)
    trace["decision"]["parsed"] = entries
    ops = _plan(entries, facts, temp_rows, problems)
    new_texts = [op["text"] for op in ops if op["event"] in ("ADD", "UPDATE")]
    vectors = dict(zip(new_texts, embed(new_texts))) if new_texts else {}
    t = clock.lap("decide", t)

    items, events = _apply(engine.store, ops, vectors, scope, metadata, memory_type, msgs, problems, expiration_date,
                           timestamp)
    trace["events"] = events
    clock.lap("apply", t)
    clock.total()
    trace["timings"] = clock.timings
    if problems:  # also in the result's "problems" (v1.1) and the trace
        log.warning("add(infer=True) reported %d problem(s): %s", len(problems), " | ".join(problems))
    return items, trace


def _apply(store: Any, ops: list[dict], vectors: dict, scope: dict, metadata: dict, memory_type: Optional[str],
           msgs: list[dict], problems: list[str], expiration_date: Optional[str] = None,
           timestamp: Optional[str] = None) -> tuple[list[dict], list[dict]]:
    names = {m.get("name") for m in msgs if m["role"] == "user"}
    actor = next(iter(names)) if len(names) == 1 else None
    now = timestamp or now_iso()
    items: list[dict] = []
    events: list[dict] = []
    with store.transaction() as tx:
        for op in ops:
            e = op["entry"]
            info = {"event": op["event"], "fact": e.get("fact"), "rule": e.get("rule"), "reason": e.get("reason"),
                    "decision_index": e["index"]}
            if op["event"] == "ADD":
                row = new_row(op["text"], scope, metadata, now=now, actor_id=actor, memory_type=memory_type,
                              expiration_date=expiration_date)
                apply_add(tx, row, vectors[op["text"]])
                items.append({**item_of(row), "event": "ADD"})
                events.append({**info, "id": row["id"], "memory": row["memory"]})
                continue
            current = tx.get_row(op["uuid"])
            if current is None or current["state"] != MemoryState.ACTIVE.value:
                problems.append(f"memory {op['temp_id']} ({op['uuid']}) changed while the LLM was deciding; "
                                f"{op['event']} skipped")
                continue
            if op["event"] == "UPDATE":
                old = current["memory"]
                if expiration_date is not None:  # as mem0: the add's expiration_date travels with the update
                    current["expiration_date"] = expiration_date
                row = apply_update(tx, current, op["text"], dict(metadata) or None, vectors[op["text"]], now)
                items.append({**item_of(row), "event": "UPDATE", "previous_memory": old})
                events.append({**info, "id": row["id"], "memory": row["memory"], "previous_memory": old})
            elif op["event"] == "DELETE":
                apply_delete(tx, current, now)
                items.append({**item_of(current), "event": "DELETE"})
                events.append({**info, "id": current["id"], "memory": current["memory"]})
            else:
                current.pop("vector", None)
                items.append({**item_of(current), "event": "NONE"})
                events.append({**info, "id": current["id"], "memory": current["memory"]})
    return items, events


def add_procedural(engine: Engine, msgs: list[dict], scope: dict, metadata: dict,
                   prompt: Optional[str], expiration_date: Optional[str] = None,
                   timestamp: Optional[str] = None) -> tuple[list[dict], dict]:
    """Summarise an agent's run into ONE memory with ``memory_type="procedural_memory"``."""
    clock = _Clock()
    llm = engine.llm
    t = time.perf_counter()
    reply = _call_llm("the procedural summary", llm, lambda: llm.summarize_procedure(msgs, prompt=prompt))
    try:
        summary = parse_summary(reply.payload)
    except ReplyParseError as exc:
        raise _unreadable("procedural summary", llm, reply, exc) from None
    t = clock.lap("summarize", t)
    vec = engine.embed([summary])[0]
    t = clock.lap("embed", t)
    now = timestamp or now_iso()
    row = new_row(summary, scope, metadata, now=now, memory_type=MemoryType.PROCEDURAL.value,
                  expiration_date=expiration_date)
    with engine.store.transaction() as tx:
        apply_add(tx, row, vec)
    clock.lap("apply", t)
    clock.total()
    trace = {"llm": getattr(llm, "name", type(llm).__name__), "problems": [],
             "procedural": {"request": reply.request, "raw": reply.payload, "notes": reply.notes},
             "events": [{"event": "ADD", "id": row["id"], "memory": summary}], "timings": clock.timings}
    return [{**item_of(row), "event": "ADD"}], trace
