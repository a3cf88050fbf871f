"""A small mutation check over memlab's critical code: do the tests notice a planted bug?

For each target (a module and some of its functions), every *mutation site* in those functions
is changed one at a time — a comparison flipped (``<`` ↔ ``<=``, ``==`` ↔ ``!=``, ``in`` ↔
``not in``), an arithmetic operator swapped (``+`` ↔ ``-``, ``*`` ↔ ``/``), ``and`` ↔ ``or``,
a ``not`` dropped, an integer constant moved by one, ``True`` ↔ ``False`` — and the target's
tests are run against the mutant. A mutant is *killed* when a test fails (or the run times out),
*survives* otherwise. Error messages and docstrings are never mutated.

Everything runs on a copy of the package in a temporary directory (the worktree is never
touched). Each mutant runs in a forked child of a process that has already imported the heavy
third-party libraries, so a mutant costs roughly its tests' own run time.

Usage:
    python tools/mutate.py                    # every target; summary + survivors
    python tools/mutate.py metrics fusion     # some targets (names below)
    python tools/mutate.py --list             # the targets and their mutant counts
    python tools/mutate.py --json out.json    # also write the full result

Exit status 0 always (the score is information, not a gate); see README for the recorded score.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Target:
    name: str
    module: str                      # path relative to the repo
    functions: tuple[str, ...]       # "func" or "Class.method"; () = every function of the module
    tests: tuple[str, ...]           # pytest arguments (files, -k ...)


TARGETS = [
    Target("filters", "memlab/store/filters.py", (),
           ("tests/core/test_filters.py", "tests/core/test_edge_cases.py", "tests/core/test_memory_api.py")),
    Target("search-threshold", "memlab/ranking/modes.py", ("run_search", "_rrf_search"),
           ("tests/core/test_search_boundaries.py", "tests/core/test_fusion_ties.py",
            "tests/core/test_scoped_search.py", "tests/core/test_edge_cases.py")),
    Target("dense-top", "memlab/store/faiss/search.py", ("FaissCandidates.dense_top",),
           ("tests/core/test_search_boundaries.py", "tests/core/test_fusion_ties.py",
            "tests/core/test_scoped_search.py", "tests/core/test_edge_cases.py")),
    Target("fusion", "memlab/ranking/fusion.py", ("fuse", "keyword_ranking"),
           ("tests/core/test_fusion_ties.py", "tests/core/test_search_boundaries.py",
            "tests/core/test_hybrid_search.py", "-k", "not locomo")),
    Target("bm25", "memlab/ranking/bm25.py", ("bm25_rows", "mean_idf"),
           ("tests/core/test_hybrid_search.py", "tests/core/test_edge_cases.py", "tests/ranking/test_analyzer.py",
            "-k", "not locomo")),
    Target("keyword-index", "memlab/ranking/keyword_index.py", ("KeywordIndex.score", "KeywordIndex._mean_idf"),
           ("tests/core/test_hybrid_search.py", "tests/core/test_edge_cases.py", "-k", "not locomo")),
    Target("metrics", "memlab/evaluate/metrics.py",
           ("rank_run", "cut", "evaluate_run", "_fbeta", "_idcg", "aggregate", "bootstrap_ci"),
           ("tests/evaluate/test_metrics.py", "tests/evaluate/test_bootstrap_reference.py",
            "tests/core/test_search_boundaries.py", "tests/core/test_edge_cases.py")),
    Target("sweep", "memlab/evaluate/sweep.py", ("threshold_counts", "sweep_thresholds"),
           ("tests/evaluate/test_sweep.py", "tests/core/test_search_boundaries.py", "tests/core/test_edge_cases.py")),
    Target("compare-stats", "memlab/compare/stats.py", (),
           ("tests/compare/test_compare_stats.py", "tests/evaluate/test_bootstrap_reference.py")),
    Target("mem0-repair", "memlab/migrate/importers/mem0_faiss.py", ("analyse_index", "_choose_vectors"),
           ("tests/data/test_mem0_repair_local.py",)),
]

CMP_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
BIN_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
            ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
          ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
          ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.And: "and", ast.Or: "or"}


@dataclass
class Mutant:
    target: str
    line: int
    what: str
    source: str = field(repr=False)
    outcome: str = ""


def _functions(tree: ast.Module, names: tuple[str, ...]) -> list[ast.AST]:
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (not names or node.name in names):
            out.append(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        not names or f"{node.name}.{item.name}" in names):
                    out.append(item)
    missing = set(names) - {getattr(f, "name", "") for f in out} - {
        n for n in names if "." in n and n.split(".")[1] in {getattr(f, "name", "") for f in out}}
    if missing:
        raise SystemExit(f"mutate: functions not found: {sorted(missing)}")
    return out


def _skipped_nodes(func: ast.AST) -> set[int]:
    """Nodes never mutated: raise statements (error messages), docstrings, f-strings, type hints."""
    skip: set[int] = set()
    for node in ast.walk(func):
        if isinstance(node, (ast.Raise, ast.JoinedStr, ast.arguments)) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            skip.update(id(n) for n in ast.walk(node.returns))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("repair", "skip", "append") and \
                any(isinstance(a, ast.JoinedStr) for a in node.args):
            skip.update(id(n) for n in ast.walk(node))  # report texts
    return skip


def _sites(func: ast.AST):
    """(node, index, description, apply) for every mutation of ``func``."""
    skip = _skipped_nodes(func)
    for node in ast.walk(func):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in CMP_SWAP:
                    new = CMP_SWAP[type(op)]
                    yield node, ("cmp", i), f"{SYMBOL[type(op)]} -> {SYMBOL[new]}"
        elif isinstance(node, ast.BinOp) and type(node.op) in BIN_SWAP:
            yield node, ("bin",), f"{SYMBOL[type(node.op)]} -> {SYMBOL[BIN_SWAP[type(node.op)]]}"
        elif isinstance(node, ast.BoolOp):
            other = "or" if isinstance(node.op, ast.And) else "and"
            yield node, ("bool",), f"{SYMBOL[type(node.op)]} -> {other}"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, ("not",), "drop 'not'"
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            yield node, ("bool_const",), f"{node.value} -> {not node.value}"
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield node, ("int", 1), f"{node.value} -> {node.value + 1}"
            yield node, ("int", -1), f"{node.value} -> {node.value - 1}"


def _apply(node: ast.AST, how: tuple) -> ast.AST:
    """A mutated copy of ``node`` (the caller swaps it into the tree)."""
    new = copy.copy(node)
    kind = how[0]
    if kind == "cmp":
        ops = list(node.ops)
        ops[how[1]] = CMP_SWAP[type(ops[how[1]])]()
        new.ops = ops
    elif kind == "bin":
        new.op = BIN_SWAP[type(node.op)]()
    elif kind == "bool":
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "not":
        return node.operand
    elif kind == "bool_const":
        new.value = not node.value
    elif kind == "int":
        new.value = node.value + how[1]
    return new


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST):
        self.target, self.replacement = target, replacement

    def visit(self, node):
        if node is self.target:
            return self.replacement
        return super().visit(node)


def mutants(target: Target) -> list[Mutant]:
    path = REPO / target.module
    source = path.read_text(encoding="utf-8")
    out = []
    base = ast.parse(source)
    n_sites = sum(1 for f in _functions(base, target.functions) for _ in _sites(f))
    for k in range(n_sites):
        tree = ast.parse(source)  # a fresh tree per mutant; sites come in the same order
        site = [s for f in _functions(tree, target.functions) for s in _sites(f)][k]
        node, how, what = site
        mutated = _Replace(node, _apply(node, how)).visit(tree)
        ast.fix_missing_locations(mutated)
        out.append(Mutant(target.name, node.lineno, what, ast.unparse(mutated)))
    return out


def _run_tests(workdir: Path, tests: tuple[str, ...], timeout: float) -> str:
    """Run pytest in a forked child; 'killed' if a test failed, 'survived' if all passed."""
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.chdir(workdir)
            sys.path.insert(0, str(workdir))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            import pytest

            code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly", "-o", "addopts=",
                                "--import-mode=importlib", "-m", "not slow", *tests])
            os._exit(int(code))
        except BaseException:
            os._exit(99)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            if code == 0:
                return "survived"
            if code in (1, 99) or code < 0:
                return "killed"
            return f"error({code})"  # 2-5: interrupted / internal / usage / no tests: not a kill
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "killed (timeout)"
        time.sleep(0.05)


def _prepare(workdir: Path) -> None:
    for sub in ("memlab", "tests"):
        shutil.copytree(REPO / sub, workdir / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (workdir / "pytest.ini").write_text("[pytest]\n")


def _preload(workdir: Path) -> None:
    """Import, once and before any fork, everything but memlab itself: pytest's plugins (nbval
    pulls in jsonschema, hypothesis ...) and memlab's third-party dependencies. Each mutant's child
    then imports only memlab (mutated) and the tests, not seconds of libraries."""
    import importlib
    from importlib.metadata import entry_points

    import pytest  # noqa: F401
    import scipy.stats  # noqa: F401

    for ep in entry_points(group="pytest11"):
        try:
            ep.load()
        except Exception:  # a broken third-party plugin is pytest's business, not ours
            pass
    sys.path.insert(0, str(workdir))
    for name in ("memlab", "memlab.compare", "memlab.evaluate.metrics", "memlab.evaluate.sweep",
                 "memlab.evaluate.retrieval", "memlab.migrate", "memlab.widgets", "rank_bm25", "hypothesis"):
        importlib.import_module(name)
    for name in [m for m in sys.modules if m == "memlab" or m.startswith(("memlab.", "tests"))]:
        del sys.modules[name]  # memlab is imported afresh (mutated) in every child
    sys.path.remove(str(workdir))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help="target names (default: all)")
    ap.add_argument("--list", action="store_true", help="list targets and mutant counts, run nothing")
    ap.add_argument("--json", help="write every mutant's outcome to this file")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant run")
    args = ap.parse_args(argv)
    chosen = [t for t in TARGETS if not args.targets or t.name in args.targets]
    if args.targets and len(chosen) != len(set(args.targets)):
        raise SystemExit(f"mutate: unknown target; choose from {', '.join(t.name for t in TARGETS)}")
    if args.list:
        for t in chosen:
            print(f"{t.name:17s} {len(mutants(t)):4d} mutants  {t.module} {', '.join(t.functions) or '(all)'}")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    results: list[Mutant] = []
    with tempfile.TemporaryDirectory(prefix="memlab-mutate-") as tmp:
        workdir = Path(tmp)
        _prepare(workdir)
        _preload(workdir)
        for t in chosen:
            original = (workdir / t.module).read_text(encoding="utf-8")
            baseline = _run_tests(workdir, t.tests, args.timeout)
            if baseline != "survived":
                raise SystemExit(f"mutate: the tests of {t.name} fail without any mutation ({baseline}); fix them first")
            found = mutants(t)
            t0 = time.monotonic()
            try:
                for mut in found:
                    (workdir / t.module).write_text(mut.source, encoding="utf-8")
                    mut.outcome = _run_tests(workdir, t.tests, args.timeout)
                    results.append(mut)
            finally:
                (workdir / t.module).write_text(original, encoding="utf-8")
            killed = sum(m.outcome.startswith("killed") for m in found)
            print(f"{t.name:17s} {killed:4d}/{len(found):<4d} killed  ({time.monotonic() - t0:.0f} s)", flush=True)
    total = len(results)
    killed = sum(m.outcome.startswith("killed") for m in results)
    print(f"\nmutation score: {killed}/{total} = {100 * killed / max(total, 1):.1f}% killed")
    survivors = [m for m in results if not m.outcome.startswith("killed")]
    if survivors:
        print("\nsurvivors (target, module line, mutation, outcome):")
        for m in survivors:
            module = next(t.module for t in TARGETS if t.name == m.target)
            print(f"  {m.target:17s} {module}:{m.line}  {m.what}  [{m.outcome}]")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([{k: v for k, v in vars(m).items() if k != "source"}
                                               for m in results], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
