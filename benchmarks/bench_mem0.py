"""memlab vs mem0 2.2.x in one run (issue 25): single adds and scoped searches, interleaved, same model.

Both use all-MiniLM-L6-v2 from the bundled weights (memlab: its default embedder; mem0: its
``huggingface`` embedder on the same folder) and a FAISS store on disk; adds are ``infer=False`` (no
LLM). Every add and every search alternates between the two, so the machine's load hits both alike.

Run:  MEM0_TELEMETRY=False .venv/bin/python benchmarks/bench_mem0.py [--n 200] [--queries 40]

Writes benchmarks/results/mem0.json and prints a markdown table with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["MEM0_TELEMETRY"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from memlab import Memory  # noqa: E402
from memlab.embedders.minilm import bundled_model_path  # noqa: E402


def mem0_memory(path: str):
    from mem0 import Memory as Mem0

    return Mem0.from_config({
        "embedder": {"provider": "huggingface", "config": {"model": str(bundled_model_path())}},
        "vector_store": {"provider": "faiss", "config": {"path": f"{path}/faiss", "embedding_model_dims": 384}},
        "llm": {"provider": "openai", "config": {"api_key": "unused: infer=False never calls it"}},
        "history_db_path": f"{path}/history.db",
    })


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    import mem0

    r: dict = {"mem0": mem0.__version__ if hasattr(mem0, "__version__") else "2.2.x", "n": args.n,
               "load_start": [round(x, 2) for x in os.getloadavg()]}
    ours, theirs = Memory(path=tempfile.mkdtemp()), mem0_memory(tempfile.mkdtemp())
    add_t = {"memlab": [], "mem0": []}
    for i in range(args.n):
        text, user = f"memory {i}: I went hiking near lake {i % 7} with my dog and my sister", f"user{i % args.users}"
        for name, fn in (("memlab", lambda: ours.add(text, user_id=user, infer=False)),
                         ("mem0", lambda: theirs.add(text, user_id=user, infer=False))):
            t = time.perf_counter()
            fn()
            add_t[name].append(time.perf_counter() - t)
    search_t = {"memlab": [], "mem0": []}
    for q in range(args.queries):
        query, user = f"where did I go hiking with {q} friends?", f"user{q % args.users}"
        for name, fn in (("memlab", lambda: ours.search(query, user_id=user, limit=5)),
                         ("mem0", lambda: theirs.search(query, filters={"user_id": user}, limit=5))):
            t = time.perf_counter()
            fn()
            search_t[name].append(time.perf_counter() - t)
    ours.close()
    r["adds_per_s"] = {k: len(v) / sum(v) for k, v in add_t.items()}
    r["search_p50_ms"] = {k: 1000 * statistics.median(v) for k, v in search_t.items()}
    r["load_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).mkdir(exist_ok=True)
    (Path(args.out) / "mem0.json").write_text(json.dumps(r, indent=2) + "\n")
    a, s = r["adds_per_s"], r["search_p50_ms"]
    print(f"load average {r['load_start']} -> {r['load_end']}; {args.n} memories over {args.users} users\n\n"
          "| what | memlab | mem0 | memlab advantage |\n|---|---|---|---|\n"
          f"| single add(infer=False) | {a['memlab']:,.1f} /s | {a['mem0']:,.1f} /s | {a['memlab'] / a['mem0']:.0f}× |\n"
          f"| scoped search p50 | {s['memlab']:.1f} ms | {s['mem0']:.1f} ms | {s['mem0'] / s['memlab']:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
