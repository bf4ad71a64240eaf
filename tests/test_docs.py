"""GET /docs: Swagger UI from the service's own files, naming no other host (it works offline)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from service.routes.docs import SWAGGER_UI
from service.routes.page import STATIC_DIR

OUTSIDE_URL = re.compile(r"""(https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.I)


def test_docs_page_names_no_outside_host(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f"{SWAGGER_UI}/swagger-ui-bundle.js" in response.text
    assert "/openapi.json" in response.text
    assert OUTSIDE_URL.findall(response.text) == []


def test_every_asset_of_the_docs_page_is_served_from_the_package(client: TestClient) -> None:
    html = client.get("/docs").text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert len(assets) == 3  # the script, the stylesheet, the icon
    for asset in assets:
        assert asset.startswith(f"{SWAGGER_UI}/")
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.content == (STATIC_DIR / asset.removeprefix("/static/")).read_bytes()


def test_swagger_ui_ships_its_licence() -> None:
    folder = STATIC_DIR / "swagger-ui"
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert (folder / "NOTICE").is_file()


def test_redoc_which_would_need_a_cdn_is_not_offered(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
