"""Re-plant the bugs of issue 19 one at a time and show that the tests catch each one.

Each bug is applied to a copy of the package in a temporary directory (the worktree is never
touched), then its tests run twice: with ../shared (``MEMLAB_SHARED`` pointing at it) and
without (``MEMLAB_SHARED=/nonexistent``, as in a user's clone). A bug is *caught* when at least
one test fails in both runs.

Usage:  python tools/planted_bugs.py            (about 2 minutes)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MEMLAB_SHARED", REPO.parent / "shared"))

# (name, file, exact text, replacement, tests)
BUGS = [
    ("dense threshold inclusive -> exclusive", "memlab/ranking/modes.py",
     "if threshold is None or c >= threshold]", "if threshold is None or c > threshold]",
     ["tests/core/test_search_boundaries.py"]),
    ("keyword/hybrid threshold inclusive -> exclusive", "memlab/ranking/modes.py",
     "(threshold is not None and cos < threshold)", "(threshold is not None and cos <= threshold)",
     ["tests/core/test_search_boundaries.py"]),
    ("evaluate CI uses alpha instead of alpha/2", "memlab/evaluate/metrics.py",
     "np.quantile(means, [alpha / 2, 1 - alpha / 2])", "np.quantile(means, [alpha, 1 - alpha])",
     ["tests/evaluate/test_bootstrap_reference.py", "tests/evaluate/test_metrics.py"]),
    ("compare CI uses alpha instead of alpha/2", "memlab/compare/stats.py",
     "alpha = (1.0 - confidence) / 2", "alpha = (1.0 - confidence)",
     ["tests/evaluate/test_bootstrap_reference.py", "tests/compare/test_compare_stats.py"]),
    ("fusion ties broken by position, not dense rank", "memlab/ranking/fusion.py",
     "order = sorted(rrf, key=lambda p: (-rrf[p], *ranks[p], p))", "order = sorted(rrf, key=lambda p: (-rrf[p], p))",
     ["tests/core/test_fusion_ties.py", "tests/core/test_hybrid_search.py"]),
    ("offline fusion ties broken by memory id", "memlab/evaluate/retrieval.py",
     '["query_id", "score", "tie"], ascending=[True, False, True]',
     '["query_id", "score", "memory_id"], ascending=[True, False, True]',
     ["tests/core/test_fusion_ties.py", "tests/evaluate/test_retrieval.py"]),
    ("mem0 repair checks a sample, not every vector, of a damaged mapping",
     "memlab/migrate/importers/mem0_faiss.py",
     'checked = records if not info["consistent"] else sample', "checked = sample",
     ["tests/data/test_mem0_repair_local.py", "tests/data/test_mem0_import.py"]),
]


def run(workdir: Path, tests: list[str], shared: str) -> tuple[int, int, int]:
    env = {**os.environ, "PYTHONPATH": str(workdir), "MEMLAB_SHARED": shared, "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                           str(workdir / "pytest.ini"), "--rootdir", str(workdir), "--import-mode=importlib",
                           "-m", "not slow", *tests], cwd=workdir, env=env, capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]

    def count(word: str) -> int:
        found = re.search(rf"(\d+) {word}", tail)
        return int(found.group(1)) if found else 0

    return count("failed"), count("passed"), count("skipped")


def main() -> int:
    all_caught = True
    with tempfile.TemporaryDirectory(prefix="memlab-planted-") as tmp:
        workdir = Path(tmp)
        for sub in ("memlab", "tests"):
            shutil.copytree(REPO / sub, workdir / sub, ignore=shutil.ignore_patterns("__pycache__"))
        (workdir / "pytest.ini").write_text("[pytest]\n")
        for name, rel, old, new, tests in BUGS:
            path = workdir / rel
            original = path.read_text(encoding="utf-8")
            if original.count(old) != 1:
                print(f"SKIP  {name}: the code changed ({old!r} not found once in {rel}); update this list")
                all_caught = False
                continue
            path.write_text(original.replace(old, new), encoding="utf-8")
            try:
                results = {label: run(workdir, tests, shared) for label, shared in
                           (("with ../shared", str(SHARED)), ("without", "/nonexistent"))}
            finally:
                path.write_text(original, encoding="utf-8")
            caught = all(failed > 0 for failed, _, _ in results.values())
            all_caught &= caught
            detail = "; ".join(f"{label}: {f} failed, {p} passed, {s} skipped"
                               for label, (f, p, s) in results.items())
            print(f"{'CAUGHT' if caught else 'MISSED'}  {name}  ({detail})", flush=True)
    print("every planted bug is caught" if all_caught else "SOME PLANTED BUG IS NOT CAUGHT")
    return 0 if all_caught else 1


if __name__ == "__main__":
    sys.exit(main())
