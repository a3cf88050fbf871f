"""The text analyzer of keyword search: Unicode word tokens, lower-case, stop words, Snowball stems.

One analyzer serves the engine's BM25 index, the evaluation baselines (which call the engine)
and any sibling engine's full-text configuration, so "keyword search" means one thing.

    >>> Analyzer().analyze("She was painting sunsets in Bogotá!")
    ['paint', 'sunset', 'bogotá']

Tokens are maximal runs of Unicode word characters (``\\w+``: letters, digits, underscore in any
script), lower-cased with ``str.lower``. Apostrophes split words ("I'm" -> "i", "m"); both halves
are stop words in English. Stop words are removed before stemming. Stemming is Snowball via
PyStemmer (``Stemmer.algorithms()`` lists the languages); ``language=None`` turns it off.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Optional

from memlab.errors import ConfigError

_TOKEN = re.compile(r"\w+")

# The classic English stop list (Snowball's, which also covers the halves of contractions once
# split at the apostrophe: "don't" -> "don", "t"). Short on purpose: content words stay searchable.
ENGLISH_STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing don down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just ll m me more most my myself
no nor not now of off on once only or other ought our ours ourselves out over own re s same she should so
some such t than that the their theirs them themselves then there these they this those through to too
under until up ve very was we were what when where which while who whom why will with would you your
yours yourself yourselves d didn doesn hadn hasn haven isn mustn shan shouldn wasn weren won wouldn aren
couldn let
""".split())
STOP_WORDS = {"english": ENGLISH_STOP_WORDS}


@lru_cache(maxsize=16)
def _stemmer(language: str):
    import Stemmer  # PyStemmer: a core dependency (C extension, no model files)

    if language not in Stemmer.algorithms():
        raise ConfigError(f"No Snowball stemmer for language {language!r}; "
                          f"choose one of {', '.join(sorted(Stemmer.algorithms()))}, or None for no stemming.")
    stemmer = Stemmer.Stemmer(language)
    stemmer.maxCacheSize = 50_000  # conversational vocabularies repeat: stems are cached in C
    return stemmer


class Analyzer:
    """Text -> index terms.

    Args:
        language: Snowball language for stemming (and its stop list, where memlab ships one);
            None disables stemming.
        stop_words: True = the language's list (none for languages without one), False = keep
            every token, or an explicit iterable of (lower-case) words.
    """

    def __init__(self, language: Optional[str] = "english", stop_words: bool | Iterable[str] = True):
        self.language = language
        if stop_words is True:
            self.stop_words = STOP_WORDS.get(language or "", frozenset())
        elif stop_words is False or stop_words is None:
            self.stop_words = frozenset()
        else:
            self.stop_words = frozenset(str(w).lower() for w in stop_words)
        self._stem = _stemmer(language).stemWords if language else None

    def tokens(self, text: str) -> list[str]:
        """Lower-cased word tokens without stop words (before stemming)."""
        stop = self.stop_words
        return [t for t in _TOKEN.findall(text.lower()) if t not in stop]

    def analyze(self, text: str) -> list[str]:
        """Index terms of ``text``: tokens, stop words dropped, stemmed."""
        toks = self.tokens(text)
        return self._stem(toks) if self._stem is not None and toks else toks

    __call__ = analyze

    def key(self) -> tuple:
        """What makes two analyzers produce the same terms (used to reuse indexes)."""
        return (self.language, tuple(sorted(self.stop_words)))

    def __repr__(self) -> str:
        return f"Analyzer(language={self.language!r}, stop_words={len(self.stop_words)})"


@lru_cache(maxsize=8)
def default_analyzer(language: Optional[str] = "english", stop_words: bool = True) -> Analyzer:
    """A shared analyzer per (language, stop_words) setting."""
    return Analyzer(language, stop_words)
