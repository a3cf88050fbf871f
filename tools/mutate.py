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
    python tools/mutate.py --json out.json    # also write the result; accumulates over runs (below)
    python tools/mutate.py --report out.json  # the per-target table and total of a result file, run nothing

``--json FILE`` merges: the targets of this run replace their earlier entries in FILE, the other targets'
entries are kept, so targets run one at a time (``make mutate TARGETS=...``) build up one result, and the
summary printed at the end is the table and total over every target in FILE. Survivors that were read and
found equivalent (or unreachable) are listed with the reason in ``tools/mutate_equivalent.json`` (matched by
mutation and a snippet of the line); the summary counts them apart and lists the rest as *unexplained*.
Each target's entry records
a hash of its module and tests; a target whose code changed since it was run is marked *stale* in the
summary (re-run it). ``--fresh`` starts FILE over.

Exit status 0 always (the score is information, not a gate); see README for the recorded score.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
EQUIVALENT = Path(__file__).resolve().parent / "mutate_equivalent.json"


@dataclass
class Target:
    name: str
    module: str                      # path relative to the repo
    functions: tuple[str, ...]       # "func" or "Class.method"; () = every function of the module
    tests: tuple[str, ...]           # pytest arguments (files, -k ...)
    pg: bool = False                 # the tests need PostgreSQL (one server is started for the whole run)


BOTH_ENGINES = "tests/core/test_engine_boundaries.py"
CALIBRATED = ("tests/ranking/test_calibrated_score.py", "tests/ranking/test_fusion.py",
              "tests/core/test_hybrid_search.py", "tests/core/test_search_boundaries.py")
SERVER_DOORS = ("tests/server/test_tenancy_guards.py", "tests/server/test_hardening.py")


