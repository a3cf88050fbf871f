"""``memlab mcp --store DIR``: OpenMemory's MCP tools over stdio or streamable HTTP (needs memlab[serve])."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("mcp", help="Serve OpenMemory's MCP tools (add/search/list/delete memories).",
                       description="OpenMemory's MCP tools over a served directory. stdio: one project and "
                       "user, fixed here. http: streamable HTTP at /mcp/<client_name>/http/<user_id>, the "
                       "project taken from the request's API key (memlab keys create). Needs memlab[serve].")
    p.add_argument("--store", required=True, metavar="DIR", help="The served directory (as for memlab serve).")
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    p.add_argument("--org", default="default", help="stdio: organization of the project (default 'default').")
    p.add_argument("--project", default="default", help="stdio: project (default 'default').")
    p.add_argument("--user-id", default=None, help="stdio: the user every tool acts for (required for stdio).")
    p.add_argument("--client-name", default="memlab", help="stdio: the client (app) recorded on new memories.")
    p.add_argument("--config", default=None, help="A memlab config (JSON/YAML) for the projects.")
    p.add_argument("--host", default="127.0.0.1", help="http: interface to bind (default loopback).")
    p.add_argument("--port", type=int, default=8765, help="http: port (default 8765).")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from memlab.server.mcp_server import build_mcp, http_app
    except ImportError as exc:
        print(f"memlab: error: {exc}", file=sys.stderr)
        return 2
    from memlab.config import MemoryConfig
    from memlab.errors import ValidationError
    from memlab.server.keys import check_name
    from memlab.server.tenancy import Tenancy

    if args.transport == "stdio" and not args.user_id:
        raise ValidationError("--user-id is required with --transport stdio (every tool call acts for one user).")
    check_name("org", args.org)
    check_name("project", args.project)
    tenancy = Tenancy(args.store, MemoryConfig.load(args.config) if args.config else None)
    server = build_mcp(tenancy, org=args.org, project=args.project, user_id=args.user_id,
                       client_name=args.client_name)
    try:
        if args.transport == "stdio":
            server.run("stdio")
        else:
            import uvicorn

            uvicorn.run(http_app(server, tenancy, host=args.host), host=args.host, port=args.port,
                        log_level="warning", timeout_graceful_shutdown=10)
    finally:
        tenancy.close()
    return 0
