"""``memlab serve`` (mem0's platform REST API) and ``memlab mcp`` (OpenMemory's MCP tools).

Needs the ``serve`` extra (FastAPI, uvicorn, mcp): ``pip install 'memlab[serve]'``.
The key store (:mod:`memlab.server.keys`) and tenancy layer work without it.
"""

from memlab.server.keys import KeyRecord, KeyStore


def create_app(*args, **kwargs):
    """Build the FastAPI app (see :func:`memlab.server.app.create_app`)."""
    from memlab.server.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["KeyRecord", "KeyStore", "create_app"]
