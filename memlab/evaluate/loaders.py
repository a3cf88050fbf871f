"""Loaders for public benchmarks: LoCoMo (``locomo10.json``) and LongMemEval.

Both are turned into a :class:`~memlab.evaluate.datasets.Dataset` at *turn level*: every dialogue
turn is one memory, and the turns a question's evidence points at are its relevant memories.
Whatever a loader repairs or skips is written to ``dataset.report`` (never dropped silently).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Optional, Union

import pandas as pd

from memlab.errors import NotFoundError, ValidationError
from memlab.evaluate.datasets import (
    BUNDLED,
    QREL_COLUMNS,
    QUERY_COLUMNS,
    Dataset,
    LoadReport,
    load_bundled,
    load_jsonl,
)

# LoCoMo's own evaluation code names the integer categories like this; other papers (e.g. mem0's)
# relabel them, so the integer stays in ``category`` and this label goes to ``category_label``.
LOCOMO_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_DIA_ID = re.compile(r"D(\d+):(\d+)")
_SESSION = re.compile(r"session_(\d+)$")


def _read_json(path: Union[str, Path], what: str):
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{what} file {str(path)!r} does not exist.")
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}).") from None


def parse_locomo_date(text: str) -> Optional[pd.Timestamp]:
    """LoCoMo session dates look like ``"1:56 pm on 8 May, 2023"``."""
    for fmt in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return pd.Timestamp(datetime.strptime(text.strip(), fmt))
        except (ValueError, AttributeError):
            continue
    return None


def parse_longmemeval_date(text: Optional[str]) -> Optional[pd.Timestamp]:
    """LongMemEval dates look like ``"2023/05/20 (Sat) 02:21"`` (the weekday is dropped)."""
    if not text:
        return None
    when = pd.to_datetime(re.sub(r"\s*\([A-Za-z]+\)\s*", " ", str(text)).strip(), errors="coerce")
    return None if pd.isna(when) else when


def _repair_evidence(raw: str) -> list[str]:
    """Valid ``D<session>:<turn>`` ids inside one raw evidence string (possibly none)."""
    if _DIA_ID.fullmatch(raw):
        return [raw]
    # "D8:6; D9:17" (two ids in one string) and "D:11:26" (a stray colon) carry recoverable ids.
    return [f"D{s}:{t}" for s, t in re.findall(r"D:?(\d+):(\d+)", raw)]


def load_locomo(path: Union[str, Path], *, include_captions: bool = False) -> Dataset:
    """Load LoCoMo (``locomo10.json`` schema) at turn level.

    - memories: one per dialogue turn, id ``"<sample_id>:<dia_id>"``, ``scope = sample_id`` (one
      conversation = one memory owner; it becomes the memlab ``user_id``), text
      ``"<speaker>: <text>"`` (plus ``[shares a photo: <blip_caption>]`` for image turns when
      ``include_captions``), time = the session's date.
    - queries: every QA item, id ``"<sample_id>:q<index>"``, ``category`` = LoCoMo's integer,
      ``category_label`` per LoCoMo's own scheme, ``answerable = category != 5`` (adversarial).
    - qrels: evidence dia_ids of answerable questions (relevance 1). Adversarial questions keep
      their evidence in the ``evidence`` column but get no qrels: nothing should be retrieved.

    Reported in ``dataset.report``: malformed evidence ids (repaired when an id can be recovered,
    e.g. ``"D8:6; D9:17"`` or ``"D:11:26"``, skipped otherwise), evidence naming no existing turn,
    and answerable questions left without evidence (kept out of ``queries``, listed in the report).
    """
    data = _read_json(path, "LoCoMo")
    if not isinstance(data, list) or not all(isinstance(s, dict) and "conversation" in s for s in data):
        raise ValidationError(f"{path} does not look like LoCoMo: expected a list of samples with 'conversation'.")
    report = LoadReport(str(path))
    memories, queries, qrels = [], [], []
    for sample in data:
        sid = str(sample.get("sample_id"))
        conv = sample["conversation"]
        turn_ids: set[str] = set()
        sessions = sorted((int(m.group(1)), k) for k in conv if (m := _SESSION.match(k)))
        for num, key in sessions:
            date_raw = conv.get(f"{key}_date_time")
            when = parse_locomo_date(date_raw) if date_raw else None
            if when is None:
                report.add("bad_session_date", f"cannot parse {date_raw!r}; time left empty", sample=sid, session=num)
            for turn in conv[key] or []:
                text = f"{turn.get('speaker', '?')}: {turn.get('text', '')}"
                caption = turn.get("blip_caption")
                if include_captions and caption:
                    text += f" [shares a photo: {caption}]"
                dia = turn["dia_id"]
                turn_ids.add(dia)
                memories.append({
                    "id": f"{sid}:{dia}", "scope": sid, "text": text, "time": when,
                    "metadata": {"speaker": turn.get("speaker"), "dia_id": dia, "session": num,
                                 **({"blip_caption": caption} if caption else {})},
                })
        for i, qa in enumerate(sample.get("qa") or []):
            qid = f"{sid}:q{i}"
            cat = int(qa.get("category", 0))
            answerable = cat != 5
            evidence: list[str] = []
            for raw in qa.get("evidence") or []:
                fixed = _repair_evidence(str(raw).strip())
                if fixed != [raw]:
                    report.add("malformed_evidence", f"{raw!r} -> {fixed or 'skipped'}", sample=sid, query=qid)
                for dia in fixed:
                    if dia not in turn_ids:
                        report.add("unknown_evidence", f"{dia!r} names no turn of {sid}", sample=sid, query=qid)
                    elif dia not in evidence:
                        evidence.append(dia)
            if answerable and not evidence:
                report.add("no_evidence", "answerable question without usable evidence; left out",
                           sample=sid, query=qid, question=qa.get("question"))
                continue
            queries.append({"id": qid, "scope": sid, "text": qa["question"], "category": cat,
                            "category_label": LOCOMO_CATEGORIES.get(cat, str(cat)), "answerable": answerable,
                            "answer": str(qa.get("answer", qa.get("adversarial_answer", ""))),
                            "evidence": evidence})
            if answerable:
                qrels += [{"query_id": qid, "memory_id": f"{sid}:{d}", "relevance": 1.0} for d in evidence]
    return Dataset("locomo", pd.DataFrame(memories), pd.DataFrame(queries, columns=QUERY_COLUMNS + [
        "category_label", "answer", "evidence"]), pd.DataFrame(qrels, columns=QREL_COLUMNS),
        "LoCoMo (Maharana et al., ACL 2024), turn level, one scope per conversation.", report)


def load_longmemeval(path: Union[str, Path]) -> Dataset:
    """Load LongMemEval (``longmemeval_s/m/oracle.json``) at turn level.

    Every question has its own haystack, so ``scope = question_id``: memories are the turns of
    that question's haystack sessions (id ``"<question_id>:<session_id>:<turn>"``, time = the
    session date). Relevant memories are the turns marked ``has_answer``; when an answer session
    has no marked turn, all its turns are relevant (reported as ``session_level_qrels``).
    Abstention questions (``question_id`` ending in ``_abs``) are unanswerable and get no qrels.
    """
    data = _read_json(path, "LongMemEval")
    if not isinstance(data, list) or not all(isinstance(x, dict) and "haystack_sessions" in x for x in data):
        raise ValidationError(f"{path} does not look like LongMemEval: expected a list with 'haystack_sessions'.")
    report = LoadReport(str(path))
    memories, queries, qrels = [], [], []
    for item in data:
        qid = str(item["question_id"])
        answerable = not qid.endswith("_abs")
        sess_ids = item.get("haystack_session_ids") or [f"s{i}" for i in range(len(item["haystack_sessions"]))]
        dates = item.get("haystack_dates") or [None] * len(sess_ids)
        answer_sessions = set(item.get("answer_session_ids") or [])
        relevant: list[str] = []
        for sess_id, date, session in zip(sess_ids, dates, item["haystack_sessions"]):
            when = parse_longmemeval_date(date)
            ids = []
            for t, turn in enumerate(session):
                content = str(turn.get("content", "")).strip()
                if not content:
                    report.add("empty_turn", "skipped", query=qid, session=sess_id, turn=t)
                    continue
                mid = f"{qid}:{sess_id}:{t}"
                ids.append(mid)
                memories.append({"id": mid, "scope": qid, "text": f"{turn.get('role', '?')}: {content}",
                                 "time": when, "metadata": {"role": turn.get("role"), "session": sess_id}})
                if turn.get("has_answer"):
                    relevant.append(mid)
            if answerable and sess_id in answer_sessions and not any(m in relevant for m in ids):
                report.add("session_level_qrels", "no turn marked has_answer; whole session relevant",
                           query=qid, session=sess_id)
                relevant += ids
        if answerable and not relevant:
            report.add("no_evidence", "answerable question without evidence turns; left out", query=qid)
            continue
        queries.append({"id": qid, "scope": qid, "text": item["question"], "category": item.get("question_type"),
                        "answerable": answerable, "answer": str(item.get("answer", ""))})
        if answerable:
            qrels += [{"query_id": qid, "memory_id": m, "relevance": 1.0} for m in dict.fromkeys(relevant)]
    return Dataset("longmemeval", pd.DataFrame(memories), pd.DataFrame(queries),
                   pd.DataFrame(qrels, columns=QREL_COLUMNS), "LongMemEval (Wu et al., 2024), turn level.", report)


def load_dataset(spec: Union[str, Path]) -> Dataset:
    """Load by name or path: a bundled name, a memlab ``.jsonl`` file, or a LoCoMo / LongMemEval ``.json``."""
    spec_s = str(spec)
    if spec_s in BUNDLED:
        return load_bundled(spec_s)
    path = Path(spec_s)
    if not path.is_file():
        raise NotFoundError(
            f"{spec_s!r} is neither a bundled dataset ({', '.join(sorted(BUNDLED))}) nor an existing file."
        )
    if path.suffix == ".jsonl":
        return load_jsonl(path)
    with path.open(encoding="utf-8") as fh:
        head = fh.read(4096)
    if '"sample_id"' in head or '"conversation"' in head or '"qa"' in head:
        return load_locomo(path)
    if '"haystack_sessions"' in head or '"question_id"' in head:
        return load_longmemeval(path)
    raise ValidationError(f"Cannot tell the format of {spec_s!r}: expected memlab .jsonl, LoCoMo or LongMemEval JSON.")
