"""``memlab keys`` and ``memlab serve`` as commands: keys hashed at rest, graceful shutdown keeps
every acknowledged write, several workers share one store."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

import httpx
import pytest

from memlab.cli import main
from tests.server.live import ServeProcess


def test_keys_create_list_revoke(tmp_path, capsys):
    assert main(["keys", "create", "--store", str(tmp_path), "--org", "acme", "--project", "web",
                 "--name", "ci"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("m0-")
    db = (tmp_path / "keys.db").read_bytes()
    assert key.encode() not in db and key.split(".")[1].encode() not in db  # only a salted HMAC is stored
    with sqlite3.connect(tmp_path / "keys.db") as con:
        (digest,) = con.execute("SELECT digest FROM api_keys").fetchone()
    assert len(digest) == 64
    assert main(["keys", "list", "--store", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert "acme/web" in listed and key not in listed
    key_id = key[3:19]
    assert main(["keys", "revoke", "--store", str(tmp_path), key_id]) == 0
    assert main(["keys", "revoke", "--store", str(tmp_path), key_id]) == 2  # already revoked: a clear error
    assert "No active key" in capsys.readouterr().err
    assert main(["keys", "create", "--store", str(tmp_path), "--org", "../etc", "--project", "x"]) == 2
    assert main(["keys", "list", "--store", str(tmp_path / "nothing-here")]) == 2


def test_graceful_shutdown_and_restart_keep_acknowledged_writes(tmp_path):
    srv = ServeProcess(tmp_path / "served").start()
    key = srv.key("acme", "web")
    headers = {"Authorization": f"Token {key}"}
    acked: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=srv.url, headers=headers, timeout=30) as http:
            i = 0
            while not stop.is_set():
                try:
                    r = http.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": f"w{n} {i}"}],
                                                            "user_id": "u", "infer": False})
                except httpx.HTTPError:
                    return  # the server went away mid-request: that write was never acknowledged
                if r.status_code == 200:
                    acked.append(r.json()["results"][0]["id"])
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while len(acked) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    # uvicorn drains in-flight requests, closes the stores, then re-raises SIGTERM (exit status -15)
    assert srv.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join()
    again = ServeProcess(tmp_path / "served").start()
    try:
        with httpx.Client(base_url=again.url, headers=headers, timeout=30) as http:
            body = http.post("/v3/memories/?page_size=1000", json={"filters": {"user_id": "u"}}).json()
        stored = {m["id"] for m in body["results"]}
        assert set(acked) <= stored and len(acked) >= 30
    finally:
        again.stop()


@pytest.mark.parametrize("workers", [2])
def test_several_workers_share_one_store(tmp_path, workers):
    srv = ServeProcess(tmp_path / "served", workers=workers).start()
    try:
        key = srv.key("acme", "web")
        headers = {"Authorization": f"Token {key}"}
        errors: list = []

        def writer(n: int) -> None:
            with httpx.Client(base_url=srv.url, headers=headers, timeout=60) as http:
                for i in range(25):
                    r = http.post("/v3/memories/add/", json={
                        "messages": [{"role": "user", "content": f"worker test {n}-{i}"}], "user_id": "u",
                        "infer": False})
                    if r.status_code != 200:
                        errors.append(r.text)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with httpx.Client(base_url=srv.url, headers=headers, timeout=60) as http:
            counts = {http.post("/v3/memories/?page_size=1000", json={"filters": {"user_id": "u"}}).json()["count"]
                      for _ in range(6)}  # asked several times: whichever worker answers sees every write
        assert counts == {100}
    finally:
        srv.stop()


def test_serve_and_mcp_refuse_bad_arguments_with_one_line(tmp_path, capsys):
    assert main(["serve", "--store", str(tmp_path), "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["serve", "--store", str(tmp_path), "--config", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["mcp", "--store", str(tmp_path)]) == 2
    assert "--user-id" in capsys.readouterr().err
    assert main(["mcp", "--store", str(tmp_path), "--user-id", "u", "--org", "a/b"]) == 2
    assert "org must be" in capsys.readouterr().err
