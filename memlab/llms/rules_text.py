"""Text rules of the offline ``rules`` LLM: sentences -> third-person facts, and fact shapes.

Everything is a pure, deterministic function of the input text (English only). See
docs/llm.md ("The rules provider") for what these rules handle and what they do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# ----------------------------------------------------------------------------- splitting
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+|;\s+")
# "I love hiking and I hate running" -> two clauses (only when a new first-person clause starts)
_CLAUSE_JOIN = re.compile(r",?\s+(?:and|but|so|although|though|while|because)\s+(?=(?:I|I'm|I've|I'd|I'll|my|My)\b)"
                          r"|,\s+(?=(?:I|I'm|I've|I'd|I'll|My)\b)")
# Run-on text without punctuation ("I'm 30 I live in Paris"): a capitalised "I"/"My" in the middle
# starts a new statement unless it follows a word that introduces a clause ("I think I ...").
_RUN_ON = re.compile(
    r"(?<!\band)(?<!\bbut)(?<!\bor)(?<!\bthat)(?<!\bif)(?<!\bwhen)(?<!\bbecause)(?<!\bso)(?<!\bas)"
    r"(?<!\bthan)(?<!\bwhere)(?<!\bwhat)(?<!\bwhich)(?<!\bwho)(?<!\bhow)(?<!\bwhy)(?<!\bthink)(?<!\bguess)"
    r"(?<!\bknow)(?<!\bsaid)(?<!\bhope)(?<!\bwish)(?<!\bfeel)(?<!\bthought)(?<!\bbefore)(?<!\bafter)"
    r"(?<!\bwhile)(?<!\buntil)(?<!\bsince)(?<!\bunless)(?<!\bonce)(?<!\bmean)(?<!\bbelieve)"
    r"(?<=\w)\s+(?=(?:I|I'm|I've|I'd|I'll|My)\s)")
# "Big news: I moved" / "Update - I moved": a short lead-in before the statement
_LEAD_IN = re.compile(r"^[\w' ]{1,25}(?::|\s+-)\s+(?=(?:I|My|my)\b)")
_FILLER = re.compile(
    r"^(?:(?:well|oh|ah|hey|so|also|actually|anyway|anyways|btw|by the way|honestly|basically|now|"
    r"ok|okay|yeah|yes|yep|no|nope|um|uh|hmm|and|but|plus|oh well|fun fact|just so you know|"
    r"guess what|to be honest|tbh|lately|these days|nowadays|currently|at the moment)\b[,!.:]?\s*)+",
    re.I,
)
_QUESTION_START = re.compile(
    r"^(?:what|who|whom|whose|where|when|why|how|which|can|could|would|will|should|shall|may|might|"
    r"do|does|did|is|are|was|were|have|has|am)\b", re.I)
_REQUEST = re.compile(
    r"^(?:please|let's|let us|tell me|help me|remind me|show me|give me|find me|recommend|suggest|"
    r"explain|write|make|book|call me|i want you to|i need you to|i'd like you to|i would like you to|"
    r"i wonder|i was wondering|i'm wondering|i am wondering|i'm not sure|i am not sure|i guess|"
    r"i think so|i don't know|i do not know|i'd like to know|i would like to know|i want to know|"
    r"i need to know|i need help|i have a question|i'm looking for|i am looking for|i'm asking|i am asking)\b",
    re.I,
)
_CHITCHAT = re.compile(
    r"^(?:hi|hello|hey|hiya|yo|good (?:morning|afternoon|evening|night)|thanks?(?: (?:so much|a lot|a ton|again))?|thank you(?: so much| very much| again)?|"
    r"thx|ty|cheers|bye|goodbye|see you|see ya|ok|okay|sure|great|cool|nice|awesome|perfect|wow|lol|"
    r"haha|yes|no|yeah|yep|nope|right|fine|got it|sounds good|no problem|np|you're welcome|"
    r"i see|i agree|me too|same|that's (?:great|nice|cool|good|true|right|funny|interesting)|"
    r"(?:i'm|i am) (?:fine|good|ok|okay|great|well|doing well|doing good|doing fine)"
    r"(?:,? (?:thanks?|thank you))?(?:,? (?:and you|how are you|you))?|how are you)$",
    re.I,
)
# "I'm allergic to peanuts, remember?" is a statement with a tag question
_TAG_QUESTION = re.compile(r",?\s+(?:remember|right|you know|ok|okay|yeah|isn't it|don't you think|"
                           r"didn't I|haven't I|aren't I|don't I|wasn't I)\s*\?$", re.I)
_FIRST_PERSON_START = re.compile(r"^(?:I|My)\b")
# "Alice works at Acme", "Tom's sister is ...", "She lives in Oslo": a statement about someone else
_THIRD_PERSON = re.compile(r"^(?:(?P<pronoun>He|She|They)\s+[a-z]|(?P<name>[A-Z][a-z]+)(?:'s\s|\s+(?:is|was|has|had|"
                           r"does|did|[a-z]+(?:s|ed))\b))")
_NOT_A_SUBJECT = frozenset("The This That These Those It Its There Here A An Our Your We You Their His Her Hi "
                           "Hello Hey Thanks Yes No Ok Okay So Well Then Also And But What Who".split())
THIRD_PERSON_REASON = "third-person statement about {}: the rules provider stores first-person statements only"

_CONTRACTIONS = [
    (r"\bI'm\b", "I am"), (r"\bI've\b", "I have"), (r"\bI'll\b", "I will"), (r"\bI'd\b", "I would"),
    (r"\bcan't\b", "cannot"), (r"\bwon't\b", "will not"), (r"\bain't\b", "am not"),
    (r"\b(do|does|did|is|are|was|were|have|has|had|could|would|should)n't\b", r"\1 not"),
]

# Adverbs dropped between "I" and the verb (they change no fact).
_DROP_ADVERBS = {"really", "actually", "just", "totally", "absolutely", "definitely", "honestly", "truly",
                 "also", "still", "now", "currently", "kinda", "literally", "seriously", "so", "too"}
# Adverbs kept in front of the verb (they carry meaning).
_KEEP_ADVERBS = {"usually", "often", "always", "never", "sometimes", "rarely", "recently", "finally",
                 "mostly", "generally", "occasionally", "normally", "already", "no longer"}
_MODALS = {"will": "Will", "would": "Would", "can": "Can", "cannot": "Cannot", "could": "Could",
           "should": "Should", "must": "Must", "might": "Might", "may": "May", "shall": "Shall", "ought": "Ought"}
# Present-tense verbs ending in "ed" (not past tenses): "I need coffee" -> "Needs coffee".
_PRESENT_ED = {"need", "feed", "breed", "bleed", "speed", "proceed", "succeed", "exceed", "heed", "weed",
               "seed", "embed"}
_IRREGULAR_PAST = {
    "went", "got", "bought", "saw", "met", "took", "made", "began", "left", "came", "ate", "drank", "ran",
    "wrote", "became", "quit", "found", "lost", "won", "gave", "did", "said", "told", "thought", "felt",
    "flew", "drove", "fell", "grew", "knew", "paid", "sold", "sent", "spent", "taught", "wore", "broke",
    "built", "caught", "chose", "forgot", "heard", "held", "kept", "led", "lent", "rode", "rang", "sang",
    "sat", "slept", "spoke", "stood", "swam", "threw", "understood", "woke", "brought", "fought", "read",
}
# "I'm French" / "I'm Catholic" are not introductions.
_NOT_A_NAME = re.compile(
    r"(?:ese|ish|ic|ean|ian|can|man|dan|ern|ian|i|ch|ss|ek|an)$|^(?:Thai|Greek|Dutch|Swiss|Jewish|Muslim|Hindu|Buddhist|"
    r"Christian|Mormon|Atheist|Agnostic|Vegan|Vegetarian|Single|Married|Divorced|Retired|Home|Back|Here|Done|"
    r"Ready|Sorry|Fine|Good|Okay|Ok|Tired|Hungry|Busy|Free|Sure|Happy|Sad|Late|Early|Sick)$")
_PRONOUNS = [(r"\bmyself\b", "themselves"), (r"\bmine\b", "theirs"), (r"\bmy\b", "their"), (r"\bme\b", "them"),
             (r"\bI am\b", "they are"), (r"\bI was\b", "they were"), (r"\bI\b", "they")]


def split_sentences(text: str) -> list[str]:
    """Sentences and first-person clauses of a message, in order."""
    out = []
    for sentence in _SENTENCE_END.split(text.replace("\u2019", "'").strip()):
        for clause in (c for part in _CLAUSE_JOIN.split(sentence) for c in _RUN_ON.split(part)):
            clause = clause.strip(" \t,-")
            if clause:
                out.append(clause)
    return out


def third_person(verb: str) -> str:
    """love -> loves, study -> studies, watch -> watches, have -> has."""
    v = verb.lower()
    special = {"have": "has", "be": "is", "do": "does", "go": "goes"}
    if v in special:
        return special[v]
    if re.search(r"(s|sh|ch|x|z|o)$", v):
        return v + "es"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ies"
    return v + "s"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rewrite_predicate(words: list[str]) -> Optional[str]:
    """The words after "I" as a subject-less third-person predicate."""
    kept: list[str] = []
    i = 0
    while i < len(words):
        w = words[i].lower()
        if w in _DROP_ADVERBS:
            i += 1
            continue
        if w in _KEEP_ADVERBS:
            kept.append(w)
            i += 1
            continue
        if w == "no" and i + 1 < len(words) and words[i + 1].lower() == "longer":
            kept.append("no longer")
            i += 2
            continue
        break
    rest = words[i:]
    if not rest:
        return None
    head, tail = rest[0].lower(), rest[1:]
    if head == "am":
        verb = "is"
    elif head == "was":
        verb = "was"
    elif head == "have":
        verb = "has"
    elif head == "do" and tail and tail[0].lower() == "not":
        verb, tail = "does not", tail[1:]
    elif head == "do":
        verb = "does"
    elif head in _MODALS or head == "had" or (head.endswith("ed") and head not in _PRESENT_ED) \
            or head in _IRREGULAR_PAST:
        verb = head
    elif re.fullmatch(r"[a-z]+", head):
        verb = third_person(head)
    else:
        return None
    phrase = " ".join(kept + [verb] + tail)
    return _capital(phrase)


def to_fact(sentence: str) -> tuple[Optional[str], str]:
    """One sentence -> (fact or None, reason). Reasons explain skips in the trace."""
    s = _TAG_QUESTION.sub("", sentence.strip().replace("\u2019", "'"))
    if s.endswith("?"):
        return None, "question"
    s = _FILLER.sub("", _LEAD_IN.sub("", s)).strip(" ,.!")
    if s[:3].lower() == "my ":
        s = "My " + s[3:]
    if not s:
        return None, "empty"
    bare = s.lower().strip(" .!")
    if _CHITCHAT.match(bare):
        return None, "chit-chat"
    if _REQUEST.match(s):
        return None, "request to the assistant"
    if _QUESTION_START.match(s) and not _FIRST_PERSON_START.match(s):
        return None, "question"
    if not _FIRST_PERSON_START.match(s):
        third = _THIRD_PERSON.match(s)
        who = third and ((third.group("pronoun") or "").lower() or third.group("name"))
        if who and who not in _NOT_A_SUBJECT:
            return None, THIRD_PERSON_REASON.format(who)
        return None, "not a first-person statement"
    for pattern, repl in _CONTRACTIONS:
        s = re.sub(pattern, repl, s, flags=re.I if not pattern.startswith(r"\bI") else 0)
    m = re.fullmatch(r"I am ([A-Z][a-z]+)", s)
    if m and not _NOT_A_NAME.search(m.group(1)):
        return f"Name is {m.group(1)}", "first-person statement"  # "I'm Alice"
    words = s.split()
    if words[0] == "My":
        if len(words) < 3:
            return None, "too short"
        body = " ".join(words[1:])
        fact = body
    else:
        pred = _rewrite_predicate(words[1:])
        if pred is None:
            return None, "no verb after 'I'"
        fact = pred
    for pattern, repl in _PRONOUNS:
        fact = re.sub(pattern, repl, fact)
    fact = _capital(fact.strip(" ,.!;:"))
    if len(fact.split()) < 2:
        return None, "too short"
    return fact, "first-person statement"


# ----------------------------------------------------------------------------- fact shapes
_STOP = {"a", "an", "the", "to", "in", "at", "of", "on", "for", "with", "and", "or", "is", "are", "was",
         "be", "it", "its", "their", "they", "them", "that", "this", "very", "much", "lot", "really", "so",
         "anymore", "any", "more", "longer", "no", "not", "does", "did", "do", "now", "these", "days",
         "lately", "all", "some", "from", "by", "as", "also", "just", "still", "eating", "than"}
PREFERENCE_POS = {"like", "love", "enjoy", "adore", "prefer", "fancy"}
PREFERENCE_NEG = {"hate", "dislike", "detest", "loathe", "despise"}
_RETRACTION = re.compile(r"\b(?:anymore|any more|no longer|any longer|stopped|quit|gave up|used to)\b")
_NEGATION = re.compile(r"\b(?:does not|do not|did not|not|never|no longer|anymore|any more|any longer|"
                       r"used to|stopped|quit|gave up)\b")
_FREQUENCY = {"usually", "often", "always", "sometimes", "rarely", "recently", "finally", "generally",
              "mostly", "occasionally", "normally", "already", "now", "still"}
SLOT_PATTERNS = [
    ("name", re.compile(r"^(?:name is|is called|goes by) (.+)$")),
    ("age", re.compile(r"^(?:is|turned|just turned) (\d{1,3})(?: years old| years| yo)?$")),
    ("residence", re.compile(
        r"^(?:lives|is living|living|resides|is based|has moved|moved|has relocated|relocated|is moving|"
        r"just moved|live)(?: from [\w .'-]+?)? (?:in|to) (.+)$")),
    ("employer", re.compile(
        r"^(?:works|is working|has worked|working|work) (?:at|for) (.+)$|^(?:joined|started working (?:at|for)|"
        r"got a job (?:at|with)|is employed (?:by|at)|started a new job at|has a new job at) (.+)$")),
    ("occupation", re.compile(r"^(?:works as|is working as|has a job as|is employed as) (?:a |an )?(.+)$")),
]
_KEY_VALUE = re.compile(r"^([a-z][a-z' -]{0,40}?) (?:is|are) (.+)$")
_VERBISH = re.compile(r"^(?:is|was|has|had|does|did|will|would|can|cannot|could|should|must|might|may|"
                      r"usually|often|always|never|sometimes|rarely|recently|finally|no longer|\w+s|\w+ed)\b")
# Modifiers after a slot value that do not change it ("Paris with their husband" is still Paris).
_VALUE_END = re.compile(r"\s+(?:with|since|for|last|next|this|ago|as|and|because|after|before|when|where|"
                        r"which|who|yesterday|today|recently|now|anymore|these days|currently|in \d{4})\b.*$")
_REASON = re.compile(r"\s+\b(?:because|since|due to|thanks to|so that)\b.*$")
_CANON = {"favourite": "favorite", "colour": "color", "neighbour": "neighbor"}


def normalise(text: str) -> str:
    """Lower-case words only (for exact-duplicate checks)."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    return " ".join(_CANON.get(w, w) for w in words)


