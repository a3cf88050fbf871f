"""The official MCP client against ``memlab mcp`` (stdio subprocess and streamable HTTP)."""

from __future__ import annotations

import json
import sys
import threading

import anyio
import pytest

pytest.importorskip("mcp", reason="memlab[serve] (the mcp SDK) is not installed")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: E402

from tests.server.live import HASH_CONFIG, REPO, free_port  # noqa: E402

TOOLS = {"add_memories", "search_memory", "list_memories", "delete_memories", "delete_all_memories"}


def text(result) -> str:
    assert not result.is_error, result
    return result.content[0].text


async def exercise(client: Client) -> None:
    """add, search, list and delete through the tools, as an editor agent would."""
    assert TOOLS <= {t.name for t in (await client.list_tools()).tools}
    added = json.loads(text(await client.call_tool("add_memories", {"text": "I love sushi and I live in Paris."})))
    assert {r["memory"] for r in added["results"]} == {"Loves sushi", "Lives in Paris"}
    hits = json.loads(text(await client.call_tool("search_memory", {"query": "sushi"})))
    assert hits[0]["memory"] == "Loves sushi" and "score" in hits[0]
    listed = json.loads(text(await client.call_tool("list_memories", {})))
    assert {m["memory"] for m in listed} == {"Loves sushi", "Lives in Paris"}
    sushi = next(m["id"] for m in listed if m["memory"] == "Loves sushi")
    assert text(await client.call_tool("delete_memories", {"memory_ids": [sushi]})) == "Successfully deleted 1 memories"
    assert [m["memory"] for m in json.loads(text(await client.call_tool("list_memories", {})))] == ["Lives in Paris"]
    assert text(await client.call_tool("delete_all_memories", {})) == "Successfully deleted all memories"
    assert json.loads(text(await client.call_tool("list_memories", {}))) == []


def test_stdio(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(HASH_CONFIG))
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "memlab", "mcp", "--store", str(tmp_path / "served"), "--user-id", "alice",
              "--client-name", "cursor", "--config", str(cfg)],
        env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}, cwd=str(REPO))

    async def run():
        async with Client(params, read_timeout_seconds=120) as client:
            await exercise(client)
            # the client that wrote a memory is recorded as OpenMemory does
            await client.call_tool("add_memories", {"text": "I love green tea."})

    anyio.run(run)
    from memlab import Memory

    with Memory(HASH_CONFIG, path=str(tmp_path / "served" / "projects" / "default" / "default" / "store")) as m:
        item = m.get_all(user_id="alice")["results"][0]
        assert item["metadata"] == {"source_app": "openmemory", "mcp_client": "cursor"}


@pytest.fixture
def http_mcp(tmp_path):
    import uvicorn

    from memlab.server.mcp_server import build_mcp, http_app
    from memlab.server.tenancy import Tenancy

    tenancy = Tenancy(tmp_path, HASH_CONFIG)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(http_app(build_mcp(tenancy), tenancy), host="127.0.0.1", port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_up_plain(f"http://127.0.0.1:{port}")
    yield tenancy, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    tenancy.close()


def wait_up_plain(url: str) -> None:
    import time

    import httpx

    for _ in range(300):
        try:
            httpx.get(url + "/")
            return
        except httpx.HTTPError:
            time.sleep(0.05)


def connect(url: str, key: str | None) -> Client:
    headers = {"Authorization": f"Token {key}"} if key else {}
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)))


def test_streamable_http_is_scoped_by_key_user_and_refuses_bad_keys(http_mcp):
    tenancy, base = http_mcp
    key = tenancy.keys.create("acme", "web")[0]
    other = tenancy.keys.create("acme", "other")[0]

    async def run():
        async with connect(f"{base}/mcp/claude/http/alice", key) as client:
            await exercise(client)
            await client.call_tool("add_memories", {"text": "I love green tea."})
        async with connect(f"{base}/mcp/claude/http/bob", key) as client:  # another user, same project
            assert json.loads(text(await client.call_tool("list_memories", {}))) == []
        async with connect(f"{base}/mcp/claude/http/alice", other) as client:  # same user, another project
            assert json.loads(text(await client.call_tool("list_memories", {}))) == []
        with pytest.raises(Exception):
            async with connect(f"{base}/mcp/claude/http/alice", "m0-0000000000000000.wrong-secret-xxxxxxxxxx") as c:
                await c.list_tools()

    anyio.run(run)
    assert [m["memory"] for m in tenancy.local_tenant("acme", "web").memory.get_all(user_id="alice")["results"]] == \
        ["Loves green tea"]


def test_stdio_start_is_quiet_with_the_bundled_model(tmp_path):
    """An editor shows the server's stderr: loading the MiniLM model must not print INFO lines there."""
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-m", "memlab", "mcp", "--store", str(tmp_path / "served"), "--user-id", "alice"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO),
        env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
             "PATH": "/usr/bin:/bin"})
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search_memory",
                                                                     "arguments": {"query": "sushi"}}},
    ]
    try:
        for message in messages:
            proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        replies = [json.loads(proc.stdout.readline()) for _ in range(2)]  # the search embeds: the model loaded
        assert replies[1]["id"] == 2 and not replies[1]["result"]["isError"]
    finally:
        proc.stdin.close()  # end of input: the server exits
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert "Loading" not in err and "INFO" not in err, err
