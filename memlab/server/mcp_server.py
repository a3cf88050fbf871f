"""``memlab mcp``: OpenMemory's MCP tools over a memlab store, with the official ``mcp`` SDK.

Tools (names, arguments and replies as OpenMemory's ``mcp_server.py``): ``add_memories(text)``,
``search_memory(query)``, ``list_memories()``, ``delete_memories(memory_ids)`` and
``delete_all_memories()``. As in OpenMemory every call is scoped to one *user*, and the
*client* (app) that wrote a memory is recorded in its metadata
(``{"source_app": "openmemory", "mcp_client": <client>}``).

Transports:

* **stdio** — one project, one user and one client, fixed on the command line (the process
  runs as the store's owner: ``memlab mcp --store DIR --user-id alice --client-name cursor``).
* **streamable HTTP** — OpenMemory's URL shape ``/mcp/<client_name>/http/<user_id>``; the
  project comes from the request's API key (``Authorization: Token <key>``, from
  ``memlab keys create``), so HTTP callers get the same tenancy as ``memlab serve``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import anyio

try:
    from mcp.server.mcpserver import Context, MCPServer
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("memlab mcp needs the MCP SDK: pip install 'memlab[serve]'") from exc

from memlab.errors import MemlabError
from memlab.server.tenancy import Tenancy, Tenant

_HDR = "x-memlab-"  # identity headers the HTTP shim sets from the verified key and the URL path
_PATH = re.compile(r"^/mcp/(?P<client>[^/]{1,256})/http/(?P<user>[^/]{1,256})/?$")
SEARCH_LIMIT = 100  # OpenMemory searches with mem0's default limit


class Identity:
    """Who a tool call acts for: project, user and client."""

    def __init__(self, tenant: Tenant, user_id: str, client_name: str):
        self.tenant, self.user_id, self.client_name = tenant, user_id, client_name


def build_mcp(tenancy: Tenancy, *, org: str = "default", project: str = "default",
              user_id: Optional[str] = None, client_name: str = "memlab") -> MCPServer:
    """The MCP server. ``org``/``project``/``user_id``/``client_name`` are the stdio identity;
    over HTTP each request carries its own (set by :func:`http_app` from the key and the URL)."""

    def identity(ctx: Context) -> Identity:
        headers = ctx.headers
        if headers is not None and headers.get(_HDR + "org"):
            return Identity(tenancy.local_tenant(headers[_HDR + "org"], headers[_HDR + "project"]),
                            headers[_HDR + "user"], headers[_HDR + "client"])
        if headers is not None:  # an HTTP request that did not come through the shim: refuse
            raise PermissionError("no verified identity on this request")
        if not user_id:
            raise PermissionError("user_id not provided (start memlab mcp with --user-id)")
        return Identity(tenancy.local_tenant(org, project), user_id, client_name)

    # log_level WARNING: the MCP SDK sets up root logging at its level, which otherwise shows every library's
    # INFO line (the embedding model's loading log) on the client's stderr at each start
    server: MCPServer = MCPServer("mem0-mcp-server", instructions="OpenMemory's memory tools, served by memlab.",
                                  log_level="WARNING")

    async def call(ctx: Context, fn) -> str:
        try:
            who = identity(ctx)
            return await anyio.to_thread.run_sync(fn, who)
        except PermissionError as exc:
            return f"Error: {exc}"
        except MemlabError as exc:  # bad input: a readable message, as OpenMemory's tools reply
            return f"Error: {exc}"

    @server.tool(description="Add a new memory. This method is called everytime the user informs anything about "
                             "themselves, their preferences, or anything that has any relevant information which "
                             "can be useful in the future conversation. This can also be called when the user asks "
                             "you to remember something.")
    async def add_memories(text: str, ctx: Context) -> str:
        def run(who: Identity) -> str:
            result = who.tenant.memory.add(text, user_id=who.user_id,
                                           metadata={"source_app": "openmemory", "mcp_client": who.client_name})
            return json.dumps(result, default=str)
        return await call(ctx, run)

    @server.tool(description="Search through stored memories. This method is called EVERYTIME the user asks "
                             "anything.")
    async def search_memory(query: str, ctx: Context) -> str:
        def run(who: Identity) -> str:
            hits = who.tenant.memory.search(query, user_id=who.user_id, limit=SEARCH_LIMIT)["results"]
            return json.dumps([_public(h, score=True) for h in hits], indent=2)
        return await call(ctx, run)

    @server.tool(description="List all memories in the user's memory")
    async def list_memories(ctx: Context) -> str:
        def run(who: Identity) -> str:
            items = who.tenant.memory.get_all(user_id=who.user_id, limit=10_000_000)["results"]
            return json.dumps([_public(i) for i in items], indent=2)
        return await call(ctx, run)

    @server.tool(description="Delete specific memories by their IDs")
    async def delete_memories(memory_ids: list[str], ctx: Context) -> str:
        def run(who: Identity) -> str:
            mine = [i for i in memory_ids if (who.tenant.memory.get(i) or {}).get("user_id") == who.user_id]
            if not mine:
                return "Error: No accessible memories found with provided IDs"
            for memory_id in mine:
                who.tenant.memory.delete(memory_id)
            return f"Successfully deleted {len(mine)} memories"
        return await call(ctx, run)

    @server.tool(description="Delete all memories in the user's memory")
    async def delete_all_memories(ctx: Context) -> str:
        def run(who: Identity) -> str:
            who.tenant.memory.delete_all(user_id=who.user_id)
            return "Successfully deleted all memories"
        return await call(ctx, run)

    return server


def _public(item: dict, score: bool = False) -> dict:
    out = {k: item.get(k) for k in ("id", "memory", "hash", "created_at", "updated_at")}
    if score:
        out["score"] = item.get("score")
    return out


def http_app(server: MCPServer, tenancy: Tenancy, host: str = "127.0.0.1") -> Any:
    """An ASGI app: OpenMemory's ``/mcp/<client_name>/http/<user_id>`` over streamable HTTP (stateless,
    JSON replies), behind API-key authentication."""
    inner = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True,
                                       host=host)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        match = _PATH.match(scope.get("path", ""))
        if match is None:
            return await _reply(send, 404, "Use /mcp/<client_name>/http/<user_id>.")
        headers = [(k, v) for k, v in scope.get("headers") or [] if not k.decode("latin-1").startswith(_HDR)]
        auth = dict(headers).get(b"authorization", b"").decode("latin-1")
        scheme, _, key = auth.strip().partition(" ")
        record = await anyio.to_thread.run_sync(tenancy.authenticate, key.strip()) \
            if scheme.lower() in ("token", "bearer") else None
        if record is None:
            return await _reply(send, 401, "Invalid or missing API key (Authorization: Token <key>).")
        user, client = match.group("user"), match.group("client")
        for name, value in (("org", record.org), ("project", record.project), ("user", user), ("client", client)):
            headers.append(((_HDR + name).encode(), value.encode("utf-8")))
        await inner({**scope, "path": "/mcp", "raw_path": b"/mcp", "headers": headers}, receive, send)

    return app


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