TARGETS = [
    Target("filters", "memlab/store/filters.py", (),
           ("tests/core/test_filters.py", "tests/core/test_edge_cases.py", "tests/core/test_memory_api.py")),
    Target("search-threshold", "memlab/ranking/modes.py", ("run_search", "_rrf_search"),
           ("tests/core/test_search_boundaries.py", "tests/core/test_fusion_ties.py",
            "tests/core/test_scoped_search.py", "tests/core/test_edge_cases.py", "tests/core/test_hybrid_search.py",
            "tests/ranking/test_calibrated_score.py", "-k", "not locomo and not pgvector")),
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
    # ---- ranking (fusion, the default search mode, and its channels)
    Target("channels", "memlab/ranking/channels.py", (),
           ("tests/core/test_ranking_edges.py", "tests/core/test_fusion_ties.py", "tests/ranking/test_fusion.py",
            "tests/core/test_search_boundaries.py", "tests/ranking/test_calibrated_score.py", "-k",
            "not locomo and not pgvector")),
    Target("combsum", "memlab/ranking/fusion.py", ("normalize", "combsum", "check_weights", "ranks_of"),
           ("tests/ranking/test_fusion.py", "tests/core/test_ranking_edges.py", "tests/core/test_fusion_ties.py",
            BOTH_ENGINES, "-k", "not locomo and not pgvector")),
    Target("time-channel", "memlab/ranking/when.py", (),
           ("tests/ranking/test_time_channel.py", "tests/core/test_ranking_edges.py", "-k", "not locomo")),
    Target("scoping", "memlab/store/scoping.py", ("merge_scope", "refuse_bool_ids", "is_scoped", "read_filter", "resolve_limit"),
           (BOTH_ENGINES, "tests/core/test_scoped_search.py", "tests/core/test_memory_api.py",
            "tests/core/test_edge_cases.py", "-k", "not pgvector")),
    # ---- the calibrated score: features -> logit -> score, the threshold on it, explain / score_details
    Target("scoring", "memlab/ranking/scoring.py", ("neutralise", "calibrate", "add_details", "restack"),
           (*CALIBRATED, "tests/ranking/test_rerankers.py", "tests/graph/test_graph_memory.py",
            "-k", "not locomo and not pgvector and not cross_encoder")),
    Target("calibration", "memlab/ranking/calibration.py",
           ("_z", "features", "LogisticModel._clipped", "LogisticModel.linear", "LogisticModel.logit",
            "rank_calibrated", "contributions"),
           (*CALIBRATED, "tests/evaluate/test_calibrate.py", "-k", "not locomo and not pgvector and not cli")),
    # ---- server: who gets in, and into which project
    Target("server-keys", "memlab/server/keys.py", ("check_name", "KeyStore.create", "KeyStore.revoke", "KeyStore.verify"),
           SERVER_DOORS),
    Target("server-tenancy", "memlab/server/tenancy.py", ("Tenancy.authenticate", "Tenancy.tenant", "Tenancy._open",
                                                          "Tenant.refresh", "Tenant.update_settings"),
           (*SERVER_DOORS, "tests/server/test_project_settings.py")),
    Target("server-auth", "memlab/server/deps.py", (), SERVER_DOORS),
    Target("server-projects", "memlab/server/routes/projects.py", (),
           (*SERVER_DOORS, "tests/server/test_project_settings.py")),
    Target("server-entities", "memlab/server/routes/entities.py", ("delete_entity", "entity_table"),
           SERVER_DOORS),
    # ---- PostgreSQL engine: filters in SQL, search, fusion
    Target("pg-sql", "memlab/store/pg/sql.py", (),
           ("tests/core/test_filters.py", BOTH_ENGINES, "-k", "pgvector"), pg=True),
    Target("pg-search", "memlab/store/pg/search.py", ("dense", "_exact", "_ann"),
           (BOTH_ENGINES, "tests/pg/test_engines.py", "tests/pg/test_pg_hnsw.py",
            "-k", "pgvector or rank or hnsw"), pg=True),
    Target("pg-candidates", "memlab/store/pg/candidates.py", (),
           (BOTH_ENGINES, "tests/pg/test_pg_keyword.py", "tests/pg/test_fusion_parity.py", "tests/pg/test_pg_scope_stats.py",
            "tests/pg/test_pg_fusion_pool.py", "tests/pg/test_pg_fusion_terms.py",
            "tests/ranking/test_calibrated_score.py", "-k", "pgvector or pg or keyword or scope or stats or pool"),
           pg=True),
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
    code: str = ""                   # the original source line (what a reader, and EQUIVALENT, match on)


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
    lines = source.splitlines()
    base = ast.parse(source)
    n_sites = sum(1 for f in _functions(base, target.functions) for _ in _sites(f))
    for k in range(n_sites):
        tree = ast.parse(source)  # a fresh tree per mutant; sites come in the same order
        site = [s for f in _functions(tree, target.functions) for s in _sites(f)][k]
        node, how, what = site
        mutated = _Replace(node, _apply(node, how)).visit(tree)
        ast.fix_missing_locations(mutated)
        out.append(Mutant(target.name, node.lineno, what, ast.unparse(mutated), code=lines[node.lineno - 1].strip()))
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
    for name in ("fastapi", "uvicorn", "httpx", "psycopg", "psycopg_pool", "mem0.client.main"):  # optional extras
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    for name in [m for m in sys.modules if m == "memlab" or m.startswith(("memlab.", "tests"))]:
        del sys.modules[name]  # memlab is imported afresh (mutated) in every child
    sys.path.remove(str(workdir))


def _start_pg(tmp: Path):
    """One PostgreSQL for every mutant (MEMLAB_PG_URL, read by tests/pg/support.py), unless one is given.
    Returns a function that stops it."""
    if os.environ.get("MEMLAB_PG_URL"):
        return lambda: None
    sys.path.insert(0, str(REPO))
    try:
        from memlab.store.pg import server
    finally:
        sys.path.remove(str(REPO))
    data = tmp / "pgdata"
    os.environ["MEMLAB_PG_URL"] = server.start(data)
    stop = server.stop
    for name in [m for m in sys.modules if m == "memlab" or m.startswith("memlab.")]:
        del sys.modules[name]  # the children import the (mutated) copy, not this one

    def done() -> None:
        os.environ.pop("MEMLAB_PG_URL", None)
        stop(data)
    return done


def _run_target(workdir: Path, t: Target, timeout: float, results: list[Mutant], verbose: bool = False) -> None:
    original = (workdir / t.module).read_text(encoding="utf-8")
    t0 = time.monotonic()
    os.environ["CI"] = "true"  # a test that would skip (no PostgreSQL, no browser) fails: no silent survivors
    baseline = _run_tests(workdir, t.tests, timeout)
    if verbose:
        print(f"  {t.name}: baseline {baseline} in {time.monotonic() - t0:.0f} s", flush=True)
    if baseline != "survived":
        raise SystemExit(f"mutate: the tests of {t.name} fail without any mutation ({baseline}); fix them first")
    # a mutant that loops forever is killed at a few times the tests' own run time
    per_mutant = min(timeout, max(60.0, 5 * (time.monotonic() - t0)))
    found = mutants(t)
    t0 = time.monotonic()
    try:
        for mut in found:
            (workdir / t.module).write_text(mut.source, encoding="utf-8")
            t1 = time.monotonic()
            mut.outcome = _run_tests(workdir, t.tests, per_mutant)
            results.append(mut)
            if verbose:
                print(f"  {t.module}:{mut.line} {mut.what}: {mut.outcome} ({time.monotonic() - t1:.0f} s)", flush=True)
    finally:
        (workdir / t.module).write_text(original, encoding="utf-8")
    killed = sum(m.outcome.startswith("killed") for m in found)
    print(f"{t.name:17s} {killed:4d}/{len(found):<4d} killed  ({time.monotonic() - t0:.0f} s)", flush=True)


def _fingerprint(t: Target) -> str:
    """A hash of the target's module and test files: a recorded result is stale when it changes."""
    h = hashlib.sha256()
    for rel in (t.module, *[a for a in t.tests if a.endswith(".py")]):
        path = REPO / rel
        h.update(rel.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return h.hexdigest()[:16]


def _load(path: Path) -> dict:
    """A result file: {"targets": {name: {"module", "functions", "fingerprint", "when", "mutants": [...]}}}.
    The older format (a flat list of mutants) is read too."""
    if not path.exists():
        return {"targets": {}}
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):  # flat list of every mutant of one run
        out: dict = {"targets": {}}
        for m in data:
            out["targets"].setdefault(m["target"], {"mutants": []})["mutants"].append(m)
        return out
    return data


def _record(data: dict, t: Target, found: list[Mutant], fingerprint: str) -> None:
    data["targets"][t.name] = {
        "module": t.module, "functions": list(t.functions), "fingerprint": fingerprint,
        "when": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "mutants": [{k: v for k, v in vars(m).items() if k != "source"} for m in found]}


def _equivalents() -> dict:
    """Reviewed survivors: {target: [{"code": a substring of the mutated line, "what": the mutation, "why"}]}
    (tools/mutate_equivalent.json). A survivor matching one is *explained* (equivalent, or unreachable);
    the rest are listed as unexplained."""
    if not EQUIVALENT.exists():
        return {}
    return {k: v for k, v in json.loads(EQUIVALENT.read_text(encoding="utf-8")).items() if not k.startswith("_")}


def _why(equiv: dict, target: str, m: dict) -> Optional[str]:
    for e in equiv.get(target, ()):
        if e["what"] == m["what"] and e["code"] in m.get("code", ""):
            return e["why"]
    return None


def summary(data: dict, tail: bool = True) -> str:
    """Per-target table (in TARGETS order), the total over all targets, and the survivors: the kill rate
    (killed / mutants) and, beside it, how many survivors are reviewed equivalents (tools/mutate_equivalent.json)."""
    known = {t.name: t for t in TARGETS}
    names = [t.name for t in TARGETS if t.name in data["targets"]] + \
        sorted(n for n in data["targets"] if n not in known)
    equiv = _equivalents()
    lines = [f"{'target':17s} {'killed':>7s} {'mutants':>7s} {'rate':>7s} {'equiv.':>6s} {'unexpl.':>7s}  run (UTC)"]
    total = killed_all = equiv_all = 0
    survivors = []
    for name in names:
        entry = data["targets"][name]
        muts = entry["mutants"]
        if any("code" not in m for m in muts) and (REPO / entry.get("module", "-")).is_file():
            src = (REPO / entry["module"]).read_text(encoding="utf-8").splitlines()  # results of an older tool
            for m in muts:
                m.setdefault("code", src[m["line"] - 1].strip() if m["line"] <= len(src) else "")
        killed = sum(m["outcome"].startswith("killed") for m in muts)
        n_equiv = sum(1 for m in muts if not m["outcome"].startswith("killed") and _why(equiv, name, m))
        total, killed_all, equiv_all = total + len(muts), killed_all + killed, equiv_all + n_equiv
        stale = name in known and entry.get("fingerprint") not in (None, _fingerprint(known[name]))
        gone = name not in known
        note = "  STALE: code or tests changed since" if stale else ("  (no longer a target)" if gone else "")
        lines.append(f"{name:17s} {killed:7d} {len(muts):7d} {100 * killed / max(len(muts), 1):6.1f}% {n_equiv:6d} "
                     f"{len(muts) - killed - n_equiv:7d}  {entry.get('when', '?')}{note}")
        module = entry.get("module", known[name].module if name in known else "?")
        survivors += [(name, module, m) for m in muts if not m["outcome"].startswith("killed")]
    missing = [t.name for t in TARGETS if t.name not in data["targets"]]
    lines.append(f"\nmutation score: {killed_all}/{total} = {100 * killed_all / max(total, 1):.1f}% killed"
                 f" over {len(names)} targets; {equiv_all} survivors reviewed as equivalent, "
                 f"{total - killed_all - equiv_all} unexplained; killed / (mutants - equivalent) = "
                 f"{100 * killed_all / max(total - equiv_all, 1):.1f}%")
    if not tail:
        return "\n".join(lines)
    if missing:
        lines.append(f"not run yet: {', '.join(missing)}")
    unexplained = [(n, mod, m) for n, mod, m in survivors if not _why(equiv, n, m)]
    if unexplained:
        lines.append("\nunexplained survivors (target, module line, mutation, outcome, code):")
        lines += [f"  {n:17s} {mod}:{m['line']}  {m['what']}  [{m['outcome']}]  {m.get('code', '')}"
                  for n, mod, m in unexplained]
    return "\n".join(lines)


def markdown(data: dict) -> str:
    """The per-target table of a result file in Markdown (for docs/testing.md)."""
    equiv = _equivalents()
    known = {t.name: t for t in TARGETS}
    rows = ["| target | code | mutants | killed | rate | equivalent | unexplained |", "|---|---|---|---|---|---|---|"]
    tot = [0, 0, 0]
    for t in TARGETS:
        if t.name not in data["targets"]:
            continue
        muts = data["targets"][t.name]["mutants"]
        summary({"targets": {t.name: data["targets"][t.name]}})  # fills "code" of older results
        k = sum(m["outcome"].startswith("killed") for m in muts)
        e = sum(1 for m in muts if not m["outcome"].startswith("killed") and _why(equiv, t.name, m))
        tot = [tot[0] + len(muts), tot[1] + k, tot[2] + e]
        where = f"`{t.module}`" + (f" ({', '.join(f.split('.')[-1] for f in t.functions)})" if t.functions else "")
        rows.append(f"| {t.name} | {where} | {len(muts)} | {k} | {100 * k / max(len(muts), 1):.1f}% | {e} | "
                    f"{len(muts) - k - e} |")
    n, k, e = tot
    rows.append(f"| **total** | {len(rows) - 2} targets | **{n}** | **{k}** | **{100 * k / max(n, 1):.1f}%** | {e} | "
                f"{n - k - e} |")
    return "\n".join(rows) + (f"\n\nKilled / (mutants − equivalent): {100 * k / max(n - e, 1):.1f}%." if n else "")


def brief(data: dict) -> dict:
    """A small summary of a result file (per target: counts and the survivors with their reason), for
    committing beside the docs; the full file holds every mutant."""
    equiv, out = _equivalents(), {}
    summary(data)  # fills "code" of older results
    for name, entry in data["targets"].items():
        muts = entry["mutants"]
        surv = [m for m in muts if not m["outcome"].startswith("killed")]
        out[name] = {"module": entry.get("module"), "functions": entry.get("functions"), "when": entry.get("when"),
                     "fingerprint": entry.get("fingerprint"), "mutants": len(muts), "killed": len(muts) - len(surv),
                     "survivors": [{"line": m["line"], "what": m["what"], "code": m.get("code", ""),
                                    "why": _why(equiv, name, m)} for m in surv]}
    return {"targets": out}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help="target names (default: all)")
    ap.add_argument("--list", action="store_true", help="list targets and mutant counts, run nothing")
    ap.add_argument("--json", help="merge every mutant's outcome into this file (the run's targets replace theirs)")
    ap.add_argument("--fresh", action="store_true", help="with --json: start the file over instead of merging")
    ap.add_argument("--report", metavar="FILE", help="print the summary of a result file, run nothing")
    ap.add_argument("--markdown", action="store_true", help="with --report: the per-target table in Markdown")
    ap.add_argument("--brief", metavar="OUT", help="with --report: also write a small summary JSON (counts, survivors)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant run")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each mutant's outcome as it comes")
    args = ap.parse_args(argv)
    if args.report:
        data = _load(Path(args.report))
        print(markdown(data) if args.markdown else summary(data))
        if args.brief:
            Path(args.brief).write_text(json.dumps(brief(data), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return 0
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
    out = Path(args.json) if args.json else None
    data = {"targets": {}} if out is None or args.fresh else _load(out)
    run: dict = {"targets": {}}
    prints = {t.name: _fingerprint(t) for t in chosen}  # the code as copied now, not as edited during the run
    with tempfile.TemporaryDirectory(prefix="memlab-mutate-") as tmp:
        workdir = Path(tmp)
        _prepare(workdir)
        stop_pg = _start_pg(Path(tmp)) if any(t.pg for t in chosen) else None
        try:
            _preload(workdir)
            for t in chosen:
                found: list[Mutant] = []
                _run_target(workdir, t, args.timeout, found, args.verbose)
                _record(run, t, found, prints[t.name])
                data["targets"][t.name] = run["targets"][t.name]
                if out is not None:  # written after each target: a long run interrupted keeps what it finished
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(json.dumps(data, indent=1), encoding="utf-8")
        finally:
            if stop_pg is not None:
                stop_pg()
    if out is None:
        print(summary(run))
        return 0
    if set(data["targets"]) != set(run["targets"]):
        print("\nthis run:\n" + summary(run, tail=False))
        print(f"\nall targets in {out}:")
    print(summary(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
