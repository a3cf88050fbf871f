"""Ranking maths, one implementation for every engine (below the store in the layers).

- :mod:`~memlab.ranking.analyzer`: text -> terms (tokens, stop words, Snowball stems);
- :mod:`~memlab.ranking.bm25`: Okapi BM25 and its defaults (from the config);
- :mod:`~memlab.ranking.keyword_index`: the in-memory inverted index the FAISS engine keeps;
- :mod:`~memlab.ranking.context`: the context window of a message (the documents of the context channels);
- :mod:`~memlab.ranking.when`: dates named in queries and the time channel;
- :mod:`~memlab.ranking.channels`: the engine-independent channels (speaker, time) and a fusion's channel list;
- :mod:`~memlab.ranking.fusion`: score normalisation, CombSUM, reciprocal-rank fusion;
- :mod:`~memlab.ranking.modes`: the search modes and their dispatch over an engine's :class:`Candidates`.

An engine supplies raw channel values; everything that turns them into a ranking lives here.
"""
