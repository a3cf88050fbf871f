"""Execute notebooks and keep outputs ONLY for cells marked ``# NBVAL_CHECK_OUTPUT``.

nbval (``--nbval-lax``) compares a cell's output only when the committed notebook holds one, so
the small deterministic outputs we want checked must be committed; every other output is
stripped to keep the notebooks clean and diffs readable.

Usage:  .venv/bin/python tools/refresh_notebooks.py [notebooks/NAME.ipynb ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

MARK = "NBVAL_CHECK_OUTPUT"


def refresh(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=300, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    kept = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps: noise in every diff
        if cell.cell_type != "code":
            continue
        if MARK in cell.source:
            kept += 1
            cell.outputs = [o for o in cell.outputs if o.get("output_type") in ("stream", "execute_result")]
            for out in cell.outputs:
                out.pop("metadata", None) if out.get("output_type") == "stream" else None
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