def lemmas(word: str) -> set[str]:
    """Crude lemma candidates: lives -> {lives, live, liv}; studies -> {studies, study}."""
    w = word.lower()
    out = {w}
    if w.endswith("ies"):
        out.add(w[:-3] + "y")
    if w.endswith("es"):
        out.add(w[:-2])
    if w.endswith("s") and not w.endswith("ss"):
        out.add(w[:-1])
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            stem = w[: -len(suffix)]
            out.update({stem, stem + "e"})
            if len(stem) > 2 and stem[-1] == stem[-2]:
                out.add(stem[:-1])
    return out


@dataclass(frozen=True)
class FactShape:
    """What the update policy needs to know about a fact."""

    text: str
    norm: str
    negative: bool          # negated or a negative preference ("Hates sushi")
    retraction: bool        # "anymore", "no longer", "stopped", ... : the old fact is over
    family: frozenset       # predicate lemmas; preferences share the family {"like"}
    obj: frozenset          # content words after the predicate
    slot: Optional[str]     # single-valued attribute (name, age, residence, employer, occupation, key:<thing>)
    value: Optional[str]


def _slot(core: str) -> tuple[Optional[str], Optional[str]]:
    for name, pattern in SLOT_PATTERNS:
        m = pattern.match(core)
        if m:
            return name, next(g for g in m.groups() if g)
    return None, None


