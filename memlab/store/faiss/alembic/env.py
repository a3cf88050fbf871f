"""Alembic environment of a memlab store (``memlab.db``).

Driven programmatically by :mod:`memlab.store.faiss.revisions`: the caller passes an open SQLAlchemy
connection in ``config.attributes["connection"]`` or a ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event, pool

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    store = context.get_x_argument(as_dictionary=True).get("store")
    if store:  # `alembic -x store=DIR ...`
        url = f"sqlite:///{store}/memlab.db"
    engine = create_engine(url, poolclass=pool.NullPool)

    # pysqlite commits DDL implicitly; take over transaction control (SQLAlchemy's documented
    # recipe) so that a whole upgrade/downgrade is ONE SQLite transaction: all or nothing.
    @event.listens_for(engine, "connect")
    def _no_implicit_tx(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 30000")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():  # `alembic upgrade --sql`: emit the DDL as text
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
