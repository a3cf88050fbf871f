"""From checkpoints to numbers: per-question retrieval metrics at every k, answer scores, judge verdicts.

Retrieval uses :func:`memlab.evaluate.metrics.evaluate_run` (the definitions of ``memlab eval``:
recall, nDCG, hit, MRR, precision at k over the answerable questions). A system's ranked list is
taken in the order the system returned it; a memory that maps to no dataset turn (e.g. a fact
extracted with ``infer=True``) counts as a non-relevant result; a turn returned twice counts once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from memlab.bench.checkpoint import Checkpoint
from memlab.evaluate.metrics import evaluate_run

RETRIEVAL_METRICS = ("recall", "ndcg", "hit", "mrr", "precision")
ANSWER_METRICS = ("f1", "bleu1", "j")


def run_frame(search: list) -> pd.DataFrame:
    """The run DataFrame evaluate_run expects, in each system's own order."""
    rows = []
    for rec in search:
        seen = set()
        rank = 0
        for h in rec["hits"]:
            mid = h.get("mid") or f"<unmapped>:{h['id']}"
            if mid in seen:
                continue
            seen.add(mid)
            rank += 1
            rows.append((rec["key"], mid, -float(rank), rank))
    return pd.DataFrame(rows, columns=["query_id", "memory_id", "score", "rank"])


def judge_spread(label: str, judged: list, runs: int) -> dict:
    """Accuracy of each judge run, their mean / SD / range, and the share of answers all runs agree on."""
    frame = pd.DataFrame([{"qid": r["key"][0], "run": r["key"][1], "correct": float(r["correct"])} for r in judged])
    if frame.empty:
        return {"system": label, "runs": 0}
    per_run = frame.groupby("run")["correct"].mean()
    per_q = frame.groupby("qid")["correct"]
    unanimous = float(((per_q.min() == per_q.max()) & (per_q.count() > 1)).mean()) if runs > 1 else 1.0
    return {"system": label, "runs": int(per_run.size), "accuracy_per_run": [float(x) for x in per_run],
            "mean": float(per_run.mean()), "std": float(per_run.std(ddof=1)) if per_run.size > 1 else 0.0,
            "min": float(per_run.min()), "max": float(per_run.max()), "unanimous_share": unanimous}


def collect(bench) -> tuple[pd.DataFrame, list, dict]:
    """(long score table, per-question records, extras) of every system in ``bench``."""
    ds = bench.dataset
    q = ds.queries
    cat = dict(zip(q["id"], q["category"].astype(str)))
    answerable = dict(zip(q["id"], q["answerable"]))
    text = dict(zip(q["id"], q["text"]))
    reference = dict(zip(q["id"], q["answer"])) if "answer" in q else {}
    relevant = ds.qrels[ds.qrels["relevance"] > 0].groupby("query_id")["memory_id"].apply(list).to_dict()
    long, records = [], []
    extra: dict = {"judge_spread": [], "timing": {}, "stages": {}}
    for spec in bench.specs:
        sdir = bench.system_dir(spec)
        ingest = Checkpoint(sdir / "ingest.jsonl").records()
        search = Checkpoint(sdir / "search.jsonl").records()
        answers = {r["key"]: r for r in Checkpoint(sdir / "answers.jsonl").records()}
        judged = Checkpoint(sdir / "judge.jsonl").records()
        labels: dict = {}
        for r in judged:
            labels.setdefault(r["key"][0], []).append(bool(r["correct"]))
        extra["stages"][spec.label] = {"ingest": len(ingest), "sessions": len(bench.sessions), "search": len(search),
                                       "questions": len(q), "answer": len(answers), "judge": len(judged)}
        secs = [r["seconds"] for r in search]
        extra["timing"][spec.label] = {
            "ingest_s": round(float(sum(r.get("seconds", 0) for r in ingest)), 2),
            "search_ms_median": round(1000 * float(np.median(secs)), 2) if secs else None,
            "search_ms_p95": round(1000 * float(np.percentile(secs, 95)), 2) if secs else None}
        per_k = {}
        if search:
            run = run_frame(search)
            done = q[q["id"].isin([r["key"] for r in search])]
            for k in bench.ks:
                per = evaluate_run(run, ds.qrels, done, k=k).set_index("query_id")
                per_k[k] = per
                for m in RETRIEVAL_METRICS:
                    vals = per[m]
                    long += [(spec.label, qid, cat[qid], m, k, float(v)) for qid, v in vals.items() if pd.notna(v)]
        for qid, a in answers.items():
            long += [(spec.label, qid, cat[qid], "f1", a["context_k"], a["f1"]),
                     (spec.label, qid, cat[qid], "bleu1", a["context_k"], a["bleu1"])]
            if qid in labels:
                long.append((spec.label, qid, cat[qid], "j", a["context_k"], float(np.mean(labels[qid]))))
        if judged:
            extra["judge_spread"].append(judge_spread(spec.label, judged, bench.judge_runs))
        for rec in search:
            qid = rec["key"]
            rel = set(relevant.get(qid, []))
            row = {"system": spec.label, "question_id": qid, "question": text[qid], "reference": reference.get(qid),
                   "category": cat[qid], "answerable": bool(answerable[qid]), "evidence": sorted(rel), "seconds": rec["seconds"],
                   "hits": [{**h, "relevant": h.get("mid") in rel} for h in rec["hits"]]}
            for k, per in per_k.items():
                if qid in per.index and answerable[qid]:
                    row[f"recall@{k}"] = float(per.at[qid, "recall"])
                    row[f"ndcg@{k}"] = float(per.at[qid, "ndcg"])
            if qid in answers:
                row.update({"answer": answers[qid]["answer"], "f1": answers[qid]["f1"],
                            "bleu1": answers[qid]["bleu1"]})
            if qid in labels:
                row["judge"] = labels[qid]
            records.append(row)
    scores = pd.DataFrame(long, columns=["system", "question_id", "category", "metric", "k", "value"])
    return scores, records, extra
