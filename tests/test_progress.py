"""Progress bars: on where a person watches, silent in tests and CI."""

from __future__ import annotations

import subprocess
import sys

from memlab.progress import progress_bar, progress_enabled


def test_silent_under_pytest_and_when_asked(monkeypatch):
    assert progress_enabled() is False  # PYTEST_CURRENT_TEST is set right now
    with progress_bar(total=3, desc="x") as bar:
        assert bar.disable
    monkeypatch.setenv("MEMLAB_PROGRESS", "1")
    assert progress_enabled() is True and progress_enabled(False) is False
    monkeypatch.setenv("MEMLAB_PROGRESS", "0")
    assert progress_enabled() is False


def _enabled_in_child(env_extra: dict) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "CI", "MEMLAB_PROGRESS")}
    env.update(env_extra)
    code = "from memlab.progress import progress_enabled; print(progress_enabled())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_silent_in_ci_and_without_a_terminal():
    assert _enabled_in_child({"CI": "true"}) == "False"
    assert _enabled_in_child({}) == "False"  # stderr is a pipe here, not a terminal: no bar in logs
    assert _enabled_in_child({"MEMLAB_PROGRESS": "1"}) == "True"


def test_an_import_reports_its_embedding_batches_to_the_enclosing_bar(monkeypatch):
    from memlab import Memory
    from memlab.progress import report_progress, reporting

    monkeypatch.setenv("MEMLAB_PROGRESS", "1")
    report_progress(5)  # outside a reporting block: nothing to advance, no error
    m = Memory({"embedder": {"provider": "hash", "config": {"embedding_dims": 16}}})
    with reporting("Importing", unit="mem") as bar:
        m.add_records([{"memory": f"fact {i}", "user_id": "u"} for i in range(7)], batch_size=3)
        m.add_records([{"memory": "with its own vector", "user_id": "u", "vector": [1.0] + [0.0] * 15}])
    assert (bar.n, bar.total) == (8, 8)
    m.close()
