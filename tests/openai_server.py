"""A small OpenAI-compatible HTTP server for tests (127.0.0.1 only, real HTTP).

Serves ``POST /v1/chat/completions`` from a script of replies and ``POST /v1/embeddings``
with deterministic hashing vectors. Every request is recorded for assertions.

Script items for chat completions (consumed in order; the last one repeats when
``repeat_last`` is set):
    "text"                          -> 200 with that assistant content
    {"content": "...", ...}         -> 200 with that content
    {"tool_calls": [{"name": "f", "arguments": {...} | "raw json"}]}
                                    -> 200 with those tool calls (finish_reason "tool_calls")
    {"status": 500, "body": {...}}  -> that HTTP status
    {"delay": 5.0, ...}             -> sleep first
    {"hold": threading.Event, ...}  -> wait until the test sets the event (at most 30 s) before
                                       replying: a timeout test can check that the client gave up
                                       while the reply was still held (``replies_sent``), with no
                                       wall-clock bound in the test
    callable(request_json) -> item  -> computed reply
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from memlab.embedders.hashing import HashEmbedder


class OpenAICompatServer:
    def __init__(self, embedding_dims: int = 64):
        self.script: list[Any] = []
        self.repeat_last = False
        self.requests: list[dict] = []
        self.embedding_dims = embedding_dims
        self.embedding_failures = 0  # next N embedding calls answer HTTP 500
        self.embedding_delay = 0.0  # seconds every embedding call waits (a slow server, e.g. to kill a run mid-ingest)
        self.replies_sent = 0  # chat replies written so far (held ones count once released)
        self._embedder = HashEmbedder(embedding_dims=embedding_dims)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload: Any):
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    req = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    return self._send(400, {"error": {"message": "bad json"}})
                with server._lock:
                    server.requests.append({"path": self.path, "json": req,
                                            "auth": self.headers.get("Authorization")})
                if self.path.endswith("/embeddings"):
                    return self._embeddings(req)
                if self.path.endswith("/chat/completions"):
                    return self._chat(req)
                return self._send(404, {"error": {"message": f"no route {self.path}"}})

            def _embeddings(self, req):
                if server.embedding_delay:
                    time.sleep(server.embedding_delay)
                with server._lock:
                    fail = server.embedding_failures > 0
                    if fail:
                        server.embedding_failures -= 1
                if fail:
                    return self._send(500, {"error": {"message": "scripted failure", "type": "server_error"}})
                inputs = req.get("input")
                if isinstance(inputs, str):
                    inputs = [inputs]
                vecs = server._embedder.embed(inputs)
                data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]
                return self._send(200, {"object": "list", "data": data, "model": req.get("model", "test"),
                                        "usage": {"prompt_tokens": 0, "total_tokens": 0}})

            def _chat(self, req):
                with server._lock:
                    if not server.script:
                        item: Any = {"status": 500, "body": {"error": {"message": "script exhausted"}}}
                    elif server.repeat_last and len(server.script) == 1:
                        item = server.script[0]
                    else:
                        item = server.script.pop(0)
                if callable(item):
                    item = item(req)
                if isinstance(item, str):
                    item = {"content": item}
                if item.get("delay"):
                    time.sleep(item["delay"])
                if item.get("hold") is not None:
                    item["hold"].wait(timeout=30.0)
                with server._lock:
                    server.replies_sent += 1
                if "status" in item and item["status"] != 200:
                    return self._send(item["status"], item.get("body", {"error": {"message": "scripted error"}}))
                content = item.get("content", "")
                message: dict = {"role": "assistant", "content": content}
                if item.get("tool_calls"):
                    message = {"role": "assistant", "content": None, "tool_calls": [
                        {"id": f"call_{i}", "type": "function", "function": {
                            "name": c["name"], "arguments": c["arguments"] if isinstance(c["arguments"], str)
                            else json.dumps(c["arguments"])}}
                        for i, c in enumerate(item["tool_calls"])]}
                return self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": req.get("model", "test"),
                    "choices": [{"index": 0, "finish_reason": "tool_calls" if item.get("tool_calls") else "stop",
                                 "message": message}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                })

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "OpenAICompatServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def push(self, *items: Any) -> None:
        with self._lock:
            self.script.extend(items)

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]
