"""The project endpoint behind ``client.project.get()`` and ``client.project.update(...)``.

A key only sees its own project: any other org/project in the path answers 404, whether it
exists or not.
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Path, Query

from memlab.errors import NotFoundError, ValidationError
from memlab.server.deps import TenantDep
from memlab.server.schemas import NOT_FOUND, ProjectUpdateRequest

router = APIRouter(tags=["projects"])
PROJECT_PATH = "/api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # a fresh Path(...) per parameter: FastAPI sets its alias


def _own(tenant, org_id: str, project_id: str) -> None:
    if (org_id, project_id) != (tenant.org, tenant.project):
        raise NotFoundError("Project not found.")


@router.get(PROJECT_PATH, summary="Project settings (client.project.get)", responses=NOT_FOUND)
def get_project(org_id: str = Path(..., pattern=NAME_PATTERN), project_id: str = Path(..., pattern=NAME_PATTERN),
                tenant: Any = TenantDep, fields: Optional[list[str]] = Query(None, max_length=50)):
    _own(tenant, org_id, project_id)
    out = tenant.settings.public(fields)
    if not fields:
        out = {"org_id": tenant.org, "project_id": tenant.project, **out}
    return out


@router.patch(PROJECT_PATH, summary="Change project settings (client.project.update)",
              responses=NOT_FOUND)
def update_project(body: ProjectUpdateRequest, org_id: str = Path(..., pattern=NAME_PATTERN),
                   project_id: str = Path(..., pattern=NAME_PATTERN), tenant: Any = TenantDep):
    _own(tenant, org_id, project_id)
    changes = body.model_dump(exclude_unset=True, exclude={"org_id", "project_id"})
    if not changes:
        raise ValidationError("Nothing to update: pass at least one project setting.")
    for key in ("org_id", "project_id"):  # the client repeats them in the body; they must agree with the path
        value = getattr(body, key)
        if value is not None and value != {"org_id": org_id, "project_id": project_id}[key]:
            raise ValidationError(f"{key} in the body ({value!r}) differs from the path.")
    settings = tenant.update_settings(changes)
    return {"message": "Project updated successfully.", **settings.public()}
