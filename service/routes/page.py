"""GET /: the web page, static HTML, CSS and JavaScript from service/static, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(tags=["page"])


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def index() -> FileResponse:
    """The page: type a review, see every model's score and the words that moved it."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
