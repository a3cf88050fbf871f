"""Re-plant known bugs (issues 19 and 26) one at a time and show that the tests catch each one.

Each bug is applied to a copy of the package in a temporary directory (the worktree is never
touched), then its tests run twice: with ../shared (``MEMLAB_SHARED`` pointing at it) and
without (``MEMLAB_SHARED=/nonexistent``, as in a user's clone). A bug is *caught* when at least
one test fails in both runs. First, each distinct test selection runs once on the unplanted
copy: it must pass, so that a failure under a plant is the plant's doing.

The PostgreSQL plants need the pg extra (or MEMLAB_PG_URL); their tests run with ``CI=true`` so
that a missing PostgreSQL fails them (never a silent skip that would read as "missed").

Usage:
    python tools/planted_bugs.py                  every plant (about 10 minutes on 2 cores)
    python tools/planted_bugs.py server expiry    only plants whose name contains one of the words
    python tools/planted_bugs.py --once           one run per plant (with ../shared) instead of two
"""

from __future__ import annotations

import argparse
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
    ("bootstrap CI uses alpha instead of alpha/2", "memlab/stats.py",
     "np.quantile(means, [alpha / 2, 1.0 - alpha / 2])", "np.quantile(means, [alpha, 1.0 - alpha])",
     ["tests/evaluate/test_bootstrap_reference.py", "tests/evaluate/test_metrics.py"]),
    ("compare CI halves alpha twice", "memlab/compare/stats.py",
     "alpha=1.0 - confidence,", "alpha=(1.0 - confidence) / 2,",
     ["tests/evaluate/test_bootstrap_reference.py", "tests/compare/test_compare_stats.py"]),
    ("fusion ties broken by position, not dense rank", "memlab/ranking/fusion.py",
     "order = sorted(rrf, key=lambda p: (-rrf[p], *ranks[p], p))", "order = sorted(rrf, key=lambda p: (-rrf[p], p))",
     ["tests/core/test_fusion_ties.py", "tests/core/test_hybrid_search.py"]),
    ("mem0 repair checks a sample, not every vector, of a damaged mapping",
     "memlab/migrate/importers/mem0_faiss.py",
     'checked = records if not info["consistent"] else sample', "checked = sample",
     ["tests/data/test_mem0_repair_local.py", "tests/data/test_mem0_import.py"]),
    # ---- issue 26: the doors of the server, boundaries on both engines, ranking edges, the graph
    ("server: a key's secret is never checked (key_id alone authenticates)", "memlab/server/keys.py",
     "if not hmac.compare_digest(_digest(row[0], secret), row[1]):",
     "if False and not hmac.compare_digest(_digest(row[0], secret), row[1]):",
     ["tests/server/test_tenancy_guards.py"]),
    ("server: open projects cached by project name only (two orgs share a store)", "memlab/server/tenancy.py",
     "key = (org, project)", "key = project",
     ["tests/server/test_tenancy_guards.py"]),
    ("server: PATCH of another org's project (no ownership check)", "memlab/server/routes/projects.py",
     "    _own(tenant, org_id, project_id)\n    changes =", "    changes =",
     ["tests/server/test_tenancy_guards.py"]),
    ("server: DELETE of an unknown entity answers 200", "memlab/server/routes/entities.py",
     'if not tenant.memory.get_all(filters={column: entity_id}, limit=1)["results"]:', "if False:",
     ["tests/server/test_tenancy_guards.py"]),
    ("expiry: a memory expiring today is hidden (lt -> lte)", "memlab/store/scoping.py",
     'F.Cond("expiration_date", "lt", today)', 'F.Cond("expiration_date", "lte", today)',
     ["tests/core/test_engine_boundaries.py", "-k", "expiring"]),
    # one threshold per mode serves both engines (memlab.ranking.modes): planted once more, caught by the
    # pgvector half alone
    ("pgvector dense threshold inclusive -> exclusive", "memlab/ranking/modes.py",
     "if threshold is None or c >= threshold]", "if threshold is None or c > threshold]",
     ["tests/core/test_engine_boundaries.py", "-k", "pgvector and threshold and dense"]),
    ("pgvector keyword/hybrid threshold inclusive -> exclusive", "memlab/ranking/modes.py",
     "(threshold is not None and cos < threshold)", "(threshold is not None and cos <= threshold)",
     ["tests/core/test_engine_boundaries.py", "-k", "pgvector and threshold and (keyword or hybrid)"]),
    ("fusion threshold inclusive -> exclusive (both engines)", "memlab/ranking/fusion.py",
     "order = order[raw[\"dense\"][order] >= threshold]", "order = order[raw[\"dense\"][order] > threshold]",
     ["tests/core/test_engine_boundaries.py", "-k", "threshold and fusion"]),
    ("pgvector: a number compared with a text column is TRUE", "memlab/store/pg/sql.py",
     "return FALSE  # a number never orders against a text column",
     "return TRUE  # a number never orders against a text column",
     ["tests/core/test_engine_boundaries.py", "-k", "mismatched"]),
    ("pgvector dense ties in reverse insertion order", "memlab/store/pg/search.py",
     "ORDER BY score DESC, m.vid LIMIT", "ORDER BY score DESC, m.vid DESC LIMIT",
     ["tests/core/test_engine_boundaries.py", "tests/pg/test_engines.py", "-k", "dense and not hybrid"]),
    ("time channel: the lag after a dated range ends a day early (<= -> <)", "memlab/ranking/when.py",
     "hit |= valid & (days >= start) & (days <= end + lag)", "hit |= valid & (days >= start) & (days < end + lag)",
     ["tests/core/test_ranking_edges.py"]),
    ("time channel: 'in June' ends on June 29", "memlab/ranking/when.py",
     'hi = (first + 1).astype("datetime64[D]") - 1 + lag', 'hi = (first + 1).astype("datetime64[D]") - 2 + lag',
     ["tests/core/test_ranking_edges.py"]),
    ("fusion: a context channel sharing the plain channel's array loses its weight", "memlab/ranking/fusion.py",
     "w = np.array([sum(float(weights.get(name, 0.0)) for name in group) for _, group in groups.values()])",
     "w = np.array([float(weights.get(group[0], 0.0)) for _, group in groups.values()])",
     ["tests/core/test_ranking_edges.py"]),
    ("fusion ties in reverse insertion order", "memlab/ranking/fusion.py",
     "order = np.lexsort((allowed, -fused))", "order = np.lexsort((-allowed, -fused))",
     ["tests/core/test_fusion_ties.py", "tests/core/test_search_boundaries.py"]),
    ("speaker channel: ANY word of a two-word name matches", "memlab/ranking/channels.py",
     "all(w in words for w in parts)", "any(w in words for w in parts)",
     ["tests/core/test_ranking_edges.py"]),
    ("graph: {'user_id': '*'} also matches nodes without a user", "memlab/graph/engine.py",
     "parts.append(f\"{var}.{k} <> ''\")", "parts.append(\"true\")",
     ["tests/graph/test_graph_wildcard.py"]),
]


