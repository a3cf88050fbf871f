"""Answers from retrieved memories, their scores, and the LLM judge (the mem0 paper's J).

- **Answerers**: ``"extractive"`` (offline, deterministic: :class:`memlab.compare.answers.
  ExtractiveResponder`, which measures whether the right memory came back, not reasoning) or an
  OpenAI-compatible chat model (:class:`LLMAnswerer`): any server, its own base_url / model / key.
- **Scores** per answer against the reference: token F1 (SQuAD normalisation, as
  :func:`memlab.compare.answers.token_f1`) and BLEU-1 as mem0's LoCoMo evaluation computes it
  (lower-cased word tokens, clipped unigram precision times the brevity penalty, method-1
  smoothing of a zero count by 0.1).
- **Judge**: :class:`LLMJudge` sends the mem0 paper's judge prompt verbatim (``J_PROMPT``,
  temperature from its settings, JSON mode) and reads ``CORRECT`` / ``WRONG``. The judge can be
  run ``n`` times per answer; the runs' spread is reported (see :mod:`memlab.bench.report`).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any, Optional, Sequence

from memlab.compare.answers import ExtractiveResponder, token_f1
from memlab.errors import ConfigError, ProviderError

# The judge prompt of the mem0 paper (Chhikara et al., 2025), verbatim from mem0's
# evaluation/metrics/llm_judge.py (Apache-2.0), so J verdicts are comparable with published ones.
J_PROMPT = """
Your task is to label an answer to a question as ’CORRECT’ or ’WRONG’. You will be given the following data:
    (1) a question (posed by one user to another user), 
    (2) a ’gold’ (ground truth) answer, 
    (3) a generated answer
which you will score as CORRECT/WRONG.

The point of the question is to ask about something one user should know about the other user based on their prior conversations.
The gold answer will usually be a concise and short answer that includes the referenced topic, for example:
Question: Do you remember what I got the last time I went to Hawaii?
Gold answer: A shell necklace
The generated answer might be much longer, but you should be generous with your grading - as long as it touches on the same topic as the gold answer, it should be counted as CORRECT. 

For time related questions, the gold answer will be a specific date, month, year, etc. The generated answer might be much longer or use relative time references (like "last Tuesday" or "next month"), but you should be generous with your grading - as long as it refers to the same date or time period as the gold answer, it should be counted as CORRECT. Even if the format differs (e.g., "May 7th" vs "7 May"), consider it CORRECT if it's the same date.

Now it's time for the real question:
Question: {question}
Gold answer: {gold_answer}
Generated answer: {generated_answer}

First, provide a short (one sentence) explanation of your reasoning, then finish with CORRECT or WRONG. 
Do NOT include both CORRECT and WRONG in your response, or it will break the evaluation script.

