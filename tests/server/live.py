"""Helpers that run ``memlab serve`` for real on 127.0.0.1 (a random free port).

``LiveServer`` runs uvicorn in a thread of the test process (fast); ``ServeProcess`` runs the
``memlab serve`` command as a subprocess (for shutdown and multi-instance tests).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
HASH_CONFIG = {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/openapi.json", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up in {timeout}s")


class LiveServer:
    """uvicorn serving ``create_app(root, config)`` in a background thread."""

    def __init__(self, root, config=None, **app_kwargs):
        import uvicorn

        from memlab.server.app import create_app

        self.app = create_app(root, config if config is not None else HASH_CONFIG, **app_kwargs)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        wait_up(self.url)
        return self

    def key(self, org: str, project: str) -> str:
        return self.app.state.tenancy.keys.create(org, project)[0]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class ServeProcess:
    """``python -m memlab serve`` as a subprocess."""

    def __init__(self, root, config: dict | None = None, workers: int = 1):
        self.root = Path(root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = self.root.parent / f"{self.root.name}-config.json"
        cfg.write_text(json.dumps(config if config is not None else HASH_CONFIG))
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        # output goes to a file, not a pipe: a full pipe would block the server mid-request
        self.log = self.root.parent / f"{self.root.name}-serve.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "memlab", "serve", "--store", str(root), "--port", str(self.port),
                 "--config", str(cfg), "--workers", str(workers), "--log-level", "warning"],
                env=env, stdout=log, stderr=log)

    def start(self) -> "ServeProcess":
        try:
            wait_up(self.url, timeout=90)
        except RuntimeError:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"memlab serve did not start: {self.log.read_text()[-2000:]}") from None
        return self

    def key(self, org: str, project: str) -> str:
        out = subprocess.run([sys.executable, "-m", "memlab", "keys", "create", "--store", str(self.root),
                              "--org", org, "--project", project], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
        return out.stdout.strip().splitlines()[-1]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
