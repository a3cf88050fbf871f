"""schemathesis against memlab serve's OpenAPI spec: generated requests never get a 5xx, and every
answer's status code is one the spec documents for that route (a 404 only where the route names a
memory, entity, export or project; deleting an entity that does not exist is a 404).

Bounded (a fixed number of derandomized examples per operation, in-process over ASGI) so it runs
in seconds. The store is seeded so that generated ids and filters meet real rows too.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (test extra)")
from hypothesis import HealthCheck, settings  # noqa: E402

from memlab.errors import MemlabError  # noqa: E402
from memlab.server.app import create_app  # noqa: E402
from tests.server.live import HASH_CONFIG  # noqa: E402

_state: dict = {}


def _app():
    if "app" not in _state:
        import atexit
        import shutil
        import tempfile

        root = tempfile.mkdtemp(prefix="memlab-fuzz-")  # built at collection (schemathesis needs the app)
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        app = create_app(root, HASH_CONFIG)
        key, _ = app.state.tenancy.keys.create("fuzz", "proj")
        tenant = app.state.tenancy.local_tenant("fuzz", "proj")
        for i in range(5):
            tenant.memory.add(f"seed memory {i} about tea", user_id="alice", infer=False)
        _state.update(app=app, key=key)
    return _state["app"]


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


def _documented(method: str, path: str) -> set[int]:
    ops = _app().openapi()["paths"][path]
    if method.lower() not in ops:  # schemathesis also tries methods the route does not have: 405 ...
        from memlab.server.routes import batch, entities, exports, memories, projects

        hidden = {(m, r.path) for module in (batch, entities, exports, memories, projects)
                  for r in module.router.routes if not r.include_in_schema for m in r.methods}
        if (method.upper(), path) in hidden:  # ... unless an undocumented alias serves it (POST /v1/memories/)
            from memlab.server.schemas import COMMON_ERRORS

            return {200, *COMMON_ERRORS}
        return {405}
    return {int(code) for code in ops[method.lower()]["responses"]}


def _entity_exists(entity_type: str, entity_id: str) -> bool:
    from memlab.server.routes.entities import ENTITY_TYPES

    tenant = _app().state.tenancy.local_tenant("fuzz", "proj")
    column = ENTITY_TYPES[entity_type]
    try:
        return bool(tenant.memory.get_all(filters={column: entity_id}, limit=1)["results"])
    except MemlabError:  # not a valid id: the server refuses it with a 4xx of its own
        return True


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    params = case.path_parameters or {}
    unknown_entity = (case.path == "/v2/entities/{entity_type}/{entity_id}/" and case.method == "DELETE"
                      and params.get("entity_type") in ("user", "agent", "run")
                      and isinstance(params.get("entity_id"), str) and 0 < len(params["entity_id"]) <= 256
                      and not set(params["entity_id"]) & set("/%?#")
                      and not _entity_exists(params["entity_type"], params["entity_id"]))
    response = case.call(headers={"Authorization": f"Token {_state['key']}"})
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
    assert response.status_code != 401  # the key is valid: every answer comes from a handler
    documented = _documented(case.method, case.path)
    assert response.status_code in documented, (case.method, case.path, response.status_code, sorted(documented),
                                                response.text[:300])
    if response.status_code >= 400:
        assert set(response.json()) == {"detail"}, response.text[:300]  # mem0's error shape
    if unknown_entity and response.status_code not in (400, 422):  # a valid id naming no entity: 404
        assert response.status_code == 404, (params, response.status_code, response.text[:300])


def test_error_codes_are_documented_where_they_can_happen():
    spec = _app().openapi()["paths"]
    for path, ops in spec.items():
        for method, op in ops.items():
            codes = {int(c) for c in op["responses"]}
            assert {200, 400, 401, 413, 422, 503} <= codes, (method, path, codes)
            names_one = any(p in path for p in ("{memory_id}", "{entity_id}", "{project_id}", "/batch/",
                                                "/exports/get/", "/feedback/"))
            assert (404 in codes) == names_one, (method, path, codes)
