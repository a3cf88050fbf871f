"""The offline default reranker: a fixed linear combination of evidence the search already has.

No model weights. For the top candidates of a search it combines (each z-normalised over the
candidates, so the weights are scale-free):

- ``fused``: the search's own fused score (or cosine in dense mode), the prior;
- ``coverage``: the idf-weighted share of the query's terms found in the speaker + memory text
  (idf over the candidates: rare query terms matter more);
- ``context_coverage``: the same over the memory's context window;
- ``proximity``: how close together the matched query terms stand in the memory text
  (1 / (1 + span - matched + 1) over the tightest span holding every matched term);
- ``speaker``: 1 when the query names the memory's speaker (actor_id), else 0;
- ``neighbour``: the best fused score among the other candidates inside this memory's context
  window (evidence in a conversation comes in runs of turns).

    score = Σ_f weight_f * z(feature_f)

Default weights: first a logistic regression of relevance on these features over the top 50 of
the LoCoMo dev split, fitted with leave-one-conversation-out cross-validation (docs/engine.md),
rounded; then ``speaker`` and ``neighbour`` re-chosen on a small grid, again leave-one-conversation-
out, when fusion's own speaker weight went to 2 (every fold picked speaker 0.25, neighbour 0.1).
``speaker`` still adds a little although fusion has a speaker channel: normalised over the 50
candidates instead of the whole scope, it separates the named speaker's turns more sharply.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np

from memlab.errors import ConfigError
from memlab.ranking.analyzer import default_analyzer
from memlab.ranking.context import keyword_document
from memlab.ranking.fusion import normalize

FEATURES = ("fused", "coverage", "context_coverage", "proximity", "speaker", "neighbour")
DEFAULT_WEIGHTS = {"fused": 1.0, "coverage": 0.1, "context_coverage": 0.1, "proximity": 0.15, "speaker": 0.25,
                   "neighbour": 0.1}


def _span_score(terms: list[str], wanted: set[str]) -> float:
    """1 / (1 + extra tokens) of the tightest window holding every matched query term."""
    present = wanted & set(terms)
    if len(present) < 2:
        return 0.0 if not present else 1.0
    best = math.inf
    last: dict[str, int] = {}
    for i, t in enumerate(terms):
        if t in present:
            last[t] = i
            if len(last) == len(present):
                best = min(best, i - min(last.values()) + 1)
    return 1.0 / (1.0 + best - len(present))


class FeatureReranker:
    def __init__(self, weights: Optional[Mapping[str, float]] = None, language: Optional[str] = "english"):
        weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ConfigError(f"Unknown feature(s) {sorted(unknown)} in reranker.config.weights; "
                              f"features: {', '.join(FEATURES)}.")
        self.weights = {f: float(weights.get(f, 0.0)) for f in FEATURES}
        self.analyzer = default_analyzer(language)
        self.name = "features"

    def features(self, query: str, candidates: Sequence[dict]) -> dict[str, np.ndarray]:
        """Raw feature values per candidate (before normalisation)."""
        analyze = self.analyzer.analyze
        q_terms = set(analyze(query))
        q_tokens = set(self.analyzer.tokens(query)) | q_terms
        docs = [analyze(keyword_document(c["memory"], c.get("actor_id"))) for c in candidates]
        ctxs = [analyze(c["context"]) if c.get("context") else d for c, d in zip(candidates, docs)]
        n = len(candidates)
        df = {t: sum(t in set(d) or t in set(x) for d, x in zip(docs, ctxs)) for t in q_terms}
        idf = {t: math.log(1 + (n + 1) / (df[t] + 0.5)) for t in q_terms}
        total = sum(idf.values()) or 1.0

        def coverage(terms: list[str]) -> float:
            have = set(terms)
            return sum(w for t, w in idf.items() if t in have) / total

        speaker = []
        for c in candidates:
            actor = c.get("actor_id")
            names = set(self.analyzer.tokens(str(actor))) if actor else set()
            speaker.append(1.0 if names and names <= q_tokens else 0.0)
        fused = np.asarray([c.get("rank_score", c.get("score", 0.0)) for c in candidates], dtype=np.float64)
        return {
            "fused": fused,
            "neighbour": self._neighbour(candidates, fused),
            "coverage": np.asarray([coverage(d) for d in docs]),
            "context_coverage": np.asarray([coverage(x) for x in ctxs]),
            "proximity": np.asarray([_span_score(d, q_terms) for d in docs]),
            "speaker": np.asarray(speaker),
        }

    @staticmethod
    def _neighbour(candidates: Sequence[dict], fused: np.ndarray) -> np.ndarray:
        """Per candidate: max fused score of the other candidates whose line is in its context."""
        from memlab.ranking.context import speaker_line

        lines = [speaker_line({"name": c.get("actor_id"), "role": c.get("role"), "content": c["memory"]})
                 for c in candidates]
        floor = float(fused.min()) if len(fused) else 0.0
        out = np.full(len(candidates), floor)
        for i, c in enumerate(candidates):
            ctx = c.get("context")
            if not ctx:
                continue
            inside = set(ctx.split("\n"))
            others = [fused[j] for j, line in enumerate(lines) if j != i and line in inside]
            if others:
                out[i] = max(others)
        return out

    def score(self, query: str, candidates: Sequence[dict]) -> np.ndarray:
        feats = self.features(query, candidates)
        out = np.zeros(len(candidates))
        for name, w in self.weights.items():
            if w:
                out += w * normalize(feats[name])
        return out
