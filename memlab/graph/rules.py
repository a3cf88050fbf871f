"""Offline, deterministic graph extraction from plain declarative English sentences.

What it reads (subject = ``I``/``my`` -> the scope's own entity, or a capitalised name; a line
``"Name: ..."`` makes ``Name`` the speaker of that line):

============================================  =================================================
sentence                                      relation
============================================  =================================================
X works at / works for Y                      x -- works_at -- y          (one value)
X works as a Y                                x -- works_as -- y          (one value)
X lives in Y; X moved / relocated to Y        x -- lives_in -- y          (one value)
X was born in Y                               x -- born_in -- y           (one value)
X is from Y; X comes from Y                   x -- from -- y              (one value)
X studies at / goes to school at Y            x -- studies_at -- y        (one value)
X is married to Y                             x -- married_to -- y        (one value)
X likes / loves / enjoys / hates / dislikes /
prefers Y                                     x -- likes / loves / ... -- y
X speaks / plays / visited / knows / met Y    x -- speaks / plays / visited / knows / met -- y
X's sister (brother, friend, ...) is Y;
Y is X's sister; my sister is Y               x -- has_sister -- y
X is friends with Y                           x -- friend_of -- y
============================================  =================================================

Updates: a new value of a one-value relation deletes the old one ("Alice moved to Munich"
removes alice -- lives_in -- berlin); a preference deletes the opposite one (hates removes
likes/loves/enjoys of the same object and vice versa); a negated sentence ("no longer works
at Acme", "doesn't like tea", "... anymore") deletes the matching relation. Anything else —
pronouns other than I/my, relative clauses, questions, hedged or reported speech — is skipped:
this is a transparent baseline, not a parser. docs/graph.md lists the limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from memlab.graph.normalize import entity_name
from memlab.llms.rules_text import split_sentences

FAMILY = ("sister", "brother", "friend", "best friend", "mother", "mom", "father", "dad", "wife", "husband",
          "partner", "boyfriend", "girlfriend", "son", "daughter", "boss", "manager", "colleague", "cousin",
          "aunt", "uncle", "grandmother", "grandfather", "neighbor", "neighbour", "roommate", "dog", "cat")
_NAME = r"(?:[A-Z][\w'’-]*(?:\s+(?:[A-Z][\w'’-]*|de|van|von|da|del|la|le))*)"
_SUBJECT = rf"(?P<subj>I|{_NAME})"
_ADVERBS = r"(?:(?:also|now|still|really|recently|currently|just|finally|actually|already|since then|have|has|had)\s+)*"
_NEG = r"(?P<neg>(?:do|does|did)\s+not\s+|(?:don't|doesn't|didn't|don’t|doesn’t|didn’t)\s+|no longer\s+|never\s+|(?:am|is|are|was)\s+not\s+|(?:isn't|aren't|wasn't)\s+)?"
_LEAD = re.compile(r"^(?:(?:yesterday|today|last \w+|recently|now|so|well|oh|also|and|but|actually),?\s+)+",
                   re.IGNORECASE)
_SPEAKER = re.compile(rf"^\s*(?P<speaker>{_NAME}):\s+")
_STOP = re.compile(r"\s+(?:with|since|because|and|but|for|last|next|this|ago|when|where|who|whom|which|that|after|"
                   r"before|now|anymore|any more|these days|every|during|until|as|so|then|too|also|yesterday|today|"
                   r"tomorrow|in|at|on|from|by|if|or|while|though|although|lately|again)\b.*$", re.IGNORECASE)
_DETERMINER = re.compile(r"^(?:the|a|an|my|his|her|their|our|your|some|to)\s+", re.IGNORECASE)
_PRONOUN_OBJECT = {"it", "them", "him", "her", "that", "this", "you", "me", "us", "there", "here", "those", "these",
                   "everything", "anything", "something", "nothing", "so", "much", "a lot", "lots", "to"}
_RETRACTION_END = re.compile(r"\s+(?:anymore|any more|any longer)\b", re.IGNORECASE)

# (verb pattern after the subject, relationship, object type, one value per subject?)
VERBS: list[tuple[str, str, str, bool]] = [
    (r"(?:works?|worked|working|am working|is working|are working)\s+(?:at|for)", "works_at", "organization", True),
    (r"(?:works?|worked|working|am working|is working)\s+as", "works_as", "role", True),
    (r"(?:lives?|lived|living|am living|is living|are living)\s+in", "lives_in", "location", True),
    (r"(?:moved|moves?|moving|relocated|relocates?|am moving|is moving|have moved|has moved)\s+(?:back\s+)?to",
     "lives_in", "location", True),
    (r"(?:was|were|am|is)\s+born\s+in", "born_in", "location", True),
    (r"(?:am|is|are|come|comes|came)\s+from", "from", "location", True),
    (r"(?:study|studies|studied|studying|am studying|is studying|goes? to school|went to school|"
     r"attends?|attended)\s+at", "studies_at", "organization", True),
    (r"(?:attends?|attended)", "studies_at", "organization", True),
    (r"(?:am|is|are|was|got)\s+married\s+to", "married_to", "person", True),
    (r"(?:am|is|are)\s+friends\s+with", "friend_of", "person", False),
    (r"(?:likes?|liked)", "likes", "thing", False),
    (r"(?:loves?|loved)", "loves", "thing", False),
    (r"(?:enjoys?|enjoyed)", "enjoys", "thing", False),
    (r"(?:hates?|hated)", "hates", "thing", False),
    (r"(?:dislikes?|disliked)", "dislikes", "thing", False),
    (r"(?:prefers?|preferred)", "prefers", "thing", False),
    (r"(?:speaks?|spoke)", "speaks", "language", False),
    (r"(?:plays?|played)", "plays", "thing", False),
    (r"(?:visited|visits?)", "visited", "location", False),
    (r"(?:knows?|knew)", "knows", "person", False),
    (r"(?:met|meets?)", "met", "person", False),
]
POSITIVE = {"likes", "loves", "enjoys", "prefers"}
NEGATIVE = {"hates", "dislikes"}
ONE_VALUE = {rel for _, rel, _, single in VERBS if single}
# the verb tables are case-insensitive, the subject keeps its capital: hence the inline (?i:...) group
_VERB_RES = [(re.compile(rf"^{_SUBJECT}\s+{_ADVERBS}{_NEG}{_ADVERBS}(?P<verb>(?i:{pat}))\s+(?P<obj>.+)$"), rel, otype)
             for pat, rel, otype, _ in VERBS]
# Base verb forms: after a named (third-person) subject they mean the "subject" is no name at all
# ("Sounds like fun", "Looks like rain", "Events like these"), unless a negation precedes them.
_BASE_FORMS = {"like", "love", "enjoy", "hate", "dislike", "prefer", "speak", "play", "visit", "know", "meet",
               "live", "work", "move", "study", "attend", "come", "relocate", "go", "am", "are"}
_OBJECT_START = re.compile(r"^(?:i|you|he|she|we|they|it|that|how|what|when|where|why|who|if)\b|'", re.IGNORECASE)
_FAMILY_RE = "|".join(sorted((re.escape(f) for f in FAMILY), key=len, reverse=True))
# "Alice's sister is Anna" / "My sister is Anna" / "My sister's name is Anna"
_OWNER_FIRST = re.compile(rf"^(?P<owner>My|my|{_NAME}(?:'s|’s))\s+(?P<rel>{_FAMILY_RE})(?:'s name|’s name)?\s+"
                          rf"(?:is|was)\s+(?:called\s+|named\s+)?(?P<obj>{_NAME})\b")
# "Anna is Alice's sister" / "Anna is my sister"
_OWNER_LAST = re.compile(rf"^(?P<obj>{_NAME})\s+is\s+(?P<owner>my|{_NAME}(?:'s|’s))\s+(?P<rel>{_FAMILY_RE})\b")
_NOT_SUBJECT = {"what", "where", "when", "who", "why", "how", "which", "do", "does", "did", "is", "are", "can",
                "could", "would", "should", "will", "have", "has", "the", "this", "that", "there", "it", "he",
                "she", "they", "we", "you", "hey", "hi", "hello", "thanks", "thank", "yes", "no", "ok", "okay"}


@dataclass(frozen=True)
class Statement:
    """One relation read from a sentence; ``negated`` statements retract instead of add."""

    source: str
    relationship: str
    destination: str
    source_type: str
    destination_type: str
    negated: bool = False

    def triple(self) -> dict:
        return {"source": self.source, "relationship": self.relationship, "destination": self.destination,
                "source_type": self.source_type, "destination_type": self.destination_type}


def _object(raw: str) -> Optional[str]:
    if _OBJECT_START.match(raw.strip()):  # a clause ("I know I'll be ok", "love how it looks"), not a thing
        return None
    text = re.split(r"[,.;:!?()\"]", raw, maxsplit=1)[0]
    text = _STOP.sub("", " " + text).strip()
    while _DETERMINER.match(text):
        text = _DETERMINER.sub("", text, count=1)
    words = text.split()
    if not words or len(words) > 5 or text.lower() in _PRONOUN_OBJECT:
        return None
    return entity_name(text)


def _subject(raw: str, self_name: Optional[str]) -> Optional[str]:
    if raw == "I":
        return self_name
    first = re.sub(r"(?:'|’)\w*$", "", raw.split()[0]).lower()  # "It's" -> "it", "I'd" -> "i"
    if first in _NOT_SUBJECT or first == "i":
        return None
    return entity_name(raw)


def _sentences(text: str, self_name: Optional[str]) -> list[tuple[str, Optional[str]]]:
    """(sentence, who "I" is) pairs; a ``Name:`` line prefix makes Name the speaker of the line."""
    out = []
    for line in text.splitlines():
        speaker = self_name
        m = _SPEAKER.match(line)
        if m:
            speaker = entity_name(m.group("speaker")) or self_name
            line = line[m.end():]
        for sentence in split_sentences(line):
            sentence = _LEAD.sub("", sentence.strip())
            sentence = re.sub(r"\bI(?:'|’)m\b", "I am", sentence)
            sentence = re.sub(r"\bI(?:'|’)ve\b", "I have", sentence)
            if sentence and not sentence.rstrip().endswith("?"):
                out.append((sentence, speaker))
    return out


def read_statements(text: str, self_name: Optional[str]) -> list[Statement]:
    """Every relation the rules recognise in ``text``, in order."""
    found: list[Statement] = []
    for sentence, speaker in _sentences(text, self_name):
        found.extend(_family(sentence, speaker))
        for regex, rel, otype in _VERB_RES:
            m = regex.match(sentence)
            if not m:
                continue
            subj = _subject(m.group("subj"), speaker)
            negated = bool(m.group("neg")) or bool(_RETRACTION_END.search(sentence))
            third_person = m.group("subj") != "I"
            if third_person and not negated and m.group("verb").split()[0].lower() in _BASE_FORMS:
                break
            obj = _object(m.group("obj"))
            if subj and obj and subj != obj:
                found.append(Statement(subj, rel, obj, "person", otype, negated))
            break  # first matching verb pattern wins (order in VERBS: specific before general)
    return found


def _family(sentence: str, speaker: Optional[str]) -> list[Statement]:
    for regex in (_OWNER_FIRST, _OWNER_LAST):
        m = regex.match(sentence)
        if not m:
            continue
        owner_raw = m.group("owner")
        owner = speaker if owner_raw.lower() == "my" else entity_name(owner_raw)
        obj = entity_name(m.group("obj"))
        rel = "has_" + m.group("rel").lower().replace(" ", "_").replace("neighbour", "neighbor")
        if owner and obj and owner != obj and obj.split("_")[0] not in _NOT_SUBJECT:
            return [Statement(owner, rel, obj, "person", "person")]
    return []


class RulesGraphExtractor:
    """The ``rules`` provider's graph jobs (mem0's three tool calls, answered by the rules above)."""

    name = "rules"

    def entities(self, text: str, self_name: Optional[str]) -> dict[str, str]:
        """Entities of a text (or query): subjects/objects of recognised relations, capitalised names,
        and the scope's own entity for I/me/my."""
        out: dict[str, str] = {}
        for st in read_statements(text, self_name):
            out.setdefault(st.source, st.source_type)
            out.setdefault(st.destination, st.destination_type)
        for m in re.finditer(rf"\b{_NAME}", text):
            name = entity_name(m.group(0))
            if name and name.split("_")[0] not in _NOT_SUBJECT and name != "i":
                out.setdefault(name, "entity")
        if self_name and re.search(r"\b(?:I|me|my|mine|myself)\b", text, re.IGNORECASE):
            out.setdefault(self_name, "person")
        return out

    def relations(self, text: str, self_name: Optional[str], entities: dict[str, str]) -> list[dict]:
        """Relations to add (positive statements), deduplicated, in order."""
        seen, out = set(), []
        for st in read_statements(text, self_name):
            key = (st.source, st.relationship, st.destination)
            if not st.negated and key not in seen:
                seen.add(key)
                out.append(st.triple())
        return out

    def deletions(self, existing: list[dict], text: str, self_name: Optional[str],
                  added: list[dict]) -> list[dict]:
        """Existing relations the new text contradicts (see the module docstring)."""
        statements = read_statements(text, self_name)
        doomed = []
        for rel in existing:
            s, r, d = rel["source"], rel["relationship"], rel["destination"]
            for st in statements:
                if st.source != s:
                    continue
                if st.negated:
                    same_family = r == st.relationship or (st.relationship in POSITIVE and r in POSITIVE)
                    hit = same_family and d == st.destination
                elif st.relationship in ONE_VALUE:
                    hit = r == st.relationship and d != st.destination
                else:
                    opposite = (POSITIVE if st.relationship in NEGATIVE else NEGATIVE
                                if st.relationship in POSITIVE else set())
                    hit = r in opposite and d == st.destination
                if hit:
                    doomed.append({"source": s, "relationship": r, "destination": d})
                    break
        return doomed
