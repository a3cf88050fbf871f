"""A real ``memlab bench`` subprocess killed mid-stage, then resumed: nothing redone, nothing lost.

The slow parts are made slow from outside, by the local OpenAI-compatible server the run talks to
over HTTP (delayed answers; delayed embeddings), so the kill lands inside a stage with no test hook
in the product code.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memlab.bench import Benchmark
from tests.openai_server import OpenAICompatServer

REPO = Path(__file__).resolve().parents[2]


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "memlab", "bench", *map(str, args)]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "MEMLAB_PROGRESS": "0", "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1", "MEM0_TELEMETRY": "False"}


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def kill_when(proc, path: Path, n: int, timeout: float = 180.0) -> None:
    """SIGKILL ``proc`` as soon as ``path`` holds ``n`` checkpoint lines."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it could be killed: {proc.stderr.read()}")
        if path.exists() and path.read_text().count("\n") >= n:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{path} never reached {n} lines")


def slow_first_memory(req):
    text = req["messages"][-1]["content"]
    m = re.search(r"^1\. (?:\[[^\]]*\] )?(.*)$", text, re.M)
    return {"content": m.group(1) if m else "I don't know", "delay": 0.4}


def stored(out: Path, label_part: str, provider: dict) -> int:
    from memlab import Memory

    sdir = next(p for p in (out / "systems").iterdir() if p.name.startswith(label_part))
    with Memory({"embedder": provider, "vector_store": {"provider": "faiss", "config": {}}},
                path=str(sdir / "store")) as m:
        return len(m.get_all(user_id="sample-1", limit=1000)["results"])


def test_killed_in_the_answer_stage_resumes_without_redoing_or_losing(sample_path, tmp_path):
    srv = OpenAICompatServer().start()
    try:
        srv.repeat_last = True
        srv.push(slow_first_memory)
        out = tmp_path / "run"
        args = [sample_path, "--system", "bm25", "--system", "memlab:embedder=hash", "--scopes", "1", "--k", "1,5",
                "--out", out, "--answerer-base-url", srv.base_url, "--only", "answers", "--n-perm", "200",
                "--n-boot", "100"]
        proc = subprocess.Popen(cli(*args), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        bm25_dir = None
        end = time.monotonic() + 120
        while bm25_dir is None and time.monotonic() < end:
            found = list((out / "systems").glob("bm25-*")) if (out / "systems").exists() else []
            bm25_dir = found[0] if found else None
            time.sleep(0.05)
        assert bm25_dir is not None, proc.stderr.read() if proc.poll() is not None else "no system folder"
        kill_when(proc, bm25_dir / "answers.jsonl", 3)
        before = lines(bm25_dir / "answers.jsonl")
        requests_before = len(srv.chat_requests())
        assert 3 <= len(before) < 9 and not (out / "results.json").exists()

        done = subprocess.run(cli(*args, "--resume"), env=env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        # the killed run's finished answers are kept; only the rest (and the one in flight) is asked again
        after = lines(bm25_dir / "answers.jsonl")
        assert [a["key"] for a in after[: len(before)]] == [a["key"] for a in before]
        assert len(after) == len({a["key"] for a in after}) == 9
        resumed_requests = len(srv.chat_requests()) - requests_before
        assert resumed_requests == (9 - len(before)) + 9  # bm25's missing answers + the second system's
        assert "bm25: ingest 0, 3 already done" in done.stdout
        assert "bm25: search 0, 10 already done" in done.stdout
        assert f"bm25: answer {9 - len(before)}" in done.stdout
        assert stored(out, "bm25", {"provider": "hash"}) == 18  # no session stored twice
    finally:
        srv.stop()

    # the resumed run equals an uninterrupted one
    clean_srv = OpenAICompatServer().start()
    try:
        clean_srv.repeat_last = True
        clean_srv.push(lambda req: {**slow_first_memory(req), "delay": 0})
        clean = Benchmark(sample_path, ["bm25", "memlab:embedder=hash"], ks=(1, 5), scopes=1, out=tmp_path / "clean",
                          answerer={"base_url": clean_srv.base_url}, n_perm=200, n_boot=100, progress=False)
        res = clean.run(only="answers")
    finally:
        clean_srv.stop()
    resumed = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    key = lambda r: (r["system"], r["question_id"])  # noqa: E731
    assert {key(r): (r.get("answer"), r.get("recall@5")) for r in resumed} == {
        key(r): (r.get("answer"), r.get("recall@5")) for r in res.records}


def test_killed_in_the_ingest_stage_stores_every_turn_once(sample_path, tmp_path):
    srv = OpenAICompatServer(embedding_dims=32).start()
    try:
        srv.embedding_delay = 0.5
        out = tmp_path / "run"
        spec = f"memlab:embedder=openai,embedder.base_url={srv.base_url},embedder.model=test-embed,label=remote"
        args = [sample_path, "--system", spec, "--scopes", "1", "--k", "1,5", "--out", out, "--only", "retrieval",
                "--n-perm", "200", "--n-boot", "100"]
        proc = subprocess.Popen(cli(*args), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 120
        ingest = None
        while ingest is None and time.monotonic() < end:
            found = list((out / "systems").glob("remote-*")) if (out / "systems").exists() else []
            ingest = found[0] / "ingest.jsonl" if found else None
            time.sleep(0.05)
        assert ingest is not None
        kill_when(proc, ingest, 1)
        killed_at = len(lines(ingest))
        assert 1 <= killed_at < 3
        srv.embedding_delay = 0.0
        done = subprocess.run(cli(*args, "--resume"), env=env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert f"remote: ingest {3 - killed_at}, {killed_at} already done" in done.stdout
        assert [r["key"] for r in lines(ingest)] == ["sample-1|s1", "sample-1|s2", "sample-1|s3"]
        provider = {"provider": "openai", "config": {"base_url": srv.base_url, "model": "test-embed"}}
        assert stored(out, "remote", provider) == 18
        res = json.loads((out / "results.json").read_text())
        assert res["stages"]["remote"]["search"] == 10
    finally:
        srv.stop()
