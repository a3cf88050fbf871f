"""``memlab serve``'s /docs (Swagger UI) and /redoc render in Chromium with no network but loopback."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    pytest.importorskip("fastapi")
    from tests.server.live import LiveServer

    server = LiveServer(tmp_path_factory.mktemp("served")).start()
    yield server.url
    server.stop()


def test_docs_render_offline(browser, served, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    outside = []  # every request must stay on this server
    local = (served, "data:", "blob:" + served)
    page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    try:
        page.goto(served + "/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "memlab serve" in page.locator(".swagger-ui .info .title").inner_text()
        assert page.locator(".opblock").count() > 10  # the endpoints are listed
        page.screenshot(path=str(shots / "serve_docs.png"))
        page.goto(served + "/redoc")
        page.wait_for_selector("h1", timeout=30_000)
        assert "memlab serve" in page.locator("h1").first.inner_text()
        page.screenshot(path=str(shots / "serve_redoc.png"))
    finally:
        context.close()
    # ReDoc's bundle links its "powered by" logo from its CDN: offline that one small image is missing, the
    # page is not (asserted above); everything the pages need comes from the server
    assert [u for u in outside if u != "https://cdn.redoc.ly/redoc/logo-mini.svg"] == [], outside
