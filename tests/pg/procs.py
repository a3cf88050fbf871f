"""Running the client processes of tests/pg/clients.py, reading their acknowledgements, and checking
that a PostgreSQL store is consistent (every memory row has its history, every history chain is whole)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


_running: list[subprocess.Popen] = []


def launch(role: str, *args: str, log: Path) -> subprocess.Popen:
    """Start ``python -m tests.pg.clients ROLE ARGS`` in this worktree (its stdout/stderr go to ``log``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.pg.clients", role, *map(str, args)], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    _running.append(proc)
    return proc


@pytest.fixture(autouse=True)
def no_client_outlives_its_test():
    """Kill the clients a failed test left running (a writer whose server is gone would loop forever).
    Modules that launch clients import this fixture."""
    yield
    kill_clients()


def kill_clients() -> None:
    while _running:
        proc = _running.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@dataclass
class Acks:
    """What clients were told succeeded: ``adds`` id -> text, ``updates`` [(id, text)], and the rest."""

    adds: dict = field(default_factory=dict)
    updates: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    untyped: list = field(default_factory=list)
    intx: list = field(default_factory=list)


def read_acks(*files: Path) -> Acks:
    acks = Acks()
    for f in files:
        if not Path(f).exists():
            continue
        text = Path(f).read_text(encoding="utf-8")
        for line in text.split("\n")[:-1]:  # a last line without its newline was never acknowledged
            kind, _, rest = line.partition(" ")
            if kind == "ADD":
                mid, _, memory = rest.partition(" ")
                acks.adds[mid] = memory
            elif kind == "UPD":
                mid, _, memory = rest.partition(" ")
                acks.updates.append((mid, memory))
            elif kind == "ERR":
                acks.errors.append(rest)
            elif kind == "UNTYPED":
                acks.untyped.append(rest)
            elif kind == "INTX":
                acks.intx.append(rest)
    return acks


def wait_for(predicate, what: str, proc: subprocess.Popen | None = None, log: Path | None = None,
             timeout: float = 90.0) -> None:
    """Poll ``predicate`` until true; fail with the client's log when it died or time ran out."""
    end = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"client exited ({proc.returncode}) before {what}:\n{_tail(log)}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}:\n{_tail(log)}")
        time.sleep(0.05)


def _tail(log: Path | None) -> str:
    return Path(log).read_text(errors="replace")[-3000:] if log is not None and Path(log).exists() else ""


def history_chains(url: str, t: str) -> tuple[dict, dict]:
    """(memory id -> row dict, memory id -> [history rows in order]) of collection ``t``, read with plain SQL."""
    import psycopg

    with psycopg.connect(url) as conn:
        # one snapshot for both reads: a killed client's COMMIT may still land between two statements
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = {r[0]: {"memory": r[1], "state": r[2]} for r in conn.execute(f"SELECT id, memory, state FROM {t}")}
        chains: dict = {}
        for mid, event, old, new in conn.execute(
                f"SELECT memory_id, event, old_memory, new_memory FROM {t}_history ORDER BY hseq"):
            chains.setdefault(mid, []).append({"event": event, "old": old, "new": new})
    return rows, chains


def assert_consistent(url: str, t: str, acks: Acks | None = None) -> tuple[dict, dict]:
    """No half event anywhere, and every acknowledged write present. Returns (rows, chains)."""
    rows, chains = history_chains(url, t)
    assert set(rows) == set(chains), (f"rows without history: {sorted(set(rows) - set(chains))[:5]}, "
                                      f"history without row: {sorted(set(chains) - set(rows))[:5]}")
    for mid, chain in chains.items():
        assert chain[0]["event"] == "ADD" and chain[0]["old"] is None, (mid, chain)
        assert [e["event"] for e in chain].count("ADD") == 1, (mid, chain)
        for prev, cur in zip(chain, chain[1:]):  # each event starts from the text the one before left
            assert cur["event"] == "UPDATE" and cur["old"] == prev["new"], (mid, chain)
        assert chain[-1]["new"] == rows[mid]["memory"], (mid, chain, rows[mid])
    if acks is not None:
        assert acks.untyped == []
        for mid, memory in acks.adds.items():
            assert mid in rows, f"acknowledged add {mid} ({memory!r}) is lost"
            assert chains[mid][0]["new"] == memory
        for mid, memory in acks.updates:
            assert mid in rows and memory in [e["new"] for e in chains[mid] if e["event"] == "UPDATE"], \
                f"acknowledged update of {mid} to {memory!r} is lost"
    return rows, chains