def run(workdir: Path, tests: list[str], shared: str) -> tuple[int, int, int]:
    env = {**os.environ, "PYTHONPATH": str(workdir), "MEMLAB_SHARED": shared, "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "CI": "true"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                           str(workdir / "pytest.ini"), "--rootdir", str(workdir), "--import-mode=importlib",
                           "-p", "no:randomly", "-m", "not slow", *tests], cwd=workdir, env=env, capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]

    def count(word: str) -> int:
        found = re.search(rf"(\d+) {word}", tail)
        return int(found.group(1)) if found else 0

    return count("failed") + count("errors?"), count("passed"), count("skipped")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("words", nargs="*", help="run only plants whose name contains one of these words")
    ap.add_argument("--once", action="store_true", help="one run per plant (with ../shared), not two")
    args = ap.parse_args(argv)
    chosen = [b for b in BUGS if not args.words or any(w.lower() in b[0].lower() for w in args.words)]
    if not chosen:
        raise SystemExit("planted_bugs: no plant matches " + " ".join(args.words))
    runs = [("with ../shared", str(SHARED))] + ([] if args.once else [("without", "/nonexistent")])
    all_caught = True
    caught_count = 0
    with tempfile.TemporaryDirectory(prefix="memlab-planted-") as tmp:
        workdir = Path(tmp)
        for sub in ("memlab", "tests"):
            shutil.copytree(REPO / sub, workdir / sub, ignore=shutil.ignore_patterns("__pycache__"))
        (workdir / "pytest.ini").write_text("[pytest]\n")
        for tests in dict.fromkeys(tuple(b[4]) for b in chosen):  # baseline: each selection passes unplanted
            failed, passed, _ = run(workdir, list(tests), str(SHARED))
            if failed or not passed:
                raise SystemExit(f"planted_bugs: {' '.join(tests)} fails ({failed}) or runs nothing without any "
                                 "plant; fix the tests first")
        for name, rel, old, new, tests in chosen:
            path = workdir / rel
            original = path.read_text(encoding="utf-8")
            if original.count(old) != 1:
                print(f"SKIP  {name}: the code changed ({old!r} not found once in {rel}); update this list")
                all_caught = False
                continue
            path.write_text(original.replace(old, new), encoding="utf-8")
            try:
                results = {label: run(workdir, tests, shared) for label, shared in runs}
            finally:
                path.write_text(original, encoding="utf-8")
            caught = all(failed > 0 for failed, _, _ in results.values())
            all_caught &= caught
            caught_count += caught
            detail = "; ".join(f"{label}: {f} failed, {p} passed, {s} skipped"
                               for label, (f, p, s) in results.items())
            print(f"{'CAUGHT' if caught else 'MISSED'}  {name}  ({detail})", flush=True)
    print(f"{caught_count}/{len(chosen)} planted bugs caught")
    print("every planted bug is caught" if all_caught else "SOME PLANTED BUG IS NOT CAUGHT")
    return 0 if all_caught else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
