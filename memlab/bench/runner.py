"""``Benchmark``: datasets × systems × cut-offs through checkpointed stages.

Stages, per system, each checkpointed per item in ``OUT/systems/<system>/`` (see
:mod:`memlab.bench.checkpoint`):

1. ``ingest``  one ``add`` per session  -> ``ingest.jsonl`` (the system's ids of each turn)
2. ``search``  every question in its scope, top ``max(k)`` -> ``search.jsonl``
3. ``answer``  answerable questions, top ``context_k`` memories -> ``answers.jsonl``
4. ``judge``   every answer ``judge_runs`` times -> ``judge.jsonl``
5. ``score``   metrics, CIs, paired tests, report (recomputed from the checkpoints, cheap)

A killed run restarted with ``resume=True`` skips every finished item; the session whose ``add``
was in flight is first purged from the store (its memories carry ``metadata.bench_session``), so
nothing is stored twice. ``only="retrieval"`` stops after ``search``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import pandas as pd

from memlab.bench import data as bdata
from memlab.bench.answers import LLMJudge, make_answerer, score_answer
from memlab.bench.checkpoint import Checkpoint
from memlab.bench.systems import SystemSpec, make_system
from memlab.errors import ValidationError
from memlab.evaluate.datasets import Dataset
from memlab.progress import progress_bar

STAGES = ("ingest", "search", "answer", "judge", "score")
ONLY = (None, "retrieval", "answers")
RUN_FILE = "run.json"


def _check_ks(ks: Sequence[int]) -> list[int]:
    out = sorted({int(k) for k in ks}) if ks else []
    if not out or any(k < 1 for k in out) or any(isinstance(k, bool) for k in ks):
        raise ValidationError(f"k must be positive integers (e.g. 1,5,10,20), got {ks!r}.")
    return out


class Benchmark:
    """Systems side by side on one dataset (see the module docstring and docs/bench.md).

    Args:
        dataset: a path (LoCoMo / LongMemEval JSON, memlab JSONL, or a bundled name) or a
            :class:`~memlab.evaluate.Dataset`.
        systems: specs ``name[:key=value,...]`` (``memlab``, ``bm25``, ``dense``, ``mem0``,
            ``mem0-platform``), dicts or :class:`SystemSpec`.
        ks: cut-offs; the search depth is ``max(ks)``.
        out: run folder (checkpoints, store per system, results); a temp folder when None.
        resume: continue a run in ``out``; without it an existing run folder is refused.
        dataset_format: ``auto`` | ``locomo`` | ``longmemeval`` | ``jsonl``.
        scopes, questions, categories: a slice (first N conversations, first N questions each).
        answerer: ``"extractive"`` (offline) or OpenAI-compatible settings ``{"base_url", "model", ...}``.
        judge: None (no J) or OpenAI-compatible settings for the judge; ``judge_runs`` repeats it.
        context_k: memories given to the answerer.
        grid: ``{"fusion_weights.speaker": [0, 1, 2], ...}``: see :meth:`run_grid`.
    """

    def __init__(self, dataset: Union[str, Path, Dataset], systems: Sequence[Any] = ("memlab",), *,
                 ks: Sequence[int] = (1, 5, 10, 20), out: Union[str, Path, None] = None, resume: bool = False,
                 dataset_format: str = "auto", scopes: Optional[int] = None, questions: Optional[int] = None,
                 categories: Optional[list] = None, answerer: Any = "extractive", judge: Optional[dict] = None,
                 judge_runs: int = 1, context_k: int = 10, n_boot: int = 1000, n_perm: int = 10_000,
                 alpha: float = 0.05, seed: int = 0, progress: bool = True, grid: Optional[dict] = None):
        self.ks = _check_ks(ks)
        if not systems:
            raise ValidationError("give at least one system (e.g. memlab, bm25, mem0).")
        self.specs = [SystemSpec.parse(s) for s in systems]
        labels = [s.label for s in self.specs]
        if len(set(labels)) != len(labels):
            raise ValidationError(f"system labels must differ, got {labels}; add label=... to a spec.")
        for name, v in (("judge_runs", judge_runs), ("context_k", context_k)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValidationError(f"{name} must be a positive integer, got {v!r}.")
        self.source = None if isinstance(dataset, Dataset) else str(dataset)
        ds = dataset if isinstance(dataset, Dataset) else bdata.load(dataset, dataset_format)
        self.slice = {"scopes": scopes, "questions": questions, "categories": categories}
        self.dataset = bdata.slice_dataset(ds, scopes=scopes, questions=questions, categories=categories)
        self.sessions = bdata.sessions(self.dataset)
        self.answerer_setting, self.judge_setting = answerer, judge
        self.judge_runs, self.context_k = judge_runs, context_k
        self.n_boot, self.n_perm, self.alpha, self.seed = n_boot, n_perm, alpha, seed
        self.progress, self.grid = progress, grid
        if out is None:
            import tempfile

            out = tempfile.mkdtemp(prefix="memlab-bench-")
            resume = True
        self.out = Path(out)
        self.resume = resume
        self.log: list[dict] = []  # what each stage did in this process (tests and the CLI read it)

    # ------------------------------------------------------------------ run folder
    def fingerprint(self) -> dict:
        return {"dataset": {"source": self.source, "name": self.dataset.name, "slice": self.slice,
                            "questions": len(self.dataset.queries), "memories": len(self.dataset.memories)},
                "systems": [s.fingerprint() for s in self.specs], "depth": max(self.ks)}

    def _prepare(self) -> None:
        if getattr(self, "_prepared", False):  # this object made or checked the folder already
            return
        if self.out.exists() and not self.out.is_dir():
            raise ValidationError(f"--out {str(self.out)!r} is a file; pass a directory.")
        run_file = self.out / RUN_FILE
        fp = self.fingerprint()
        if run_file.exists():
            old = json.loads(run_file.read_text(encoding="utf-8"))
            if not self.resume:
                raise ValidationError(f"{self.out} already holds a benchmark run; pass --resume to continue it "
                                      "or choose another --out.")
            if old.get("fingerprint") != fp:
                raise ValidationError(f"{self.out} holds a different run (dataset, slice, systems or depth changed); "
                                      "resume it with the same settings or choose another --out.")
            self._prepared = True
            return
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = run_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": fp}, indent=2, default=str), encoding="utf-8")
        tmp.replace(run_file)
        self._prepared = True

    def system_dir(self, spec: SystemSpec) -> Path:
        return self.out / "systems" / spec.slug

    # ------------------------------------------------------------------ stages
    def run(self, only: Optional[str] = None):
        """Run every stage not finished yet; returns a :class:`~memlab.bench.report.BenchResult`."""
        if only not in ONLY:
            raise ValidationError(f"only must be one of retrieval, answers (or None), got {only!r}.")
        if only != "retrieval" and self.judge_setting is not None:
            LLMJudge(self.judge_setting)  # fail on a bad judge config before hours of work
        self._prepare()
        answerer = make_answerer(self.answerer_setting) if only != "retrieval" else None
        for spec in self.specs:
            system = make_system(spec)
            try:
                self._ingest(spec, system)
                self._search(spec, system)
            finally:
                system.close()
            if answerer is not None:
                self._answer(spec, answerer)
                if self.judge_setting is not None and only != "answers":
                    self._judge(spec)
        return self.score()

    def _bar(self, total: int, desc: str):
        return progress_bar(total=total, desc=desc, unit="it", enabled=self.progress)

    def _ingest(self, spec: SystemSpec, system, sdir: Optional[Path] = None) -> None:
        sdir = sdir or self.system_dir(spec)
        existed = (sdir / "store").exists()  # a previous process started this system's ingest
        (sdir / "store").mkdir(parents=True, exist_ok=True)  # also for systems whose store is remote
        ckpt = Checkpoint(sdir / "ingest.jsonl")
        todo = [s for s in self.sessions if s.uid not in ckpt]
        system.open(sdir / "store", self.out / "cache")
        purged = 0
        if todo and existed:
            purged = system.purge_session(todo[0])  # the add a killed run may have left half-written
        done = 0
        with self._bar(len(todo), f"ingest {spec.label}") as bar:
            for s in todo:
                t0 = time.perf_counter()
                ids = system.add_session(s)
                ckpt.write({"key": s.uid, "ids": ids, "turns": [t.memory_id for t in s.turns],
                            "seconds": round(time.perf_counter() - t0, 4)})
                done += 1
                bar.update(1)
        ckpt.close()
        self.log.append({"system": spec.label, "stage": "ingest", "done": done, "skipped": len(self.sessions) - done,
                         "purged": purged})

    def id_map(self, sdir: Path) -> tuple[dict, dict]:
        """(system id -> dataset id, (scope, text) -> dataset id) from the ingest checkpoint."""
        ids, texts = {}, {}
        scope_of = dict(zip(self.dataset.memories["id"], self.dataset.memories["scope"]))
        by_uid = {s.uid: s for s in self.sessions}
        for rec in Checkpoint(Path(sdir) / "ingest.jsonl").records():
            if len(rec["ids"]) == len(rec["turns"]):
                ids.update(zip(rec["ids"], rec["turns"]))
            sess = by_uid.get(rec["key"])
            for t in (sess.turns if sess else []):
                texts.setdefault((scope_of.get(t.memory_id), t.content.strip()), t.memory_id)
        return ids, texts

    def _search(self, spec: SystemSpec, system, sdir: Optional[Path] = None,
                ingest_dir: Optional[Path] = None) -> None:
        sdir = sdir or self.system_dir(spec)
        ckpt = Checkpoint(sdir / "search.jsonl")
        ids, texts = self.id_map(ingest_dir or sdir)
        when = dict(zip(self.dataset.memories["id"], self.dataset.memories["time"]))
        q = self.dataset.queries
        todo = [(i, s, t) for i, s, t in zip(q["id"], q["scope"], q["text"]) if i not in ckpt]
        depth = max(self.ks)
        with self._bar(len(todo), f"search {spec.label}") as bar:
            for qid, scope, text in todo:
                t0 = time.perf_counter()
                hits = system.search(str(scope), str(text), depth)
                secs = time.perf_counter() - t0
                out = []
                for h in hits:
                    mid = ids.get(h["id"]) or texts.get((str(scope), str(h["memory"]).strip()))
                    date = when.get(mid) if mid else None
                    out.append({"id": h["id"], "mid": mid, "memory": h["memory"], "score": h["score"],
                                "date": None if date is None or pd.isna(date) else pd.Timestamp(date).strftime(
                                    "%d %B %Y")})
                ckpt.write({"key": qid, "hits": out, "seconds": round(secs, 5)})
                bar.update(1)
        ckpt.close()
        self.log.append({"system": spec.label, "stage": "search", "done": len(todo),
                         "skipped": len(q) - len(todo)})

    def _answer(self, spec: SystemSpec, answerer) -> None:
        sdir = self.system_dir(spec)
        search = Checkpoint(sdir / "search.jsonl")
        ckpt = Checkpoint(sdir / "answers.jsonl")
        q = self.dataset.queries
        refs = q["answer"] if "answer" in q else pd.Series([None] * len(q))
        todo = [(i, t, r) for i, t, r, a in zip(q["id"], q["text"], refs, q["answerable"])
                if a and r is not None and not pd.isna(r) and i not in ckpt]
        with self._bar(len(todo), f"answer {spec.label}") as bar:
            for qid, text, ref in todo:
                hits = search.get(qid)["hits"][: self.context_k]
                answer = answerer.answer(str(text), hits)
                ckpt.write({"key": qid, "answer": answer, "answerer": getattr(answerer, "name", "answerer"),
                            "context_k": self.context_k, **score_answer(answer, str(ref))})
                bar.update(1)
        ckpt.close()
        self.log.append({"system": spec.label, "stage": "answer", "done": len(todo)})

    def _judge(self, spec: SystemSpec) -> None:
        judge = LLMJudge(self.judge_setting)
        sdir = self.system_dir(spec)
        answers = Checkpoint(sdir / "answers.jsonl").records()
        ckpt = Checkpoint(sdir / "judge.jsonl")
        q = self.dataset.queries.set_index("id")
        todo = [(a, r) for a in answers for r in range(self.judge_runs) if (a["key"], r) not in ckpt]
        with self._bar(len(todo), f"judge {spec.label}") as bar:
            for a, r in todo:
                row = q.loc[a["key"]]
                correct, reply = judge.judge(str(row["text"]), str(row["answer"]), a["answer"])
                ckpt.write({"key": [a["key"], r], "correct": bool(correct), "reply": reply[:500]})
                bar.update(1)
        ckpt.close()
        self.log.append({"system": spec.label, "stage": "judge", "done": len(todo)})

    # ------------------------------------------------------------------ score
    def score(self):
        """Metrics, CIs, paired tests and the report from the checkpoints (writes OUT/results.json etc.)."""
        from memlab.bench.report import BenchResult
        from memlab.bench.scoring import collect

        scores, records, extra = collect(self)
        result = BenchResult.build(self, scores, records, extra)
        result.write(self.out)
        return result

    def run_grid(self, grid: Optional[dict] = None, *, base: Any = "memlab"):
        """Configuration grid (see :func:`memlab.bench.grid.run_grid`): a tidy DataFrame."""
        from memlab.bench.grid import run_grid

        return run_grid(self, grid or self.grid, base=base)
