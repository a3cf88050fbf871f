"""schemathesis against memlab serve's OpenAPI spec: generated requests never get a 5xx.

Bounded (a fixed number of derandomized examples per operation, in-process over ASGI) so it runs
in seconds. The store is seeded so that generated ids and filters meet real rows too.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (test extra)")
from hypothesis import HealthCheck, settings  # noqa: E402

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


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call(headers={"Authorization": f"Token {_state['key']}"})
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
    assert response.status_code != 401  # the key is valid: every answer comes from a handler