def shape(text: str) -> FactShape:
    """Analyse a fact written in the subject-less third-person style."""
    norm = normalise(text)
    # what follows a comma is usually an aside ("Eats pork now, their doctor said it's fine")
    t = re.sub(r"\b(?:cannot|can not) stand\b", "hate", normalise(text.split(",")[0]))
    t = re.sub(r"\bcannot\b", "can not", t)
    retraction = bool(_RETRACTION.search(t))
    core, n_neg = _NEGATION.subn(" ", t)
    negative = n_neg > 0
    core = _REASON.sub("", core)  # "... because of their knee" says why, not what
    words = [w for w in core.split() if w not in _FREQUENCY]
    core = " ".join(words)
    family: set[str] = set()
    if words:
        head = lemmas(words[0])
        if head & PREFERENCE_NEG:
            negative, family = not negative, {"like"}
        elif head & PREFERENCE_POS:
            family = {"like"}
        else:
            family = head
    obj = frozenset(w for w in words[1:] if w not in _STOP)
    slot, value = _slot(core)
    if slot is None and words and not _VERBISH.match(core):
        # "Sister lives in Rome": a slot of the thing named first
        sub, value = _slot(" ".join(words[1:]))
        if sub is not None:
            slot = f"{words[0]}/{sub}"
        else:
            m = _KEY_VALUE.match(core)
            if m:
                slot, value = "key:" + m.group(1).strip(), m.group(2)
    if value is not None:
        value = re.sub(r"^(?:a|an|the) ", "", _VALUE_END.sub("", value).strip() or value)
    return FactShape(text, norm, negative, retraction, frozenset(family), obj, slot, value)


def jaccard(a: frozenset, b: frozenset) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when both are empty."""
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)
