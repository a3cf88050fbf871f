"""A JupyterLab server and a Chromium page driven like a person: open a notebook, Run All Cells.

One server per test session (on a free port, token-less, with its own runtime/config/settings
folders so nothing of the user's Jupyter setup leaks in or out) and one browser; each notebook
gets its own tab and kernel, shut down when its test ends.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

# JupyterLab user settings: no news/update checks (no network), every cell attached to the DOM
# (the default windowing can detach cells out of view, and we read them all), no autosave surprises.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}

# A cell still to run shows "[ ]:" or "[*]:"; a finished one "[n]:". In a fresh kernel, Run All
# numbers the N code cells 1..N, so "done" is exactly that (stale counts saved in the file do not fool it).
# Run All stops at a cell that fails: an error output ends the wait too (the test then reports it).
_ALL_CELLS_DONE = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const outputs = cells.get(i).outputs;
    for (let j = 0; outputs && j < outputs.length; j++)
      if (outputs.get(j).type === 'error') return true;
  }
  const node = window.jupyterapp.shell.currentWidget.node;
  const prompts = [...node.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
  const counts = prompts.map(p => (p.textContent.trim().match(/^\\[(\\d+)\\]:$/) || [])[1]);
  return prompts.length > 0 && counts.every((c, i) => c !== undefined && Number(c) === i + 1);
}"""

# Errors from the notebook model itself (what the kernel sent), not from scraping rendered text.
_ERROR_OUTPUTS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const errors = [];
  const cells = panel.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j).toJSON();
      if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
    }
  }
  return errors;
}"""


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when pytest dies (killed by a timeout, Ctrl-C twice): no orphans."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``jupyter lab`` over a copy of the notebooks in ``workdir`` (they write files next to themselves)."""

    def __init__(self, notebooks: Path, workdir: Path):
        self.workdir = workdir
        self.root = workdir / "notebooks"
        shutil.copytree(notebooks, self.root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "jupyter.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 120) -> "LabServer":
        settings = self.workdir / "lab-settings"
        for name, value in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        env = dict(os.environ)
        for key in ("MEMLAB_LOCOMO_PATH", "JUPYTER_TOKEN"):  # notebook 03's optional section stays off
            env.pop(key, None)
        env.update({
            "JUPYTER_RUNTIME_DIR": str(self.workdir / "runtime"), "JUPYTER_CONFIG_DIR": str(self.workdir / "config"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.workdir / "workspaces"),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": os.pathsep.join(
                p for p in (str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")) if p),
        })
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
               f"--ServerApp.root_dir={self.root}", "--IdentityProvider.token=", "--ServerApp.password=",
               "--ServerApp.disable_check_xsrf=True", "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            cmd.append("--allow-root")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=self.log.open("wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not answer within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def api(self, method: str, path: str) -> object:
        req = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every session's kernel (each notebook loads a model: free the memory)."""
        for session in self.api("GET", "/api/sessions") or []:
            try:
                self.api("DELETE", f"/api/sessions/{session['id']}")
            except urllib.error.URLError:
                pass

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.shutdown_kernels()
        except (urllib.error.URLError, OSError):
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def open_notebook(page, lab: LabServer, name: str, timeout_ms: int = 60_000) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle."""
    # ?reset: a fresh workspace, so the previous test's notebook is not restored next to this one
    page.goto(f"{lab.url}/lab/tree/{name}?reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", state="attached", timeout=timeout_ms)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'",
                           timeout=timeout_ms)


def run_all_cells(page, timeout_ms: int = 300_000) -> float:
    """Run > Run All Cells through the menu bar, as a person would; wait until every cell ran."""
    t0 = time.monotonic()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator("li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))").click()
    page.wait_for_function(_ALL_CELLS_DONE, timeout=timeout_ms)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus "
                           "=== 'idle'", timeout=timeout_ms)
    return time.monotonic() - t0


def error_outputs(page) -> list:
    return page.evaluate(_ERROR_OUTPUTS)


def rendered_output_texts(page) -> list:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").all_inner_texts()


def save_notebook(page, timeout_ms: int = 30_000) -> None:
    """File > Save Notebook through the menu bar, as a person would; wait until it is written."""
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator("li.lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Save Notebook'))").click()
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=timeout_ms)


def reopen_without_widgets(page, lab: "LabServer", name: str) -> None:
    """Shut the kernels down and open the saved notebook again: its widget models are gone."""
    lab.shutdown_kernels()
    page.goto(f"{lab.url}/lab/tree/{name}?reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", state="attached", timeout=60_000)
    # the widget manager reports missing models once it has restored: wait for the outputs to settle
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.context.isReady", timeout=60_000)
    page.wait_for_timeout(3000)
