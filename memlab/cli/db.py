"""``memlab db``: schema revisions of a store directory (mirrors Alembic), snapshots, rollback; and the
revision of a PostgreSQL store (``--store postgresql://...``: current, history, upgrade)."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("db", help="Store schema: current, history, upgrade, downgrade, rollback, snapshots.")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dbsub.required = True

    def add(name: str, help_: str, store_required: bool = True):
        q = dbsub.add_parser(name, help=help_)
        q.add_argument("--store", required=store_required,
                       help="Store directory (holds memlab.db), or a PostgreSQL connection string (postgresql://...).")
        q.add_argument("--collection", default="memlab", help="PostgreSQL: the store's collection_name.")
        q.set_defaults(func=run)
        return q

    add("current", "Print the store's schema revision.")
    add("history", "List every schema revision (marks the store's when --store is given).", store_required=False)
    add("upgrade", "Upgrade the store (snapshot first).").add_argument("revision", nargs="?", default="head")
    add("downgrade", "Downgrade the store to REVISION, -1 or base (snapshot first).").add_argument(
        "revision",
        help="A revision id (see `memlab db history`), -1, or base (drops every table; the snapshot keeps the data).")
    add("rollback", "Restore a snapshot (default: the newest).").add_argument(
        "--snapshot", default=None, help="Snapshot id (or a unique prefix); see `memlab db snapshots`.")
    add("snapshots", "List the store's snapshots.")


def is_pg(store: object) -> bool:
    """A PostgreSQL connection string (URL or libpq key=value), as `memlab doctor` reads STORE."""
    from memlab.doctor.pg import is_pg_target

    return isinstance(store, str) and is_pg_target(store)


def run_pg(args: argparse.Namespace) -> int:
    from memlab.store.pg import revisions as R

    action = args.db_command
    if action == "current":
        rev = R.current(args.store, args.collection)
        print(f"{rev or '<base>'}{' (head)' if rev == R.history()[-1]['revision'] else ''}")
    elif action == "history":
        cur = R.current(args.store, args.collection)
        for r in R.history():
            marks = " ".join(m for m in ("(head)" if r["head"] else "", "(current)" if r["revision"] == cur else "") if m)
            print(f"{r['down_revision'] or '<base>'} -> {r['revision']} {marks}".rstrip())
    elif action == "upgrade":
        before, after = R.upgrade(args.store, args.collection, args.revision)
        print(f"{args.collection}: already at {after}" if before == after else
              f"{args.collection}: {before or '<base>'} -> {after}")
    elif action == "downgrade":
        before, after = R.downgrade(args.store, args.collection, args.revision)
        print(f"{args.collection}: {before} -> {after} (opening a Memory on it upgrades it to head again)")
    else:
        raise R.unsupported(action, args.collection)
    return 0


def run(args: argparse.Namespace) -> int:
    from memlab.store.faiss import revisions as S
    from memlab.store.faiss.snapshots import list_snapshots

    if is_pg(args.store):
        return run_pg(args)
    action = args.db_command
    if action == "current":
        rev = S.current(args.store)
        print(f"{rev or '<base>'}{' (head)' if rev == S.HEAD_REVISION else ''}")
    elif action == "history":
        cur = S.current(args.store) if args.store else None
        for r in S.history():
            marks = " ".join(m for m in ("(head)" if r["head"] else "", "(current)" if r["revision"] == cur else "") if m)
            print(f"{r['down_revision'] or '<base>'} -> {r['revision']} {marks}".rstrip() + f"  {r['doc'].splitlines()[0]}")
    elif action in ("upgrade", "downgrade"):
        change = getattr(S, action)(args.store, args.revision)
        print(change if change.snapshot else f"{args.store}: already at {change.to_revision or '<base>'}")
        if action == "downgrade" and change.snapshot and change.to_revision is None:
            # <base> has no memories table: say so, and how to get the data back
            print(f"note: at <base> the store holds no memories; `memlab db rollback --store {args.store}` "
                  "restores them from the snapshot (`memlab db upgrade` alone gives an empty store).")
    elif action == "rollback":
        snap = S.rollback(args.store, args.snapshot)
        print(f"Restored snapshot {snap.id} ({snap.reason}, revision {snap.revision}, {snap.memories} memories); "
              "the replaced state was snapshotted too (memlab db snapshots).")
    elif action == "snapshots":
        snaps = list_snapshots(args.store)
        if not snaps:
            print("no snapshots")
        for s in snaps:
            print(f"{s.id}  {s.reason:<28} rev={s.revision or '<base>'} memories={s.memories} history={s.history}")
    return 0
