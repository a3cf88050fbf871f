"""The FastAPI application of ``memlab serve``: mem0's platform REST API over memlab stores.

``create_app(DIR, config)`` builds the app; routes live in ``memlab/server/routes/`` by area.
Errors use mem0's (Django REST framework's) shape, ``{"detail": "..."}``, which mem0ai's
client turns into its typed exceptions: 400/422 ValidationError, 401 AuthenticationError,
404 MemoryNotFoundError, 413 MemoryQuotaExceededError.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Optional

try:
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi_offline import FastAPIOffline
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("memlab serve needs FastAPI: pip install 'memlab[serve]'") from exc

from memlab import __version__
from memlab.errors import (ConfigError, EmbeddingError, MemlabError, NotFoundError, ProviderError, StoreError,
                           ValidationError)
from memlab.server.tenancy import Tenancy

log = logging.getLogger("memlab.server")
DEFAULT_MAX_BODY = 1 << 20  # 1 MiB: far above any honest add/search, far below a memory exhaustion


def _error(status: int, detail: str, headers: Optional[dict] = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, before they are read in full."""

    def __init__(self, app: Any, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(413, f"Request body larger than {self.limit} bytes; send smaller batches.")
        if declared is not None:
            try:
                if int(declared) > self.limit:
                    return await too_big(scope, receive, send)
            except ValueError:
                return await _error(400, "Invalid Content-Length header.")(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        await self.app(scope, limited_receive, send)


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI passes HTTPExceptions from body parsing through unchanged."""

    def __init__(self, limit: int):
        super().__init__(413, f"Request body larger than {limit} bytes; send smaller batches.")


def _describe_validation(exc: RequestValidationError) -> tuple[int, str]:
    parts = []
    status = 422
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return 400, f"Request body is not valid JSON: {err.get('ctx', {}).get('error', err.get('msg'))}."
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field (not part of this endpoint's request)"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return status, "; ".join(parts) or "Invalid request."


def create_app(root: str | Path, config: Any = None, *, max_body: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The served app for directory ``root`` (created if missing).

    Args:
        root: the served directory (keys.db, projects/<org>/<project>/...).
        config: MemoryConfig or mem0-style dict every project starts from (embedder, LLM, ...).
        max_body: the largest accepted request body in bytes.
    """
    tenancy = Tenancy(root, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        tenancy.close()  # after uvicorn has drained in-flight requests: acknowledged writes are already committed

    # FastAPIOffline: FastAPI whose /docs (Swagger UI) and /redoc load their JS/CSS from this server, not a CDN
    app = FastAPIOffline(title="memlab serve", version=__version__, lifespan=lifespan,
                         description="mem0's platform REST API (what mem0ai's MemoryClient calls), served from memlab "
                                     "stores. Authenticate with `Authorization: Token <key>` (create keys with "
                                     "`memlab keys create`).")
    app.state.tenancy = tenancy

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        status, detail = _describe_validation(exc)
        return _error(status, detail)

    @app.exception_handler(MemlabError)
    async def _memlab(request: Request, exc: MemlabError):
        if isinstance(exc, NotFoundError):
            return _error(404, str(exc))
        if isinstance(exc, (ValidationError, ConfigError)):
            return _error(400, str(exc))
        if isinstance(exc, StoreError):
            log.error("store error on %s: %s", request.url.path, exc)
            return _error(503, f"The store is busy or unavailable: {exc}", {"Retry-After": "1"})
        if isinstance(exc, (EmbeddingError, ProviderError)):
            log.error("provider error on %s: %s", request.url.path, exc)
            return _error(502, str(exc))
        log.exception("memlab error on %s", request.url.path)
        return _error(500, str(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "Internal server error (a bug in memlab serve; see the server log).")

    from memlab.server.routes import batch, entities, exports, memories, projects

    for module in (entities, memories, batch, exports, projects):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, limit=max_body)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for ``memlab serve --workers N`` (each worker builds its own app)."""
    from memlab.config import MemoryConfig

    cfg_path = os.environ.get("MEMLAB_SERVE_CONFIG")
    config = MemoryConfig.load(cfg_path) if cfg_path else None
    return create_app(os.environ["MEMLAB_SERVE_STORE"], config,
                      max_body=int(os.environ.get("MEMLAB_SERVE_MAX_BODY", DEFAULT_MAX_BODY)))
