"""GET /docs: Swagger UI from service/static/swagger-ui (vendored), so that it works offline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_UI = "/static/swagger-ui"  # swagger-ui-dist 5.35.0: see its README.md

router = APIRouter(tags=["docs"])


@router.get("/docs", include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    """The interactive API documentation of /openapi.json."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        # The default sends every spec to validator.swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None},
    )
