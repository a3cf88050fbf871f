"""Answers without memory and with each side's retrieved memories, scored against references.

Responders turn (question, memories) into an answer:

* :class:`LLMResponder` — any OpenAI-compatible chat model (``memlab.llms`` ``openai``
  provider, or anything with ``complete(messages) -> str``).
* :class:`ExtractiveResponder` — the offline baseline. It cannot reason; it *extracts*:
  without memories it answers ``"I don't know."``; with memories it splits them into
  sentences and answers with the one that best supports an answer, as written: the most
  content words shared with the question other than the names it mentions, then the most
  names shared, then the higher-ranked memory ("Where does Alice live?" + "Alice lives in
  Berlin." → "Alice lives in Berlin."). ``span=True`` trims that sentence to the words the
  question lacks ("Berlin"), for exact-match scoring. It measures whether the right memory
  was retrieved, not how well a model would use it.

Scores follow SQuAD: answers and references are lower-cased, punctuation and the articles
a/an/the removed, whitespace collapsed; ``exact_match`` compares the normalised strings,
``token_f1`` is the F1 of their token multisets (both empty = 1, one empty = 0).
A judge LLM (:class:`LLMJudge`) can add a CORRECT/WRONG verdict per answer.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from memlab.errors import ConfigError, ProviderError, ValidationError

NO_ANSWER = "I don't know."
SIDES = ("none", "before", "after")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[\w']+")
_PUNCTUATION = frozenset(string.punctuation)
STOPWORDS = frozenset(
    "a an the and or but of to in on at for from by with about as is are was were be been being am do does did "
    "has have had i me my mine you your he him his she her it its we our they them their what which who whom "
    "whose when where why how that this these those there here not no yes so if then than very can could would "
    "should will shall may might must just also too into over under up down out any some all s".split()
)
ANSWER_SYSTEM_PROMPT = (
    "You answer questions about a user. Answer in as few words as possible (a name, a date, a short phrase). "
    "If the memories do not contain the answer, say \"I don't know.\""
)
JUDGE_PROMPT = (
    "You grade answers. Given a question, a reference answer and a candidate answer, reply with JSON "
    '{"label": "CORRECT"} if the candidate means the same as the reference (wording may differ), '
    'otherwise {"label": "WRONG"}.'
)


# ---------------------------------------------------------------------------- scoring
def normalize_answer(text: Any) -> str:
    """SQuAD normalisation: lower-case, drop punctuation and articles, collapse whitespace."""
    text = str(text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: Any, reference: Any) -> float:
    """1.0 if the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: Any, reference: Any) -> float:
    """F1 of the normalised token multisets. Both empty: 1.0; exactly one empty: 0.0."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# ---------------------------------------------------------------------------- responders
def _stem(word: str) -> str:
    """A deliberately tiny stemmer so "lives"/"live" and "works"/"working" match."""
    w = word.lower().strip("'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and (w.endswith(("ches", "shes")) or (w.endswith("es") and w[-3] in "sxz")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    elif len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def _content(words: Sequence[str]) -> set[str]:
    return {_stem(w) for w in words if w.lower() not in STOPWORDS}


class ExtractiveResponder:
    """The offline, deterministic extractive responder (see the module docstring).

    Args:
        span: answer with the words of the best sentence the question does not already contain
            (stopwords dropped) instead of the whole sentence; terse, but often unreadable.
    """

    name = "extractive"

    def __init__(self, span: bool = False):
        self.span = bool(span)

    def answer(self, question: str, memories: Optional[Sequence[str]]) -> str:
        if not memories:
            return NO_ANSWER
        words = _WORD.findall(question)
        q_content = _content(words)
        # capitalised words after the first are names ("Bob"): sharing one says who, not what is asked
        q_names = {_stem(w) for w in words[1:] if w[:1].isupper()} & q_content
        q_topic = q_content - q_names
        best_key, sentence = None, ""
        for rank, memory in enumerate(memories):
            for part in _SENTENCE.split(memory.strip()):
                if not part.strip():
                    continue
                shared = _content(_WORD.findall(part))
                # topic words first, then names; retrieval order breaks ties (earlier sentence within a memory)
                key = (len(q_topic & shared), len(q_names & shared), -rank)
                if best_key is None or key > best_key:
                    best_key, sentence = key, part.strip()
        if not self.span:
            return sentence
        kept = [w for w in _WORD.findall(sentence)
                if w.lower() not in STOPWORDS and _stem(w) not in q_content]
        return " ".join(kept) if kept else sentence


class LLMResponder:
    """Answers with a chat model: ``llm.complete(messages) -> str`` (OpenAI-compatible)."""

    def __init__(self, llm: Any, *, system_prompt: str = ANSWER_SYSTEM_PROMPT):
        if not hasattr(llm, "complete"):
            raise ConfigError("LLMResponder needs an LLM with complete(messages) (e.g. the 'openai' provider).")
        self.llm = llm
        self.system_prompt = system_prompt
        self.name = f"llm:{getattr(llm, 'name', type(llm).__name__)}"

    def messages(self, question: str, memories: Optional[Sequence[str]]) -> list[dict]:
        if memories:
            listed = "\n".join(f"{i + 1}. {m}" for i, m in enumerate(memories))
            user = f"Memories about the user:\n{listed}\n\nQuestion: {question}"
        else:
            user = f"Question: {question}"
        return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]

    def answer(self, question: str, memories: Optional[Sequence[str]]) -> str:
        reply = self.llm.complete(self.messages(question, memories))
        if not isinstance(reply, str):
            raise ProviderError(f"The LLM returned {type(reply).__name__}, not text.")
        return reply.strip()


class LLMJudge:
    """CORRECT/WRONG verdicts from a chat model (``complete(messages, json_mode=True)``)."""

    def __init__(self, llm: Any):
        if not hasattr(llm, "complete"):
            raise ConfigError("LLMJudge needs an LLM with complete(messages) (e.g. the 'openai' provider).")
        self.llm = llm

    def judge(self, question: str, reference: str, answer: str) -> bool:
        messages = [{"role": "system", "content": JUDGE_PROMPT},
                    {"role": "user", "content": f"Question: {question}\nReference: {reference}\nCandidate: {answer}"}]
        reply = self.llm.complete(messages, json_mode=True)
        found = re.findall(r"\b(CORRECT|WRONG|INCORRECT)\b", str(reply).upper())
        if not found:
            raise ProviderError(f"The judge replied without a CORRECT/WRONG label: {str(reply)[:200]!r}.")
        return found[0] == "CORRECT"


def create_chat_llm(config: Any) -> Any:
    """An OpenAI-compatible chat LLM from a MemoryConfig, a config dict or an LLM block.

    Uses ``memlab.llms.create_llm("openai", ...)`` (the shared provider, which raises
    :class:`ProviderError` on HTTP errors and timeouts).
    """
    from memlab import MemoryConfig

    if isinstance(config, MemoryConfig):
        block = {"provider": config.llm.provider, "config": dict(config.llm.config)}
    elif isinstance(config, dict) and "llm" in config:
        block = config["llm"]
    elif isinstance(config, dict):
        block = config
    else:
        raise ConfigError(f"Expected an LLM config (MemoryConfig or dict), got {type(config).__name__}.")
    if block.get("provider") != "openai":
        raise ConfigError(
            f"Answers need an OpenAI-compatible chat model (llm.provider 'openai'), got {block.get('provider')!r}; "
            "leave llm unset to use the offline extractive responder."
        )
    from memlab.llms import create_llm

    return create_llm("openai", block.get("config") or {})


def make_responder(llm: Any = None) -> Any:
    """A responder from None/"extractive" (offline, whole sentences), "extractive-span" (offline, trimmed),
    a responder, an LLM object or an LLM config."""
    if llm is None or llm == "extractive":
        return ExtractiveResponder()
    if llm == "extractive-span":
        return ExtractiveResponder(span=True)
    if hasattr(llm, "answer"):
        return llm
    if hasattr(llm, "complete"):
        return LLMResponder(llm)
    return LLMResponder(create_chat_llm(llm))


# ---------------------------------------------------------------------------- comparison
@dataclass
class AnswerComparison:
    """Answers per query and side ("none" = without memory), with scores when references exist."""

    rows: list[dict]
    sides: tuple[str, ...]
    labels: dict
    responder: str
    judged: bool

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.rows)

    def summary(self, *, n_boot: int = 2000, seed: int = 0):
        """Mean token F1 / exact match (/ judge accuracy) per side with bootstrap 95% CIs."""
        import pandas as pd

        from memlab.compare.stats import bootstrap_ci

        out = []
        metrics = ("f1", "em") + (("judge",) if self.judged else ())
        for side in self.sides:
            for metric in metrics:
                values = [r.get(f"{metric}_{side}") for r in self.rows]
                values = [float(v) for v in values if v is not None]
                mean, low, high, n = bootstrap_ci(values, n_boot=n_boot, seed=seed)
                out.append({"side": self.labels[side], "metric": metric, "mean": mean, "ci_low": low,
                            "ci_high": high, "n": n})
        return pd.DataFrame(out)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(self.labels[s])}</th>" for s in self.sides)
        body = []
        for r in self.rows:
            cells = []
            for s in self.sides:
                score = f"<br><small>F1 {r[f'f1_{s}']:.2f}</small>" if r.get(f"f1_{s}") is not None else ""
                cells.append(f"<td>{html.escape(r[f'answer_{s}'])}{score}</td>")
            ref = html.escape(str(r["reference"])) if r["reference"] is not None else "–"
            body.append(f"<tr><td>{html.escape(r['query'])}</td><td>{ref}</td>{''.join(cells)}</tr>")
        return (f"<h4>Answers ({html.escape(self.responder)})</h4><table><tr><th>question</th><th>reference</th>"
                f"{head}</tr>{''.join(body)}</table>")


def compare_answers(comparison: Any, *, llm: Any = None, judge: Any = None, context_k: int = 5,
                    sides: Sequence[str] = SIDES, references: Optional[dict] = None) -> AnswerComparison:
    """Answer every query of ``comparison`` without memory and with each side's top memories.

    Args:
        comparison: a :class:`~memlab.compare.core.Comparison`.
        llm: None (offline :class:`ExtractiveResponder`; "extractive-span" for its trimmed answers), a
            responder, an LLM with
            ``complete`` or an OpenAI LLM config (MemoryConfig / dict).
        judge: optional LLM (object or config) that labels each answer CORRECT/WRONG
            against the reference.
        context_k: how many retrieved memories (best first) go into the context.
        sides: any of "none", "before", "after".
        references: ``{query_id: answer}``, overriding the queries' own references.

    Provider failures raise :class:`~memlab.errors.ProviderError`: no answer is silently dropped.
    """
    if isinstance(context_k, bool) or not isinstance(context_k, int) or context_k < 1:
        raise ValidationError(f"context_k must be a positive integer, got {context_k!r}.")
    sides = tuple(sides)
    if not sides or any(s not in SIDES for s in sides):
        raise ValidationError(f"sides must be a non-empty subset of {SIDES}, got {sides!r}.")
    responder = make_responder(llm)
    judge_obj = None
    if judge is not None:
        judge_obj = judge if hasattr(judge, "judge") else LLMJudge(judge if hasattr(judge, "complete")
                                                                    else create_chat_llm(judge))
    labels = {"none": "no memory", "before": comparison.before_label, "after": comparison.after_label}
    rows = []
    for result in comparison.results:
        q = result.query
        reference = (references or {}).get(q.query_id, q.reference)
        row: dict[str, Any] = {"query_id": q.query_id, "query": q.text, "reference": reference}
        for side in sides:
            memories = None if side == "none" else [h["memory"] for h in getattr(result, side)[:context_k]]
            answer = responder.answer(q.text, memories)
            row[f"answer_{side}"] = answer
            if reference is not None:
                row[f"f1_{side}"] = token_f1(answer, reference)
                row[f"em_{side}"] = exact_match(answer, reference)
                if judge_obj is not None:
                    row[f"judge_{side}"] = float(judge_obj.judge(q.text, str(reference), answer))
        rows.append(row)
    return AnswerComparison(rows, sides, labels, getattr(responder, "name", type(responder).__name__),
                            judge_obj is not None)