Just return the label CORRECT or WRONG in a json format with the key as "label".
"""  # noqa: W291 (trailing spaces are part of the original prompt)

ANSWER_PROMPT = (
    "You answer a question about two people from memories of their past conversations. Each memory is a message "
    "with the date of its conversation. Answer with a short phrase (a name, a date, a few words); resolve "
    "relative dates (\"last year\") against the memory's date. If the memories do not say, answer \"I don't know\".\n\n"
    "Memories:\n{memories}\n\nQuestion: {question}\nAnswer:"
)
_TOKEN = re.compile(r"\w+|[^\w\s]")


def bleu1(prediction: Any, reference: Any) -> float:
    """BLEU-1 of one answer (see the module docstring); 0.0 when either side has no tokens."""
    pred = _TOKEN.findall(str(prediction).lower())
    ref = _TOKEN.findall(str(reference).lower())
    if not pred or not ref:
        return 0.0
    clipped = sum((Counter(pred) & Counter(ref)).values())
    p1 = (clipped if clipped else 0.1) / len(pred)
    bp = 1.0 if len(pred) > len(ref) else math.exp(1 - len(ref) / len(pred))
    return float(bp * p1)


def score_answer(answer: str, reference: str) -> dict:
    return {"f1": token_f1(answer, reference), "bleu1": bleu1(answer, reference)}


def _chat(settings: Optional[dict], what: str):
    """An OpenAI-compatible chat model (memlab's ``openai`` LLM provider) from ``{base_url, model, ...}``."""
    from memlab.llms import create_llm

    if not settings or not (settings.get("base_url") or settings.get("api_key")):
        raise ConfigError(f"The {what} needs an OpenAI-compatible server: base_url (and model, api_key if needed).")
    return create_llm("openai", dict(settings))


def format_memories(hits: Sequence[dict]) -> str:
    lines = []
    for i, h in enumerate(hits, 1):
        when = f"[{h['date']}] " if h.get("date") else ""
        lines.append(f"{i}. {when}{h['memory']}")
    return "\n".join(lines) if lines else "(none)"


class LLMAnswerer:
    """Answers through a chat model; ``settings`` = memlab ``openai`` LLM settings (base_url, model, ...)."""

    def __init__(self, settings: dict, *, prompt: str = ANSWER_PROMPT):
        self.llm = _chat(settings, "answerer")
        self.prompt = prompt
        self.name = f"llm:{settings.get('model', 'gpt-4o-mini')}"

    def answer(self, question: str, hits: Sequence[dict]) -> str:
        text = self.prompt.format(memories=format_memories(hits), question=question)
        reply = self.llm.complete([{"role": "user", "content": text}])
        return str(reply).strip()


class ExtractiveAnswerer:
    """The offline answerer: the best-matching sentence of the retrieved memories, question words removed."""

    name = "extractive"

    def __init__(self):
        self._impl = ExtractiveResponder()

    def answer(self, question: str, hits: Sequence[dict]) -> str:
        return self._impl.answer(question, [h["memory"] for h in hits])


def make_answerer(answerer: Any):
    """``None`` / ``"extractive"`` (offline), a settings dict for an OpenAI-compatible model, or an object."""
    if answerer is None or answerer == "extractive":
        return ExtractiveAnswerer()
    if isinstance(answerer, dict):
        return LLMAnswerer(answerer)
    if hasattr(answerer, "answer"):
        return answerer
    raise ConfigError(f"answerer must be 'extractive', an OpenAI settings dict or an object with answer(), "
                      f"got {answerer!r}.")


class LLMJudge:
    """The J judge: ``judge(question, gold, answer) -> (correct, raw reply)``."""

    def __init__(self, settings: Any, *, prompt: str = J_PROMPT):
        if hasattr(settings, "complete"):  # an LLM object
            self.llm, model = settings, getattr(settings, "model", type(settings).__name__)
        else:
            self.llm, model = _chat(dict(settings or {}), "judge"), dict(settings).get("model", "gpt-4o-mini")
        self.prompt = prompt
        self.name = f"judge:{model}"

    def judge(self, question: str, gold: str, answer: str) -> tuple[bool, str]:
        text = self.prompt.format(question=question, gold_answer=gold, generated_answer=answer)
        reply = str(self.llm.complete([{"role": "user", "content": text}], json_mode=True))
        return parse_label(reply), reply


def parse_label(reply: str) -> bool:
    """CORRECT -> True, WRONG -> False, from ``{"label": ...}`` or the last label word in the text."""
    match = re.search(r"\{.*\}", reply, re.S)
    if match:
        try:
            label = str(json.loads(match.group(0)).get("label", "")).upper()
            if label in ("CORRECT", "WRONG"):
                return label == "CORRECT"
        except (json.JSONDecodeError, AttributeError):
            pass
    found = re.findall(r"\b(CORRECT|WRONG|INCORRECT)\b", reply.upper())
    if not found:
        raise ProviderError(f"The judge replied without a CORRECT/WRONG label: {reply[:200]!r}.")
    return found[-1] == "CORRECT"
