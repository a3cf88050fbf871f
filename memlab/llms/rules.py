"""``rules``: the offline, deterministic LLM (no model, no network).

Extraction turns first-person sentences of the user's messages into subject-less
third-person facts ("I love sushi" -> "Loves sushi") and skips questions, requests and
chit-chat. The update policy compares each fact with the retrieved memories (and with the
facts added earlier in the same call) and applies the first rule that fires:

1. same words (normalised)                                   -> NONE
2. same predicate family and object, opposite polarity        -> DELETE if the fact is a
   retraction ("anymore", "no longer", "stopped", ...), else UPDATE. "Same object": half
   the object words shared, or the negated fact's object words all occur in the other,
   or some shared word and cosine >= ``same_subject_threshold``
   (same polarity and identical object words                  -> NONE)
3. same single-valued slot (name, age, residence, employer,
   occupation, "<thing> is <value>"), different value         -> UPDATE (same value -> NONE);
   a negated slot with the memory's value                     -> DELETE (retraction) / UPDATE
4. a negation of what a memory said before an UPDATE of this
   same call ("I moved to Berlin, I don't live in Paris anymore") -> NONE (the update replaced it)
5. cosine >= ``duplicate_threshold`` and same polarity        -> NONE
6. otherwise                                                  -> ADD

docs/llm.md lists exactly what this handles and what it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from memlab.llms.base import EmbedFn, LLMReply
from memlab.llms.rules_text import FactShape, jaccard, shape, split_sentences, to_fact

OBJECT_JACCARD = 0.5  # object words shared for a negation/antonym conflict (rule 2)
STEP_CHARS = 500      # a procedural step longer than this is cut (the summary stays one memory)


@dataclass
class _Candidate:
    key: str                 # temp id of an existing memory, or "new:<k>" for a fact added in this call
    text: str
    shape: FactShape
    vec: Optional[np.ndarray]
    alive: bool = True
    entry: Optional[dict] = None  # the decision entry this candidate already has
    original: Optional[str] = None


@dataclass
class _Decision:
    event: str
    rule: str
    reason: str
    target: Optional[_Candidate] = None


class RulesLLM:
    """Deterministic heuristic extractor and update policy (English).

    Args:
        duplicate_threshold: cosine at or above which a fact repeats a memory (rule 4).
        same_subject_threshold: cosine at or above which two facts with the same predicate
            and at least one shared object word count as the same subject (rule 2), even
            when fewer than half of their object words are shared.
    """

    name = "rules"

    def __init__(self, duplicate_threshold: float = 0.9, same_subject_threshold: float = 0.5):
        self.duplicate_threshold = float(duplicate_threshold)
        self.same_subject_threshold = float(same_subject_threshold)

    def __repr__(self) -> str:
        return (f"RulesLLM(duplicate_threshold={self.duplicate_threshold}, "
                f"same_subject_threshold={self.same_subject_threshold})")

    # ------------------------------------------------------------------ extraction
    def extract_facts(self, messages: list[dict], *, prompt: Optional[str] = None,
                      instructions: Optional[str] = None) -> LLMReply:
        notes = []
        if prompt is not None or instructions is not None:
            notes.append("the rules provider ignores custom extraction prompts and instructions")
        facts: list[str] = []
        skipped: list[dict] = []
        for i, msg in enumerate(messages):
            if msg["role"] != "user":
                if msg["role"] != "system":
                    skipped.append({"message": i, "sentence": None, "reason": f"{msg['role']} message"})
                continue
            for sentence in split_sentences(msg["content"]):
                fact, reason = to_fact(sentence)
                if fact is None:
                    skipped.append({"message": i, "sentence": sentence, "reason": reason})
                elif fact in facts:
                    skipped.append({"message": i, "sentence": sentence, "reason": "repeats a fact of this conversation"})
                else:
                    facts.append(fact)
        return LLMReply(payload={"facts": facts, "skipped": skipped}, notes=notes)

    # ------------------------------------------------------------------ decisions
    def decide_updates(self, memories: list[dict], facts: list[str], *, prompt: Optional[str] = None,
                       embed: Optional[EmbedFn] = None) -> LLMReply:
        notes = []
        if prompt is not None:
            notes.append("the rules provider ignores custom update prompts")
        texts = list(facts) + [m["text"] for m in memories]
        vecs = np.asarray(embed(texts), dtype=np.float32) if (embed is not None and texts) else None
        if embed is None:
            notes.append("no embedder given: near-duplicates are found by identical words only")
        cands = [
            _Candidate(key=str(m["id"]), text=m["text"], shape=shape(m["text"]), original=m["text"],
                       vec=None if vecs is None else vecs[len(facts) + j])
            for j, m in enumerate(memories)
        ]
        entries: list[dict] = []
        next_id = len(memories)
        for i, fact in enumerate(facts):
            fvec = None if vecs is None else vecs[i]
            alive = [c for c in cands if c.alive]
            scores = [float(fvec @ c.vec) if fvec is not None and c.vec is not None else 0.0 for c in alive]
            order = sorted(range(len(alive)), key=lambda k: -scores[k])
            ranked = [(alive[k], scores[k]) for k in order]
            d = self._decide(shape(fact), ranked)
            c = d.target
            if d.event == "ADD":
                entry = {"id": str(next_id), "text": fact, "event": "ADD", "fact": [fact], "rule": d.rule,
                         "reason": d.reason}
                next_id += 1
                entries.append(entry)
                cands.append(_Candidate(key=f"new:{entry['id']}", text=fact, shape=shape(fact), vec=fvec, entry=entry))
                continue
            pending = c.key.startswith("new:")
            if d.event == "NONE":
                if c.entry is None:
                    c.entry = {"id": c.key, "text": c.text, "event": "NONE", "fact": [], "rule": d.rule,
                               "reason": d.reason}
                    entries.append(c.entry)
                c.entry["fact"].append(fact)
                if c.entry["event"] != "NONE" or pending:
                    c.entry["reason"] += f"; {fact!r}: {d.reason}"
                continue
            if d.event == "UPDATE":
                if c.entry is None or c.entry["event"] == "NONE":
                    prior = c.entry["fact"] if c.entry else []
                    if c.entry is not None:
                        entries.remove(c.entry)
                    c.entry = {"id": c.key, "text": fact, "event": "UPDATE", "old_memory": c.original,
                               "fact": prior, "rule": d.rule, "reason": d.reason}
                    entries.append(c.entry)
                else:  # already updated/added in this call: the latest fact wins
                    c.entry["text"] = fact
                    c.entry["reason"] += f"; then {d.reason}"
                c.entry["fact"].append(fact)
                c.text, c.shape, c.vec = fact, shape(fact), fvec
                continue
            # DELETE
            c.alive = False
            if pending:
                entries.remove(c.entry)
                entries.append({"id": None, "text": fact, "event": "NONE", "fact": c.entry["fact"] + [fact],
                                "rule": d.rule,
                                "reason": f"{d.reason}; the earlier fact of this conversation is not stored"})
                continue
            prior = c.entry["fact"] if c.entry else []
            if c.entry is not None:
                entries.remove(c.entry)
            c.entry = {"id": c.key, "text": c.original, "event": "DELETE", "fact": prior + [fact], "rule": d.rule,
                       "reason": d.reason}
            entries.append(c.entry)
        return LLMReply(payload={"memory": entries}, notes=notes)

    def _decide(self, f: FactShape, ranked: list[tuple[_Candidate, float]]) -> _Decision:
        for c, _ in ranked:
            if f.norm == c.shape.norm:
                return _Decision("NONE", "same-words", f"same words as memory {c.key}", c)
        for c, score in ranked:
            g = c.shape
            if not (f.family & g.family):
                continue
            overlap = jaccard(f.obj, g.obj)
            same_object = (overlap >= OBJECT_JACCARD or (not f.obj and not g.obj)
                           # the negation's object inside the other's: "Does not eat meat" / "Eats meat daily"
                           or (f.negative != g.negative and (f.obj if f.negative else g.obj) <= (g.obj if f.negative else f.obj))
                           or (overlap > 0 and score >= self.same_subject_threshold))
            if not same_object:
                continue
            if f.negative != g.negative:
                if f.negative and f.retraction and not g.negative:
                    return _Decision("DELETE", "retraction", f"retracts memory {c.key} ({c.text!r})", c)
                return _Decision("UPDATE", "negation", f"contradicts memory {c.key} ({c.text!r})", c)
            if f.obj == g.obj and f.obj:
                return _Decision("NONE", "same-predicate", f"restates memory {c.key} ({c.text!r})", c)
        if f.slot is not None and f.negative:  # "No longer lives in Berlin" vs "Moved to Berlin"
            for c, _ in ranked:
                g = c.shape
                if g.slot == f.slot and not g.negative and g.value == f.value:
                    if f.retraction:
                        return _Decision("DELETE", "retraction", f"retracts {f.slot} of memory {c.key} ({c.text!r})", c)
                    return _Decision("UPDATE", "negation", f"denies {f.slot} of memory {c.key} ({c.text!r})", c)
        if f.slot is not None and not f.negative:
            for c, _ in ranked:
                g = c.shape
                if g.slot != f.slot or g.negative:
                    continue
                if g.value == f.value:
                    return _Decision("NONE", "same-slot-value", f"same {f.slot} as memory {c.key}", c)
                return _Decision("UPDATE", "slot-change",
                                 f"changes {f.slot} of memory {c.key} from {g.value!r} to {f.value!r}", c)
        if f.negative:
            superseded = self._negates_replaced(f, ranked)
            if superseded is not None:
                return superseded
        for c, score in ranked:
            if score >= self.duplicate_threshold and f.negative == c.shape.negative:
                return _Decision("NONE", "near-duplicate", f"near-duplicate of memory {c.key} (cosine {score:.3f})", c)
        return _Decision("ADD", "new", "new information")

    def _negates_replaced(self, f: FactShape, ranked: list[tuple[_Candidate, float]]) -> Optional[_Decision]:
        """A negation of what a memory said before this call updated it ("I moved to Berlin, I don't live
        in Paris anymore" after "Lives in Paris"): the update already replaced the negated fact, so the
        negation is NONE - never a new "Does not live in Paris" memory beside the update."""
        for c, score in ranked:
            if c.original is None or c.original == c.text:
                continue
            before = _Candidate(key=c.key, text=c.original, shape=shape(c.original), vec=c.vec, original=c.original)
            d = self._decide(f, [(before, score)])
            if d.event in ("DELETE", "UPDATE"):
                return _Decision("NONE", "negation-already-replaced",
                                 f"negates {c.original!r}, which memory {c.key} no longer says after this call's "
                                 f"update ({c.text!r})", c)
        return None

    # ------------------------------------------------------------------ procedural
    def summarize_procedure(self, messages: list[dict], *, prompt: Optional[str] = None) -> LLMReply:
        notes = ["the rules provider ignores custom procedural prompts"] if prompt is not None else []

        def clip(text: str) -> str:
            text = " ".join(text.split())
            return text if len(text) <= STEP_CHARS else text[: STEP_CHARS - 1] + "\u2026"

        task = next((m["content"] for m in messages if m["role"] == "user"), None)
        steps = []
        for m in messages:
            if m["role"] == "system" or (m["role"] == "user" and m["content"] == task):
                continue
            who = {"assistant": "", "user": "User: ", "tool": "Tool result: ", "function": "Tool result: "}.get(
                m["role"], f"{m['role']}: ")
            steps.append(who + clip(m["content"]))
        outcome = next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), None)
        lines = [f"Task: {clip(task) if task else '(no user request in the run)'}", "Steps:"]
        lines += [f"{k}. {s}" for k, s in enumerate(steps, 1)] or ["(none)"]
        lines.append(f"Outcome: {clip(outcome) if outcome else '(the agent gave no final answer)'}")
        return LLMReply(payload="\n".join(lines), notes=notes)
