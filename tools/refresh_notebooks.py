"""Execute notebooks and keep outputs ONLY for the cells nbval checks (``NBVAL_CHECK_OUTPUT``).

nbval (``--nbval-lax``) compares a cell's output only when the cell is marked *and* the committed
notebook holds an executed output for it, so the small deterministic outputs we want checked must
be committed; every other output is stripped to keep the notebooks clean and diffs readable.

"Marked" uses nbval's own rule (its ``find_comment_markers`` / ``find_metadata_tags``): the
marker must be a comment line of its own (``# NBVAL_CHECK_OUTPUT``) or the cell tag
``nbval-check-output``; a trailing ``x = 1  # NBVAL_CHECK_OUTPUT`` is NOT honoured by nbval, so
this tool refuses such a notebook instead of keeping an output nobody checks.

Usage:  .venv/bin/python tools/refresh_notebooks.py [notebooks/NAME.ipynb ...]   (default: all)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbval.plugin import find_comment_markers, find_metadata_tags

MARK = "NBVAL_CHECK_OUTPUT"
_ANY_MARKER = re.compile(r"\b(NBVAL_[A-Z_]+|PYTEST_VALIDATE_IGNORE_OUTPUT)\b")


def nbval_options(cell) -> dict:
    """The options nbval derives for a code cell (comment markers override metadata tags, as in nbval)."""
    options = dict(find_metadata_tags(cell.get("metadata", {})))
    options.update(dict(find_comment_markers(cell.source)))
    return options


def is_checked(cell) -> bool:
    """True when nbval --nbval-lax compares this cell's output."""
    return cell.cell_type == "code" and bool(nbval_options(cell).get("check", False))


def ignored_markers(cell) -> list[str]:
    """Lines that mention an nbval marker nbval does not honour (e.g. a trailing comment)."""
    if cell.cell_type != "code":
        return []
    bad = []
    for line in cell.source.splitlines():
        if not _ANY_MARKER.search(line):
            continue
        if not list(find_comment_markers(line)):
            bad.append(line.strip())
    return bad


def refresh(path: Path) -> int:
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(path, as_version=4)
    bad = [line for cell in nb.cells for line in ignored_markers(cell)]
    if bad:
        raise SystemExit(f"{path}: nbval ignores these markers (put the marker on its own comment line): {bad}")
    ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    kept = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps: noise in every diff
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            kept += 1
            cell.outputs = [o for o in cell.outputs if o.get("output_type") in ("stream", "execute_result")]
            for out in cell.outputs:
                if out.get("output_type") == "stream":
                    out.pop("metadata", None)
        else:
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return kept


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(Path("notebooks").glob("*.ipynb"))
    for p in paths:
        print(f"{p}: kept outputs of {refresh(p)} checked cell(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
