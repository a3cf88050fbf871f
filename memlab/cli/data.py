"""``memlab import | export | verify``: move memories in and out of a store directory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub) -> None:
    from memlab.migrate.importers import list_importers

    kinds = list_importers()
    p = sub.add_parser("import", help="Import mem0 / OpenMemory / memlab data into a store directory.")
    p.add_argument("kind", choices=[i.name for i in kinds],
                   help="; ".join(f"{i.name}: {i.source_help}" for i in kinds) + ".")
    p.add_argument("path", help="The source: a folder or file, as KIND says.")
    p.add_argument("--store", required=True, help="Target store directory (created if missing).")
    p.add_argument("--embedder", choices=["minilm", "hash"], default=None,
                   help="Embedder of a NEW store (default: a jsonl export's own embedder, "
                        "else minilm); an existing store keeps its own and must match.")
    p.add_argument("--on-conflict", choices=["error", "skip", "replace"], default="error",
                   help="What to do with ids already in the store (default error: nothing is written).")
    flags: dict[str, list] = {}  # each importer's own options, once per flag
    for importer in kinds:
        for option in importer.options:
            if option.cli:
                flags.setdefault(option.flag, []).append((importer.name, option))
    for flag, owners in flags.items():
        p.add_argument(flag, dest=owners[0][1].name, default=None, type=owners[0][1].type,
                       help="; ".join(f"{name}: {option.help}" for name, option in owners) + ".")
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


def run_import(args: argparse.Namespace) -> int:
    from memlab.errors import ValidationError
    from memlab.migrate.importers import get_importer, import_to_store, list_importers
    from memlab.progress import reporting

    importer = get_importer(args.kind)
    options = {}
    for other in list_importers():  # an option of another kind is a mistake, not something to ignore
        for option in other.options:
            value = getattr(args, option.name, None)
            if not option.cli or value is None:
                continue
            if option.name not in importer.option_names():
                raise ValidationError(f"{option.flag} does not apply to `memlab import {args.kind}`.")
            options[option.name] = value
    with reporting(f"Importing ({args.kind})", unit="mem"):
        report = import_to_store(importer, args.path, args.store, embedder=args.embedder,
                                 on_conflict=args.on_conflict, **options)
    snap = report.details.get("snapshot")
    if snap is not None:
        print(f"snapshot {snap} taken (memlab db rollback --store {args.store} undoes the import)", file=sys.stderr)
    _print_import_report(args, report)
    return 0


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
    from memlab.migrate import export, open_store

    fmt = args.format or ("parquet" if args.out.endswith(".parquet") else "jsonl")
    try:
        filters = json.loads(args.filters) if args.filters else None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--filters is not valid JSON: {exc}") from None
    fields = [f.strip() for f in args.fields.split(",")] if args.fields else None
    with open_store(args.store) as m:
        header = export(m, args.out, format=fmt, schema=fields, filters=filters, include_deleted=not args.active_only)
    print(f"exported {header['count']} memories to {args.out} ({fmt})")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from memlab.errors import ValidationError
    from memlab.migrate import open_store, verify_migration

    if args.k < 1:
        raise ValidationError(f"-k must be a positive integer, got {args.k}.")
    queries = None
    if args.queries:
        if not Path(args.queries).is_file():
            raise ValidationError(f"Queries file {args.queries!r} does not exist.")
        queries = [q.strip() for q in Path(args.queries).read_text().splitlines() if q.strip()]
    with open_store(args.source) as src, open_store(args.target) as dst:
        report = verify_migration(src, dst, queries, k=args.k)
    print(report.summary())
    for row in report.to_pandas().itertuples():
        print(f"  {row.status:<8} {row.id} {row.fields}")
    return 0 if report.ok else 1
