"""The ``memlab`` command. Each sub-command lives in its own module with a ``register(subparsers)``."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from memlab.cli import bench, calibrate, compare, config, data, db, demo, doctor, keys, mcp, pg, serve
from memlab.cli import eval as eval_cmd
from memlab.errors import MemlabError

# Sub-command modules in the order `memlab --help` lists them.
COMMAND_MODULES = (demo, db, data, compare, eval_cmd, calibrate, bench, config, doctor, keys, serve, mcp, pg)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memlab", description="memlab: study and migrate long-term agent memory.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MemlabError as exc:
        print(f"memlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `memlab ... | head`: the reader went away; not an error of ours
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
