"""``memlab import | export | verify``: move memories in and out of a store directory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional


def open_memory(store: str, embedder: Optional[str] = None, dims: Optional[int] = None, must_exist: bool = False):
    """A Memory on a store directory with the embedder the store was built with (or ``embedder``).

    ``must_exist``: raise instead of creating an empty store (export/verify read a store; a typo
    must not silently become a new, empty one).
    """
    from memlab import Memory
    from memlab.errors import ConfigError, NotFoundError
    from memlab.store import Store

    if must_exist and not (Path(store) / "memlab.db").is_file():
        raise NotFoundError(f"No memlab store at {store!r} (missing memlab.db); pass an existing store directory.")
    identity = Store.read_identity(store)
    if identity is None:
        provider = embedder or "minilm"
        config = {"embedding_dims": dims} if provider == "hash" and dims else {}
    else:
        name = identity["embedder"]
        provider = name.split(":", 1)[0]
        if embedder and embedder != provider:
            raise ConfigError(f"Store {store} was built with {name!r}; --embedder {embedder} does not match.")
        config = {"embedding_dims": identity["dims"]} if provider == "hash" else {}
    return Memory({"embedder": {"provider": provider, "config": config}}, path=store)


def register(sub) -> None:
    p = sub.add_parser("import", help="Import mem0 / OpenMemory / memlab data into a store directory.")
    p.add_argument("kind", choices=["mem0", "mem0-json", "openmemory", "jsonl"],
                   help="mem0: FAISS store folder; mem0-json: get_all/platform export; openmemory: its SQLite db; "
                        "jsonl: memlab export (.jsonl or .parquet).")
    p.add_argument("path", help="The source: a folder or file, as KIND says.")
    p.add_argument("--store", required=True, help="Target store directory (created if missing).")
    p.add_argument("--embedder", choices=["minilm", "hash"], default=None,
                   help="Embedder of a NEW store (default: a jsonl export's own embedder, "
                        "else minilm); an existing store keeps its own and must match.")
    p.add_argument("--on-conflict", choices=["error", "skip", "replace"], default="error",
                   help="What to do with ids already in the store (default error: nothing is written).")
    p.add_argument("--collection", default=None, help="mem0 collection name (file stem) if the folder has several.")
    p.add_argument("--history-db", default=None,
                   help="mem0 history.db (default: history.db in PATH or its parent folder).")
    p.add_argument("--user-id", default=None, help="mem0-json: scope for items without one.")
    p.add_argument("--json", action="store_true", help="Print the report as JSON.")
    p.set_defaults(func=run_import)

    e = sub.add_parser("export", help="Export a store to JSONL or parquet.")
    e.add_argument("--store", required=True, help="Existing store directory (holds memlab.db).")
    e.add_argument("out", help="Output file (.jsonl or .parquet).")
    e.add_argument("--format", choices=["jsonl", "parquet"], default=None, help="Default: from OUT's suffix.")
    e.add_argument("--fields", default=None, help="Comma-separated fields (default: all but vectors).")
    e.add_argument("--filters", default=None, help='Filter as JSON, e.g. \'{"user_id": "alice"}\'.')
    e.add_argument("--active-only", action="store_true", help="Leave deleted memories out.")
    e.set_defaults(func=run_export)

    v = sub.add_parser("verify", help="Compare two stores: counts, content hashes, retrieval parity.")
    v.add_argument("--source", required=True, help="Store directory migrated from.")
    v.add_argument("--target", required=True, help="Store directory migrated to.")
    v.add_argument("--queries", default=None, help="File with one query per line (default: sample of memories).")
    v.add_argument("-k", type=int, default=5, help="Results per query for retrieval parity (default 5).")
    v.set_defaults(func=run_verify)


def _snapshot_if_existing(store: str):
    from memlab.store.faiss.schema import DB_NAME
    from memlab.store.faiss.snapshots import take_snapshot

    if (Path(store) / DB_NAME).exists():
        return take_snapshot(store, "pre-import")
    return None


def run_import(args: argparse.Namespace) -> int:
    from memlab.errors import ValidationError

    if Path(args.store).exists() and not Path(args.store).is_dir():
        raise ValidationError(f"--store {args.store!r} is a file; pass a store directory (created if missing).")
    snap = _snapshot_if_existing(args.store)
    embedder = args.embedder
    if args.kind == "jsonl" and embedder is None and not (Path(args.store) / "memlab.db").exists():
        from memlab.migrate import (
            read_export,  # a new store takes the export's embedder by default
        )

        header = read_export(args.path)[0]
        name = str(header.get("embedder") or "")
        embedder = name.split(":", 1)[0] if name.split(":", 1)[0] in ("minilm", "hash") else None
        dims = header.get("dims")
    else:
        dims = None
    created_dir = not Path(args.store).exists()
    created_db = not (Path(args.store) / "memlab.db").exists()
    try:
        report = _import_into(args, embedder, dims)
    except BaseException:
        _remove_new_store(args.store, created_dir, created_db)  # a failed import leaves no empty store behind
        raise
    if snap is not None:  # announced only once there is an import to undo
        print(f"snapshot {snap.id} taken (memlab db rollback --store {args.store} undoes the import)", file=sys.stderr)
    _print_import_report(args, report)
    return 0


def _import_into(args: argparse.Namespace, embedder: Optional[str], dims: Optional[int]):
    from memlab.migrate import (
        import_export,
        import_mem0,
        import_mem0_json,
        import_openmemory,
    )
    from memlab.progress import reporting

    with open_memory(args.store, embedder, dims) as m, reporting(f"Importing ({args.kind})", unit="mem"):
        if args.kind == "mem0":
            report = import_mem0(args.path, into=m, collection=args.collection, history_db=args.history_db,
                                 on_conflict=args.on_conflict)
        elif args.kind == "mem0-json":
            report = import_mem0_json(args.path, into=m, on_conflict=args.on_conflict, user_id=args.user_id)
        elif args.kind == "openmemory":
            report = import_openmemory(args.path, into=m, on_conflict=args.on_conflict)
        else:
            report = import_export(args.path, into=m, on_conflict=args.on_conflict)
    return report


def _remove_new_store(store: str, created_dir: bool, created_db: bool) -> None:
    """Undo the creation of a store that a failed import opened (never touches a pre-existing one)."""
    import shutil

    if created_dir:
        shutil.rmtree(store, ignore_errors=True)
    elif created_db:
        for suffix in ("", "-wal", "-shm"):
            try:
                (Path(store) / f"memlab.db{suffix}").unlink(missing_ok=True)
            except OSError:  # cleanup must never hide the import's own error
                pass


def _print_import_report(args: argparse.Namespace, report) -> None:
    if args.json:
        print(json.dumps(report.to_dict(), indent=1, default=str))
    else:
        print(report.summary())
        for r in report.repairs:
            print(f"  repair {r['repair']:<20} {r['id'] or '-'}: {r['detail']}")
        for s in report.skipped:
            print(f"  skip   {s['id'] or '-'}: {s['reason']}")


def run_export(args: argparse.Namespace) -> int:
    from memlab.errors import ValidationError
    from memlab.migrate import export

    fmt = args.format or ("parquet" if args.out.endswith(".parquet") else "jsonl")
    try:
        filters = json.loads(args.filters) if args.filters else None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--filters is not valid JSON: {exc}") from None
    fields = [f.strip() for f in args.fields.split(",")] if args.fields else None
    with open_memory(args.store, must_exist=True) as m:
        header = export(m, args.out, format=fmt, schema=fields, filters=filters, include_deleted=not args.active_only)
    print(f"exported {header['count']} memories to {args.out} ({fmt})")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from memlab.errors import ValidationError
    from memlab.migrate import verify_migration

    if args.k < 1:
        raise ValidationError(f"-k must be a positive integer, got {args.k}.")
    queries = None
    if args.queries:
        if not Path(args.queries).is_file():
            raise ValidationError(f"Queries file {args.queries!r} does not exist.")
        queries = [q.strip() for q in Path(args.queries).read_text().splitlines() if q.strip()]
    with open_memory(args.source, must_exist=True) as src, open_memory(args.target, must_exist=True) as dst:
        report = verify_migration(src, dst, queries, k=args.k)
    print(report.summary())
    for row in report.to_pandas().itertuples():
        print(f"  {row.status:<8} {row.id} {row.fields}")
    return 0 if report.ok else 1
