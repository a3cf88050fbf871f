"""Hardening of memlab serve: body limits (declared and chunked), 401 on every route without a
valid key, and 404s that do not tell another project's ids from ids that never existed."""

from __future__ import annotations

import httpx
import pytest

from tests.server.live import LiveServer


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("small"), max_body=2000).start()
    yield srv
    srv.stop()


def test_body_limit_declared_and_chunked(small):
    headers = {"Authorization": f"Token {small.key('a', 'b')}", "Content-Type": "application/json"}
    r = httpx.post(small.url + "/v3/memories/add/", content=b"x" * 5000, headers=headers)
    assert r.status_code == 413 and "larger than 2000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(50):
            yield b"x" * 100

    r = httpx.post(small.url + "/v3/memories/add/", content=chunks(), headers=headers)
    assert r.status_code == 413
    ok = httpx.post(small.url + "/v3/memories/add/", headers=headers,
                    json={"messages": [{"role": "user", "content": "fits"}], "user_id": "u", "infer": False})
    assert ok.status_code == 200


def test_every_route_needs_a_key(small):
    routes = [(m.upper(), path) for path, ops in small.app.openapi()["paths"].items() for m in ops]
    assert len(routes) >= 19
    for method, path in routes:
        url = small.url + path.format(memory_id="x", entity_type="user", entity_id="x", org_id="a", project_id="b")
        for headers in ({}, {"Authorization": "Token m0-0123456789abcdef.wrongwrongwrongwrongwrong"},
                        {"Authorization": "Basic abc"}):
            r = httpx.request(method, url, headers=headers, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            assert set(r.json()) == {"detail"}


def test_another_projects_id_looks_like_no_id(small):
    a = {"Authorization": f"Token {small.key('o', 'a')}"}
    b = {"Authorization": f"Token {small.key('o', 'b')}"}
    mid = httpx.post(small.url + "/v3/memories/add/", headers=a, json={
        "messages": [{"role": "user", "content": "mine"}], "user_id": "u", "infer": False}).json()["results"][0]["id"]
    never = "11111111-2222-3333-4444-555555555555"
    for path in ("/v1/memories/{}/", "/v1/memories/{}/history/"):
        theirs, missing = (httpx.get(small.url + path.format(i), headers=b) for i in (mid, never))
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["detail"].replace(mid, "ID") == missing.json()["detail"].replace(never, "ID")
