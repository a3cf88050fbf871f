"""``memlab demo``: README's main job."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time


def register(sub) -> None:
    p = sub.add_parser("demo", help="Build a store offline, add and search memories, print results.")
    p.add_argument("--store", default=None, help="Store directory (default: a temporary one).")
    p.add_argument("--embedder", default="minilm", choices=["minilm", "hash"], help="Embedder provider.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab import Memory

    tmp = None
    store = args.store
    if store is None:
        tmp = tempfile.mkdtemp(prefix="memlab-demo-")
        store = tmp
    try:
        t0 = time.perf_counter()
        m = Memory({"embedder": {"provider": args.embedder}}, path=store)
        facts = {
            "alice": ["I love sushi and ramen", "I live in Berlin", "My sister is called Emma",
                      "I am allergic to peanuts", "I work as a nurse"],
            "bob": ["I prefer tea over coffee", "I am training for a marathon", "My dog is named Rex",
                    "I live in Lisbon"],
        }
        for user, texts in facts.items():
            for text in texts:
                m.add(text, user_id=user, infer=False, metadata={"source": "demo"})
        print(f"Built store {store} with {m.store.count()} memories ({m.embedder.name}) "
              f"in {time.perf_counter() - t0:.1f}s")
        for user, query in [("alice", "What food does she like?"), ("alice", "Where does she live?"),
                            ("bob", "pets"), ("bob", "Where does he live?")]:
            res = m.search(query, user_id=user, limit=2)["results"]
            print(f"\n[{user}] {query}")
            for r in res:
                print(f"  {r['score']:.3f}  {r['memory']}")
        m.close()
        reopened = Memory({"embedder": {"provider": args.embedder}}, path=store)
        print(f"\nRe-opened the store: {reopened.store.count()} memories are back.")
        reopened.close()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0
