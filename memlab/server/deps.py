"""The one FastAPI dependency every route uses: the caller's project, from its API key."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from memlab.server.tenancy import Tenancy, Tenant


def tenant_of(request: Request) -> Tenant:
    """The project of the request's API key (``Authorization: Token <key>``), or 401 in mem0's shape."""
    header = request.headers.get("authorization")
    if not header:
        raise HTTPException(401, "Authentication credentials were not provided.",
                            headers={"WWW-Authenticate": "Token"})
    scheme, _, key = header.strip().partition(" ")
    tenancy: Tenancy = request.app.state.tenancy
    record = tenancy.authenticate(key.strip()) if scheme.lower() in ("token", "bearer") else None
    if record is None:
        raise HTTPException(401, "Invalid API key.", headers={"WWW-Authenticate": "Token"})
    return tenancy.tenant(record)


TenantDep = Depends(tenant_of)
