"""The web UI: one static page (HTML + JS + CSS, no build step) that talks to the JSON API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    # The page holds no data: it asks for the token and then calls the API with it.
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
