"""The ``time`` search channel: which memories were written when the query says something happened.

People ask a memory about a date: "What did Nate cook in November 2022?", "Who did Maria have
dinner with on May 3, 2023?". Neither embeddings nor BM25 can connect "November 2022" to a
message written that month: the date is not in the message, it is *when* the message was written
(its ``created_at``, which ``add(..., timestamp=...)`` sets for conversations stored after the fact).
LongMemEval's time-aware query expansion (Wu et al., 2024) narrows retrieval the same way.

The channel is 1 for a memory whose ``created_at`` date falls in a date range the query names,
else 0 — and 0 for every memory when the query names no date, so it never moves such a search
(a constant channel contributes nothing after normalisation; see memlab.ranking.fusion). A range
is extended by :data:`AFTER_DAYS` days past its end: people mention events in the days after
they happen ("I went camping last week").

A memory's own text can name a relative date too: "I went camping last week", written on 8 May 2023,
is about the week of 1 May. Such a memory also matches when that range, read against the memory's
own ``created_at`` (:func:`memory_time_match`), overlaps the query's.

Recognised (English) absolute dates — relative ones ("last week", "yesterday") only against a
``reference_date`` (:func:`relative_ranges`, through the ``dateparser`` package):

- a day: ``3 June 2023``, ``June 3rd, 2023``, ``2023-06-03``;
- a month: ``June 2023``, ``Jun. 2023``; a month without a year after a preposition
  (``in June``, ``during July``) matches that month of any year;
- a year: ``2023`` (1900-2099).

    >>> [(str(a), str(b)) for a, b, _ in query_ranges("What did Mel paint on 13 October, 2023?")]
    [('2023-10-13', '2023-10-13')]
    >>> [(str(a), str(b)) for a, b, _ in query_ranges("Who came in July 2023?")]
    [('2023-07-01', '2023-07-31')]
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np

AFTER_DAYS = 7
_MONTH = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTH.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTH["sept"] = 9
_MON = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
        r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
# most specific first; a span matched by one pattern is not matched again by a later one
_PATTERNS = [
    ("dmy", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MON}\.?,?\s+{_YEAR}\b", re.I)),
    ("mdy", re.compile(rf"\b{_MON}\.?\s+{_DAY},?\s+{_YEAR}\b", re.I)),
    ("iso", re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")),
    ("my", re.compile(rf"\b{_MON}\.?,?\s+(?:of\s+)?{_YEAR}\b", re.I)),
    # a bare month only after a preposition: "May I ask" and "march on" are not dates
    ("m", re.compile(rf"\b(?:in|during|of|since|until|before|after|by|early|late|mid|last|this|next|around)"
                     rf"\s+{_MON}\b(?!\s*\d)", re.I)),
    ("y", re.compile(rf"\b{_YEAR}\b")),
]

# every date form above holds a year or a word starting with a month's abbreviation: a cheap check
# rules most queries out before the patterns run (they cost ~10 us on a typical question)
_YEARISH = re.compile(r"(?:19|20)\d\d")
_MONTH3 = frozenset(m.lower() for m in calendar.month_abbr if m)


def _maybe_date(text: str) -> bool:
    return bool(_YEARISH.search(text)) or not _MONTH3.isdisjoint(w[:3] for w in text.lower().split())

Range = tuple  # (start: datetime64[D] | month number, end: datetime64[D] | None, year_known: bool)


def _month(name: str) -> int:
    name = name.lower().rstrip(".")
    return _MONTH.get(name) or _MONTH[name[:3]]


def _day(y: int, m: int, d: int) -> Optional[np.datetime64]:
    if not 1 <= m <= 12 or not 1 <= d <= calendar.monthrange(y, m)[1]:
        return None
    return np.datetime64(f"{y:04d}-{m:02d}-{d:02d}", "D")


def query_ranges(text: str) -> list[Range]:
    """The absolute date ranges ``text`` names (see the module docstring), in pattern order."""
    out: list[Range] = []
    if not text or not _maybe_date(text):
        return out
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text or ""):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue
            g = match.groups()
            if kind in ("dmy", "mdy", "iso"):
                y, m, d = ((int(g[2]), _month(g[1]), int(g[0])) if kind == "dmy" else
                           (int(g[2]), _month(g[0]), int(g[1])) if kind == "mdy" else
                           (int(g[0]), int(g[1]), int(g[2])))
                day = _day(y, m, d)
                if day is None:
                    continue
                found: Range = (day, day, True)
            elif kind == "my":
                start = np.datetime64(f"{int(g[1]):04d}-{_month(g[0]):02d}", "M")
                found = (start.astype("datetime64[D]"), (start + 1).astype("datetime64[D]") - 1, True)
            elif kind == "m":
                found = (_month(g[0]), None, False)
            else:
                start = np.datetime64(g[0], "Y")
                found = (start.astype("datetime64[D]"), (start + 1).astype("datetime64[D]") - 1, True)
            taken.append(match.span())
            out.append(found)
    return out


_RELATIVE = re.compile(r"\b(ago|yesterday|today|tonight|last|this|next|past|previous|recently|earlier)\b", re.I)


def relative_ranges(text: str, reference) -> list[Range]:
    """The date ranges relative expressions in ``text`` name ("last week", "two months ago", "yesterday"),
    read against ``reference`` (a datetime) by the ``dateparser`` package: the day, week (Monday to
    Sunday), month or year the expression points into. Nothing without a reference or a relative word."""
    if reference is None or not text or not _RELATIVE.search(text):
        return []
    from dateparser.search import search_dates

    found = search_dates(text, languages=["en"], settings={
        "RELATIVE_BASE": reference.replace(tzinfo=None), "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False}) or []
    out: list[Range] = []
    for phrase, when in found:
        if not _RELATIVE.search(phrase):
            continue  # an absolute date: query_ranges reads those
        day = np.datetime64(when.date(), "D")
        low = phrase.lower()
        if "week" in low:
            start = day - np.timedelta64(when.weekday(), "D")
            out.append((start, start + np.timedelta64(6, "D"), True))
        elif "month" in low:
            m = day.astype("datetime64[M]")
            out.append((m.astype("datetime64[D]"), (m + 1).astype("datetime64[D]") - 1, True))
        elif "year" in low:
            y = day.astype("datetime64[Y]")
            out.append((y.astype("datetime64[D]"), (y + 1).astype("datetime64[D]") - 1, True))
        else:
            out.append((day, day, True))
    return out


@lru_cache(maxsize=65536)
def memory_ranges(text: str, day: str) -> tuple:
    """The date ranges relative expressions in a memory's own text point to, read against the day it was
    written: "I went camping last week" written on 8 May 2023 is about 1-7 May. Cached per (text, day)."""
    return tuple(relative_ranges(text, datetime.fromisoformat(day)))


def memory_time_match(texts: Sequence[Optional[str]], days: np.ndarray, ranges: Sequence[Range]) -> np.ndarray:
    """1.0 where a memory's text names a relative date ("last week", "yesterday") whose range, read against
    the memory's own date, overlaps one of the query's ``ranges``; else 0.0."""
    hit = np.zeros(len(days))
    if not ranges:
        return hit
    for i, (text, day) in enumerate(zip(texts, days)):
        if not isinstance(text, str) or np.isnat(day) or not _RELATIVE.search(text):
            continue
        for start, end, _ in memory_ranges(text, str(day)):
            for q_start, q_end, year_known in ranges:
                if year_known:
                    hit[i] = max(hit[i], float(start <= q_end and q_start <= end))
                else:  # a month without a year: any month the memory's range touches
                    months = np.arange(start.astype("datetime64[M]"), end.astype("datetime64[M]") + 1)
                    hit[i] = max(hit[i], float(any(int(str(m)[5:7]) == q_start for m in months)))
    return hit


def created_days(created_at: Sequence[Optional[str]]) -> np.ndarray:
    """The calendar date (``datetime64[D]``, NaT when missing or unreadable) of ISO timestamps.

    The date is the one written in the timestamp (its own time zone), the day the user lived.
    """
    out = np.full(len(created_at), np.datetime64("NaT"), dtype="datetime64[D]")
    for i, value in enumerate(created_at):
        if isinstance(value, str) and len(value) >= 10:
            try:
                out[i] = np.datetime64(value[:10], "D")
            except ValueError:
                pass
    return out


def time_match(days: np.ndarray, ranges: Sequence[Range], after_days: int = AFTER_DAYS) -> np.ndarray:
    """1.0 where a date of ``days`` falls in one of ``ranges`` (each extended ``after_days`` past
    its end), else 0.0; NaT never matches."""
    hit = np.zeros(len(days), dtype=bool)
    if not len(days) or not ranges:
        return hit.astype(np.float64)
    valid = ~np.isnat(days)
    lag = np.timedelta64(int(after_days), "D")
    for start, end, year_known in ranges:
        if year_known:
            hit |= valid & (days >= start) & (days <= end + lag)
            continue
        # a month without a year: that month of the memory's own year, or of the year before
        # (a December event mentioned in early January)
        years = days.astype("datetime64[Y]")
        for back in (0, 1):
            first = (years - back).astype("datetime64[M]") + (start - 1)
            lo = first.astype("datetime64[D]")
            hi = (first + 1).astype("datetime64[D]") - 1 + lag
            hit |= valid & (days >= lo) & (days <= hi)
    return hit.astype(np.float64)
