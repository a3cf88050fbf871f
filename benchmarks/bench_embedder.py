"""Query embedding and search latency with the bundled model (issue 25): every figure beside its reference,
measured in one run, interleaved query by query, idle and while another process holds a core.

Run:  .venv/bin/python benchmarks/bench_embedder.py [--queries 60] [--no-demo] [--out benchmarks/results]

Run it WITHOUT OMP_NUM_THREADS: the reference is sentence-transformers with its default settings.

* agreement: cosine of each backend's vectors with PyTorch fp32 (sentence-transformers) on a text sample
  (LoCoMo turns when ../shared/datasets/locomo is there, else the bundled dataset);
* per query, in a shuffled order each round: a bare ``SentenceTransformer.encode(query)`` (default
  settings: the reference), end-to-end ``m.search()`` with the previous release's embedder (the same
  encode call, torch's default threads: "legacy"), and ``m.search()`` with each backend of the
  ``minilm`` embedder (distinct queries: the query cache never answers). Two phases: as the machine
  is, then with one extra process spinning on a core;
* the same, each configuration in processes of its own (``--rounds`` bursts per configuration and phase,
  alternating in a shuffled order): the reference's PyTorch threads, which keep spinning for a while after each
  call, then never share a process with the other runtimes, as in a user's process;
* ``memlab demo``'s search phase (every query of the bundled dataset once, ``run_evaluation``) with the
  legacy embedder and with the default one.

Writes benchmarks/results/embedder.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

from memlab import Memory  # noqa: E402
from memlab.embedders import create_embedder  # noqa: E402
from memlab.embedders.minilm import bundled_model_path  # noqa: E402

BACKENDS = ("onnx", "onnx-int8", "torch")
LOCOMO = Path(os.environ.get("MEMLAB_LOCOMO_PATH")
              or HERE.parent.parent / "shared" / "datasets" / "locomo" / "locomo-dev.json")


class LegacyMiniLM:
    """The previous release's minilm embedder: ``SentenceTransformer.encode`` with torch's default threads."""

    name = "minilm:all-MiniLM-L6-v2"
    dims = 384

    def __init__(self, model):
        self.model = model

    def embed(self, texts, purpose="add"):
        return self.model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)


def sample_texts(n_memories: int, n_queries: int) -> tuple[list[str], list[str]]:
    """(memory texts, distinct query texts): LoCoMo's turns and questions, else the bundled dataset."""
    from memlab.evaluate import load_bundled, load_dataset

    ds = load_dataset(str(LOCOMO)) if LOCOMO.is_file() else load_bundled("assistant")
    mems = list(dict.fromkeys(ds.memories["text"].astype(str)))
    queries = list(dict.fromkeys(ds.queries["text"].astype(str)))
    rng = random.Random(0)
    rng.shuffle(mems)
    rng.shuffle(queries)
    return mems[:n_memories], queries[:n_queries]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def agreement(model, texts: list[str]) -> dict:
    ref = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    out = {}
    for backend in BACKENDS[:2]:
        emb = create_embedder("minilm", {"backend": backend})
        vec = emb.embed(texts)
        cos = (vec * ref).sum(axis=1)
        out[backend] = {"min": float(cos.min()), "mean": float(cos.mean()), "p01": float(np.quantile(cos, 0.01))}
    return out


def build(embedder, texts, vectors) -> Memory:
    m = Memory(embedder=embedder)
    m.add_records([{"memory": t, "user_id": "u", "vector": v} for t, v in zip(texts, vectors)])
    return m


def latency_phase(configs: dict, bare, queries: list[str]) -> dict:
    """p50/p90 ms of each config over ``queries``, interleaved: each query goes through every config."""
    times = {name: [] for name in ["bare_encode", *configs]}
    rng = random.Random(1)
    for q in queries:
        order = list(times)
        rng.shuffle(order)
        for name in order:
            t = time.perf_counter()
            if name == "bare_encode":
                bare.encode(q)
            else:
                configs[name].search(q, user_id="u", limit=10)
            times[name].append(time.perf_counter() - t)
    return {name: {"p50_ms": 1000 * statistics.median(ts), "p90_ms": 1000 * float(np.quantile(ts, 0.9))}
            for name, ts in times.items()}


def worker(args: argparse.Namespace) -> None:
    """One configuration in this process: builds the store from the saved vectors, warms up, then prints the
    milliseconds of each query in ``--slice`` (``bare_encode``: the reference alone)."""
    mems, queries = sample_texts(args.memories, 2 * args.queries + 10)
    lo, hi = (int(x) for x in args.slice.split(":"))
    name = args.worker
    if name in ("bare_encode", "search_legacy"):
        from sentence_transformers import SentenceTransformer

        bare = SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)
    if name == "bare_encode":
        run = bare.encode
    else:
        emb = LegacyMiniLM(bare) if name == "search_legacy" else create_embedder(
            "minilm", {"backend": name.removeprefix("search_")})
        m = build(emb, mems, np.load(args.vectors))
        run = lambda q: m.search(q, user_id="u", limit=10)  # noqa: E731
    for q in queries[:10]:
        run(q)
    out = []
    for q in queries[lo:hi]:
        t = time.perf_counter()
        run(q)
        out.append(1000 * (time.perf_counter() - t))
    print(json.dumps(out), flush=True)


