"""/docs and /redoc work offline: their JavaScript and CSS come from the server itself, never a CDN."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from memlab.server import create_app  # noqa: E402


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(tmp_path / "served", {"embedder": {"provider": "hash"}})) as c:
        yield c


@pytest.mark.parametrize("page, assets", [("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
                                          ("/redoc", ("redoc.standalone.js",))])
def test_docs_pages_load_every_asset_from_the_server(client, page, assets):
    html = client.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text) + re.findall(r"url: ?'([^']+)'", html.text)
    assert urls and all(u.startswith("/") for u in urls), urls  # nothing from another host
    assert "cdn" not in html.text.lower() and "fonts.googleapis" not in html.text
    for name in assets:
        [url] = [u for u in urls if u.endswith(name)]
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 50_000, url  # the real bundle, not a stub
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "memlab serve" and "/docs" not in spec["paths"]
