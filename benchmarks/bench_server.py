"""Loopback load on ``memlab serve``: N concurrent clients x M mixed operations, p50/p99, errors.

    .venv/bin/python benchmarks/bench_server.py [--clients 8] [--ops 50] [--workers 1] [--embedder hash]

A ``memlab serve`` subprocess on 127.0.0.1 (random port) gets N threads, each with its own
HTTP connection and its own user, running M operations in a fixed mix: 30% add (infer=False),
10% add (infer=True, rules LLM), 35% search, 10% get_all, 10% get, 5% update. Every request
is timed end to end (client side). The baseline, measured in the same run, is the same
operation mix called directly on a ``Memory`` in this process by one thread (no HTTP, no
auth, no JSON): the ratio says what serving costs. Results go to benchmarks/results/server.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.server.live import ServeProcess  # noqa: E402

MIX = [("add", 30), ("add_infer", 10), ("search", 35), ("get_all", 10), ("get", 10), ("update", 5)]
WORDS = ("tea coffee Paris Berlin sushi ramen hiking chess piano python rust jazz football cats dogs "
         "mountains beaches trains planes books films").split()


def plan(ops: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    names, weights = zip(*MIX)
    return rng.choices(names, weights=weights, k=ops)


def sentence(rng: random.Random) -> str:
    return f"I like {rng.choice(WORDS)} and {rng.choice(WORDS)} on {rng.choice(['Mondays', 'weekends', 'holidays'])}."


class HttpRunner:
    def __init__(self, url: str, key: str, user: str):
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=120)
        self.user = user
        self.ids: list[str] = []

    def __call__(self, op: str, rng: random.Random) -> bool:
        body: dict
        if op in ("add", "add_infer"):
            body = {"messages": [{"role": "user", "content": sentence(rng)}], "user_id": self.user,
                    "infer": op == "add_infer"}
            r = self.http.post("/v3/memories/add/", json=body)
            if r.status_code == 200:
                self.ids += [m["id"] for m in r.json()["results"] if m.get("event") == "ADD"]
        elif op == "search":
            r = self.http.post("/v3/memories/search/", json={"query": sentence(rng), "filters": {"user_id": self.user}})
        elif op == "get_all":
            r = self.http.post("/v3/memories/?page_size=50", json={"filters": {"user_id": self.user}})
        elif op == "get" and self.ids:
            r = self.http.get(f"/v1/memories/{rng.choice(self.ids)}/")
        elif op == "update" and self.ids:
            r = self.http.put(f"/v1/memories/{rng.choice(self.ids)}/", json={"text": sentence(rng)})
        else:
            r = self.http.get("/v1/ping/")
        return r.status_code == 200


class DirectRunner:
    def __init__(self, memory, user: str):
        self.m = memory
        self.user = user
        self.ids: list[str] = []

    def __call__(self, op: str, rng: random.Random) -> bool:
        if op in ("add", "add_infer"):
            res = self.m.add(sentence(rng), user_id=self.user, infer=op == "add_infer")
            self.ids += [x["id"] for x in res["results"] if x.get("event") == "ADD"]
        elif op == "search":
            self.m.search(sentence(rng), user_id=self.user, limit=10)
        elif op == "get_all":
            self.m.get_all(user_id=self.user, limit=50)
        elif op == "get" and self.ids:
            self.m.get(rng.choice(self.ids))
        elif op == "update" and self.ids:
            self.m.update(rng.choice(self.ids), text=sentence(rng))
        return True


def run_clients(runners: list, ops: int) -> tuple[dict, int, float]:
    lat: dict[str, list[float]] = {}
    errors = [0]
    lock = threading.Lock()

    def work(i: int, runner) -> None:
        rng = random.Random(i)
        for op in plan(ops, seed=i):
            t0 = time.perf_counter()
            try:
                ok = runner(op, rng)
            except Exception:  # a transport error counts as an error, it must not stop the run
                ok = False
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                lat.setdefault(op, []).append(dt)
                errors[0] += not ok

    threads = [threading.Thread(target=work, args=(i, r)) for i, r in enumerate(runners)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, errors[0], time.perf_counter() - t0


def stats(lat: dict) -> dict:
    out = {op: {"n": len(v), "p50_ms": round(float(np.percentile(v, 50)), 2),
                "p99_ms": round(float(np.percentile(v, 99)), 2)} for op, v in sorted(lat.items())}
    every = [x for v in lat.values() for x in v]
    out["all"] = {"n": len(every), "p50_ms": round(float(np.percentile(every, 50)), 2),
                  "p99_ms": round(float(np.percentile(every, 99)), 2)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--ops", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--embedder", choices=["hash", "minilm"], default="hash")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "server.json"))
    args = ap.parse_args(argv)
    config = {"embedder": {"provider": "hash", "config": {"embedding_dims": 384}}} if args.embedder == "hash" else {}

    from memlab import Memory

    with tempfile.TemporaryDirectory() as tmp:
        direct = Memory(config, path=str(Path(tmp) / "direct"))
        d_lat, d_err, d_wall = run_clients([DirectRunner(direct, f"user{i}") for i in range(args.clients)
                                            ][:1], args.ops * args.clients)
        direct.close()
        srv = ServeProcess(Path(tmp) / "served", config=config, workers=args.workers).start()
        try:
            key = srv.key("bench", "load")
            runners = [HttpRunner(srv.url, key, f"user{i}") for i in range(args.clients)]
            h_lat, h_err, h_wall = run_clients(runners, args.ops)
        finally:
            srv.stop()
    served, base = stats(h_lat), stats(d_lat)
    result = {
        "clients": args.clients, "ops_per_client": args.ops, "workers": args.workers, "embedder": args.embedder,
        "served": served, "served_errors": h_err,
        "served_throughput_ops_s": round(len(sum(h_lat.values(), [])) / h_wall, 1),
        "direct_baseline": base, "direct_errors": d_err,
        "direct_throughput_ops_s": round(len(sum(d_lat.values(), [])) / d_wall, 1),
        "p50_ratio_served_vs_direct": round(served["all"]["p50_ms"] / max(base["all"]["p50_ms"], 1e-6), 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"{args.clients} clients x {args.ops} ops, {args.workers} worker(s), {args.embedder} embedder")
    print(f"{'op':10} {'n':>5} {'served p50':>11} {'p99':>9} {'direct p50':>11} {'p99':>9}")
    for op in served:
        b = base.get(op, {})
        print(f"{op:10} {served[op]['n']:5d} {served[op]['p50_ms']:9.2f}ms {served[op]['p99_ms']:7.2f}ms "
              f"{b.get('p50_ms', float('nan')):9.2f}ms {b.get('p99_ms', float('nan')):7.2f}ms")
    print(f"errors: served {h_err}, direct {d_err}; throughput served {result['served_throughput_ops_s']} ops/s, "
          f"direct (1 thread) {result['direct_throughput_ops_s']} ops/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