def separate_processes(args: argparse.Namespace, vectors: np.ndarray, names: list[str]) -> dict:
    """p50 ms of each configuration in processes of its own, per phase (idle, one core held), alternating."""
    import tempfile

    vec_file = Path(tempfile.mkdtemp()) / "vectors.npy"
    np.save(vec_file, vectors)
    rng = random.Random(2)
    out: dict = {}
    for phase, lo in (("idle", 10), ("busy", 10 + args.queries)):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if phase == "busy" else None
        times: dict = {n: [] for n in names}
        loads = []
        try:
            step = -(-args.queries // args.rounds)
            for r in range(args.rounds):
                order = list(names)
                rng.shuffle(order)
                for name in order:
                    cmd = [sys.executable, __file__, "--worker", name, "--vectors", str(vec_file), "--memories",
                           str(args.memories), "--queries", str(args.queries),
                           "--slice", f"{lo + r * step}:{min(lo + (r + 1) * step, lo + args.queries)}"]
                    got = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    times[name] += json.loads(got.stdout.splitlines()[-1])
                    loads.append(round(os.getloadavg()[0], 2))
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
        out[phase] = {n: {"p50_ms": statistics.median(ts), "p90_ms": float(np.quantile(ts, 0.9))}
                      for n, ts in times.items()}
        out[f"load_{phase}"] = loads
    vec_file.unlink()
    return out


def demo_search(embedder) -> float:
    """Seconds of ``memlab demo``'s search phase (every bundled query once) with ``embedder``."""
    from memlab.evaluate import load_bundled
    from memlab.evaluate.report import run_evaluation

    report = run_evaluation(load_bundled("assistant"), embedder=embedder, method="dense", k=5, n_boot=50)
    return float(report.timings["searching"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=60, help="queries per phase")
    ap.add_argument("--memories", type=int, default=300)
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--rounds", type=int, default=3, help="bursts per configuration and phase (separate processes)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--vectors", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--slice", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return 0
    from sentence_transformers import SentenceTransformer

    import torch

    result: dict = {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "load_start": loadavg()}
    bare = SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)
    mems, queries = sample_texts(args.memories, 2 * args.queries + 10)
    result["agreement"] = agreement(bare, mems)
    print("cosine with PyTorch fp32:", json.dumps(result["agreement"]), flush=True)
    vectors = LegacyMiniLM(bare).embed(mems)
    configs = {"search_legacy": build(LegacyMiniLM(bare), mems, vectors)}
    for backend in BACKENDS:
        configs[f"search_{backend}"] = build(create_embedder("minilm", {"backend": backend}), mems, vectors)
    warm, idle_q, busy_q = queries[:10], queries[10:10 + args.queries], queries[10 + args.queries:]
    for q in warm:
        bare.encode(q)
        for m in configs.values():
            m.search(q, user_id="u")
    result["load_idle_phase"] = loadavg()
    result["idle"] = latency_phase(configs, bare, idle_q)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        result["load_busy_phase"] = loadavg()
        result["busy"] = latency_phase(configs, bare, busy_q)
    finally:
        spinner.kill()
        spinner.wait()
    result["separate_processes"] = separate_processes(args, vectors, list(result["idle"]))
    if not args.no_demo:
        result["demo_search_s"] = {"legacy": demo_search(LegacyMiniLM(bare)), "default": demo_search("minilm")}
    result["load_end"] = loadavg()
    for m in configs.values():
        m.close()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    (out / "embedder.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    return 0


def _ratio_table(phases: dict) -> list[str]:
    """Markdown rows: each configuration's p50 and its ratio to the bare encode, as is and with a core held."""
    rows = ["| p50 ms (ratio to bare encode) | as is | one core held by another process |", "|---|---|---|"]
    for name in phases["idle"]:
        cells = [f"{phases[p][name]['p50_ms']:.1f} ({phases[p][name]['p50_ms'] / phases[p]['bare_encode']['p50_ms']:.2f}×)"
                 for p in ("idle", "busy")]
        rows.append(f"| {name} | {' | '.join(cells)} |")
    return rows


def report(r: dict) -> str:
    lines = [f"load average at start {r['load_start']}, idle phase {r['load_idle_phase']}, busy phase "
             f"{r['load_busy_phase']}, end {r['load_end']}; {r['cores']} cores, torch threads {r['torch_threads']}",
             "", *_ratio_table(r)]
    if "separate_processes" in r:
        sp = r["separate_processes"]
        lines += ["", f"Each configuration in processes of its own ({sp['load_idle'][:1] + sp['load_busy'][-1:]} load):",
                  "", *_ratio_table(sp)]
    a = r["agreement"]
    lines.append("")
    lines.append("cosine with PyTorch fp32: " + ", ".join(
        f"{b} min {v['min']:.4f} mean {v['mean']:.4f}" for b, v in a.items()))
    if "demo_search_s" in r:
        d = r["demo_search_s"]
        lines.append(f"memlab demo search phase: legacy {d['legacy']:.1f} s, default {d['default']:.1f} s "
                     f"({d['legacy'] / d['default']:.1f}× faster)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
