"""Embedded graph engines side by side: ``ladybug`` (memlab's choice) vs ``kuzu`` (archived upstream).

The same workload as memlab's graph on each installed engine, each in its own process: open a
file database and create memlab's schema, MERGE 1,000 nodes and 500 edges one statement at a
time (memlab's write pattern), read the one-hop neighbourhood of 200 nodes, close and re-open.
Times are medians of ``--repeats`` runs; ratios are kuzu / ladybug measured in the same run.

    .venv/bin/python benchmarks/bench_graph_engines.py [--repeats 3]

``kuzu`` is not a memlab dependency: install it by hand (pip install kuzu) to compare.
Writes benchmarks/results/graph_engines.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKLOAD = r"""
import json, os, sys, tempfile, time
lib = __import__(sys.argv[1])
d = tempfile.mkdtemp()
path = os.path.join(d, "graph.db")
out = {}
t = time.perf_counter()
db = lib.Database(path); c = lib.Connection(db)
c.execute("CREATE NODE TABLE IF NOT EXISTS Entity(key STRING PRIMARY KEY, name STRING, user_id STRING)")
c.execute("CREATE REL TABLE IF NOT EXISTS RELATES(FROM Entity TO Entity, name STRING, memory_ids STRING[])")
out["open_schema"] = time.perf_counter() - t
t = time.perf_counter()
for i in range(500):
    for k in (i, i + 1):
        c.execute("MERGE (a:Entity {key: $k}) ON CREATE SET a.name = $k, a.user_id = 'u'", {"k": f"n{k}"})
    c.execute("MATCH (a:Entity {key: $a}), (b:Entity {key: $b}) MERGE (a)-[r:RELATES {name: 'knows'}]->(b) "
              "ON CREATE SET r.memory_ids = $ids", {"a": f"n{i}", "b": f"n{i + 1}", "ids": [str(i)]})
out["writes"] = time.perf_counter() - t
t = time.perf_counter()
for i in range(200):
    list(c.execute("MATCH (a:Entity)-[r:RELATES]-(b:Entity) WHERE a.name IN $n RETURN a.name, r.name, b.name",
                   {"n": [f"n{i}"]}).rows_as_dict())
out["reads"] = time.perf_counter() - t
c.close(); db.close()
t = time.perf_counter()
db = lib.Database(path); c = lib.Connection(db)
n = c.execute("MATCH ()-[r:RELATES]->() RETURN count(r)").get_next()[0]
out["reopen"] = time.perf_counter() - t
assert n == 500, n
out["file_bytes"] = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
out["version"] = getattr(lib, "__version__", "?")
print(json.dumps(out))
"""


def measure(module: str, repeats: int) -> dict | None:
    runs = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", WORKLOAD, module], capture_output=True, text=True)
        if proc.returncode != 0:
            if "ModuleNotFoundError" in proc.stderr:
                return None
            raise RuntimeError(f"{module} failed:\n{proc.stderr}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    keys = ("open_schema", "writes", "reads", "reopen")
    return {**{k: statistics.median(r[k] for r in runs) for k in keys}, "file_bytes": runs[-1]["file_bytes"],
            "version": runs[-1]["version"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    results = {m: measure(m, args.repeats) for m in ("ladybug", "kuzu")}
    base = results["ladybug"]
    if base is None:
        print("ladybug is not installed: pip install 'memlab[graph]'")
        return 1
    lines = ["| engine | version | open + schema s | 1,000 node + 500 edge MERGEs s | 200 neighbourhood reads s "
             "| re-open s | file size | vs ladybug (writes / reads) |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if r is None:
            lines.append(f"| {name} | not installed | | | | | | |")
            continue
        ratio = f"{r['writes'] / base['writes']:.1f}x / {r['reads'] / base['reads']:.1f}x"
        lines.append(f"| {name} | {r['version']} | {r['open_schema']:.3f} | {r['writes']:.2f} | {r['reads']:.3f} "
                     f"| {r['reopen']:.3f} | {r['file_bytes'] / 1e6:.1f} MB | {ratio} |")
    table = "\n".join(lines)
    print(table)
    out = HERE / "results" / "graph_engines.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"Embedded graph engines, memlab's write/read pattern (medians of {args.repeats} runs).\n\n"
                   f"{table}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
