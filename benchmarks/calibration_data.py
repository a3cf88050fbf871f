"""Labelled channel scores for fitting the relevance calibration (benchmarks/fit_calibration.py).

For every question of a dataset, every memory of the question's scope is scored by the engine's own
channel code (the same arrays the fusion search fuses), and labelled relevant or not from the qrels.
Three dataset shapes:

- ``turns``: LoCoMo turns, each session stored with one ``add(messages, infer=False, timestamp=...)``;
- ``facts``: LoCoMo's per-session ``observation`` lists, one ``add(fact, infer=False, timestamp=...)`` per
  fact, a fact relevant to a question when it cites one of the question's evidence turns;
- ``assistant``: the bundled assistant set (or any dataset ``memlab.evaluate.load_dataset`` reads).

Embeddings are cached on disk (``--cache``), and the extracted arrays too (``.npz`` under ``--out``),
so refits do not re-embed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from memlab import Memory  # noqa: E402
from memlab.evaluate import build_memory, load_dataset  # noqa: E402
from memlab.evaluate.loaders import parse_locomo_date  # noqa: E402
from memlab.store import filters as F  # noqa: E402

CHANNELS = ("dense", "dense_context", "keyword", "keyword_context", "speaker", "time", "time_text")



def locomo_turns(path: str):
    ds = load_dataset(path)
    return ds.subset(categories=[1, 2, 3, 4])


def locomo_facts(path: str):
    """(memories list of dicts, queries frame, relevant: dict qid -> set of fact keys)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    facts = []
    for sample in data:
        sid = str(sample["sample_id"])
        conv = sample["conversation"]
        for key, per_speaker in (sample.get("observation") or {}).items():
            num = key.split("_")[1]
            when = parse_locomo_date(conv.get(f"session_{num}_date_time") or "")
            for speaker, items in (per_speaker or {}).items():
                for item in items or []:
                    text, cites = item[0], item[1] if len(item) > 1 else []
                    cites = [cites] if isinstance(cites, str) else list(cites or [])
                    cites = {c.strip() for cite in cites for c in str(cite).replace(";", ",").split(",")}
                    facts.append({"key": f"{sid}:f{len(facts)}", "scope": sid, "text": text, "time": when,
                                  "cites": cites, "speaker": speaker})
    turns = locomo_turns(path)
    q = turns.queries
    by_scope: dict[str, list] = {}
    for f in facts:
        by_scope.setdefault(f["scope"], []).append(f)
    rel = {}
    for qid, scope, ev in zip(q["id"], q["scope"], q["evidence"]):
        ev = set(ev or [])
        rel[qid] = {f["key"] for f in by_scope.get(scope, []) if f["cites"] & ev}
    return facts, q, rel


def _memory(embedder: str, cache: Optional[str]) -> Memory:
    cfg = {"provider": embedder}
    if cache and embedder != "hash":
        cfg["config"] = {"cache_path": cache}
    return Memory({"embedder": cfg})


def build(shape: str, path: str, embedder: str, cache: Optional[str]):
    """(memory, queries frame [id, scope, text, category], relevant: qid -> set of memlab ids)."""
    if shape == "facts":
        facts, q, rel = locomo_facts(path)
        memory = _memory(embedder, cache)
        memory.embed([f["text"] for f in facts])  # one batch: warms the cache
        key_to_id = {}
        for f in facts:
            ts = None if f["time"] is None else f["time"]
            item = memory.add(f["text"], user_id=f["scope"], infer=False, timestamp=ts)["results"][0]
            key_to_id[f["key"]] = item["id"]
        rel = {qid: {key_to_id[k] for k in keys} for qid, keys in rel.items()}
        return memory, q, rel
    ds = locomo_turns(path) if shape == "turns" else load_dataset(path)
    cfg = {"provider": embedder, **({"config": {"cache_path": cache}} if cache and embedder != "hash" else {})}
    memory = build_memory(ds, {"embedder": cfg})
    back = {v: k for k, v in (memory.dataset_ids or {}).items()}
    rel: dict[str, set] = {}
    for qid, mid in zip(ds.qrels["query_id"], ds.qrels["memory_id"]):
        rel.setdefault(qid, set()).add(back.get(mid, mid))
    return memory, ds.queries, rel  # unanswerable questions too: nothing should score high


RERANK_TOP_N = 50


def rerank_column(table, allowed: np.ndarray, raw: dict, text: str, reranker) -> np.ndarray:
    """The reranker's score of the top ``RERANK_TOP_N`` rows by today's fused score (NaN elsewhere),
    computed the way a reranked search computes it (memlab.rerankers.rerank_hits)."""
    from memlab.config import DEFAULT_FUSION_WEIGHTS
    from memlab.ranking.fusion import combsum

    fused, _ = combsum(raw, DEFAULT_FUSION_WEIGHTS)
    head = np.lexsort((allowed, -fused))[:RERANK_TOP_N]
    rows = [table.row(int(allowed[i])) for i in head]
    cands = [{"memory": r["memory"], "actor_id": r.get("actor_id"), "role": r.get("role"), "context": r.get("context"),
              "score": float(raw["dense"][i]), "rank_score": float(fused[i]),
              "channels": {c: float(raw[c][i]) for c in raw}} for r, i in zip(rows, head)]
    out = np.full(len(allowed), np.nan)
    out[head] = reranker.score(text, cands)
    return out


