"""``memlab config migrate|validate``: migrate legacy (mem0) configs and check current ones."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from memlab.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("config", help="Migrate a legacy (mem0) config or validate a memlab config.")
    cmds = p.add_subparsers(dest="config_command", metavar="ACTION")
    cmds.required = True

    m = cmds.add_parser("migrate", help="Migrate OLD (JSON/YAML file, or - for stdin) and print the report.")
    m.add_argument("old", metavar="OLD", help="Legacy config file (JSON or YAML), or - to read stdin.")
    m.add_argument("-o", "--output", metavar="NEW", help="Write the migrated config here (not written on error).")
    m.add_argument("--format", choices=["json", "yaml"], default=None,
                   help="Output format (default: from NEW's suffix, else json).")
    m.add_argument("--force", action="store_true", help="Overwrite NEW if it exists.")
    m.add_argument("--keep-version", action="store_true",
                   help="Keep version v1.0 (bare-list responses) instead of moving to v1.1; the explicit opt-out "
                        "for client code not yet reading response['results'].")
    m.add_argument("--json", dest="as_json", action="store_true",
                   help="Print the whole result (config, changes, warnings) as one JSON document.")
    m.set_defaults(func=run_migrate)

    v = cmds.add_parser("validate", help="Check that FILE is a valid, consistent memlab config.")
    v.add_argument("file", metavar="FILE", help="Config file (JSON or YAML).")
    v.set_defaults(func=run_validate)


def _one_line(exc: Exception) -> ConfigError:
    return ConfigError(" ".join(str(exc).split()))


def _read_input(old: str):
    if old == "-":
        return sys.stdin.read()
    return Path(old)


def _render(config, fmt: str) -> str:
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(config.to_dict(), sort_keys=False)
    return config.to_json() + "\n"


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a failure never leaves a partial file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_migrate(args: argparse.Namespace) -> int:
    from memlab.config_migration import migrate_config

    out = Path(args.output) if args.output else None
    if out is not None:
        if args.old != "-" and out.resolve() == Path(args.old).resolve():
            raise ConfigError(f"Refusing to overwrite the input {args.old!r}; choose another -o file.")
        if out.is_dir():
            raise ConfigError(f"{str(out)!r} is a directory; pass a file name for -o (e.g. new.yaml).")
        if out.exists() and not args.force:
            raise ConfigError(f"{str(out)!r} already exists; pass --force to overwrite it.")
        if not out.parent.is_dir():
            raise ConfigError(f"Folder {str(out.parent)!r} does not exist.")
    try:
        migration = migrate_config(_read_input(args.old), keep_version=args.keep_version)
    except ConfigError as exc:
        raise _one_line(exc) from None
    fmt = args.format or ("yaml" if out is not None and out.suffix.lower() in (".yaml", ".yml") else "json")
    if out is not None:
        _write_atomic(out, _render(migration.config, fmt))
    if args.as_json:
        print(json.dumps(migration.to_dict(), indent=2))
        return 0
    print(migration.report())
    if out is not None:
        print(f"Wrote the migrated config to {out}.")
    else:
        print()
        print(_render(migration.config, fmt), end="")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from memlab.config import MemoryConfig
    from memlab.config_migration import migrate_config

    try:
        config = MemoryConfig.load(args.file)
    except ConfigError as exc:
        try:
            legacy = migrate_config(Path(args.file)).changed
        except ConfigError:
            legacy = False
        if legacy:
            raise ConfigError(f"{args.file} is a legacy (mem0) config, not a current memlab one; "
                              f"run `memlab config migrate {args.file} -o NEW`.") from None
        raise _one_line(exc) from None
    check = migrate_config(config, keep_version=True)  # v1.0 is a valid (deprecated) choice, not an inconsistency
    if check.changes:
        first = check.changes[0]
        raise ConfigError(f"{args.file}: valid syntax but inconsistent: {first.path}: {first.reason} "
                          f"(run `memlab config migrate {args.file}` to fix).")
    print(f"OK: {args.file} is a valid memlab config (embedder {config.embedder.provider}, "
          f"llm {config.llm.provider}, vector_store {config.vector_store.provider}).")
    for warning in check.warnings:
        print(f"  ! {warning}")
    return 0
