"""ReDoc with nothing from the internet. fastapi-offline ships ReDoc's script, but the script
still loads its logo from cdn.redoc.ly (a failed request offline, and a visit told to Redocly
online); this page serves a copy of the script that shows fakecloud's icon instead."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Response
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

REDOC_SCRIPT = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
OWN_ICON = b"../static/favicon.svg"  # relative to /api/redoc
router = APIRouter(include_in_schema=False)


@cache
def redoc_script() -> bytes:
    """ReDoc's script with its logo from the package; read once (about 1 MiB)."""
    return REDOC_SCRIPT.read_bytes().replace(REDOC_LOGO, OWN_ICON)


@router.get("/api/redoc")
async def redoc_page() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="fakecloud - ReDoc",
        redoc_js_url="/api/redoc.js",
        redoc_favicon_url="/static/favicon.svg",
        with_google_fonts=False,
    )


@router.get("/api/redoc.js")
async def redoc_js() -> Response:
    return Response(redoc_script(), media_type="text/javascript")