def extract(memory: Memory, queries: pd.DataFrame, rel: dict) -> dict:
    """Per (query, scope memory): raw channel scores + label; per query: scope size and BM25 ceilings."""
    from memlab.store.faiss.search import FaissCandidates

    store = memory.store
    t = store.table
    ids = t.column("id")
    qvecs = memory.embed(queries["text"].tolist(), purpose="search")
    from memlab.rerankers import create_reranker

    reranker = create_reranker("features")[0]
    cols: dict[str, list] = {c: [] for c in (*CHANNELS, "label", "qi", "pos", "rerank")}
    per_q = {"n": [], "kw_max": [], "kwc_max": [], "qid": [], "scope": [], "category": [], "n_rel": []}
    for qi, (qid, scope, text) in enumerate(zip(queries["id"], queries["scope"], queries["text"])):
        source = FaissCandidates(store, np.asarray(qvecs[qi], dtype=np.float32), F.parse({"user_id": str(scope)}))
        allowed, raw = source.channels(text, list(CHANNELS))
        rels = rel.get(qid, set())
        label = np.fromiter((i in rels for i in ids[allowed].tolist()), dtype=bool, count=len(allowed))
        for c in CHANNELS:
            cols[c].append(np.asarray(raw[c], dtype=np.float64))
        cols["label"].append(label)
        cols["rerank"].append(rerank_column(t, allowed, {c: np.asarray(raw[c], dtype=np.float64) for c in CHANNELS},
                                            text, reranker))
        cols["qi"].append(np.full(len(allowed), qi))
        cols["pos"].append(allowed)
        per_q["n"].append(len(allowed))
        per_q["kw_max"].append(source.ceilings.get("keyword", 0.0))
        per_q["kwc_max"].append(source.ceilings.get("keyword_context", source.ceilings.get("keyword", 0.0)))
        per_q["qid"].append(str(qid))
        per_q["scope"].append(str(scope))
        cat = queries["category"].iloc[qi] if "category" in queries else None
        per_q["category"].append(str(cat))
        per_q["n_rel"].append(len(rels))
    out = {k: np.concatenate(v) for k, v in cols.items()}
    out.update({f"q_{k}": np.asarray(v) for k, v in per_q.items()})
    return out


def load_or_extract(shape: str, path: str, embedder: str, cache: Optional[str], out_dir: str) -> dict:
    out = Path(out_dir) / f"{shape}-{embedder}.npz"
    if out.is_file():
        with np.load(out, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    t0 = time.perf_counter()
    memory, q, rel = build(shape, path, embedder, cache)
    print(f"{shape}/{embedder}: stored in {time.perf_counter() - t0:.0f} s", flush=True)
    try:
        data = extract(memory, q, rel)
    finally:
        memory.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **data)
    print(f"{shape}/{embedder}: {len(data['q_qid'])} queries, {len(data['label'])} rows in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    return data


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--path", default=str(HERE.parent.parent / "shared" / "datasets" / "locomo" / "locomo-dev.json"))
    ap.add_argument("--shapes", default="turns,facts,assistant")
    ap.add_argument("--embedders", default="minilm,hash")
    ap.add_argument("--cache", default="/tmp/calib/embeddings.sqlite")
    ap.add_argument("--out", default="/tmp/calib")
    a = ap.parse_args()
    for emb in a.embedders.split(","):
        for shape in a.shapes.split(","):
            load_or_extract(shape, "assistant" if shape == "assistant" else a.path, emb, a.cache, a.out)


def locomo_facts_dataset(path: str):
    """LoCoMo's observations as a memlab Dataset (facts shape): one memory per fact, dated by its session,
    relevant to a question when it cites one of the question's evidence turns. Questions without a relevant
    fact stay in (nothing should score high for them) but have no qrels."""
    from memlab.evaluate.datasets import Dataset

    facts, q, rel = locomo_facts(path)
    memories = pd.DataFrame([{"id": f["key"], "scope": f["scope"], "text": f["text"], "time": f["time"],
                              "metadata": {"speaker": f["speaker"]}} for f in facts])
    queries = q[["id", "scope", "text", "category", "answerable"]].copy()
    queries["answerable"] = [bool(rel.get(i)) for i in queries["id"]]
    qrels = pd.DataFrame([{"query_id": qid, "memory_id": k, "relevance": 1.0} for qid, keys in rel.items()
                          for k in sorted(keys)], columns=["query_id", "memory_id", "relevance"])
    return Dataset("locomo-facts", memories, queries, qrels,
                   "LoCoMo observations (facts), one memory per fact, relevant when citing an evidence turn.")
