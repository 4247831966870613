"""The web app's pages and assets, and the API docs served from the package (no CDN)."""

from __future__ import annotations

import re
from importlib.resources import files

import httpx
import pytest

from fakecloud.web.csrf import CSRF_COOKIE
from tests.web.conftest import Cloud
from tests.web.test_routes_account import browser_client, sign_in

PAGES = ("/", "/cameras/1", "/account")
ASSETS = {
    "/static/app.js": "javascript",
    "/static/lib.js": "javascript",
    "/static/app.css": "text/css",
    "/static/favicon.svg": "image/svg+xml",
}


@pytest.mark.parametrize("path", PAGES)
async def test_pages_send_strangers_to_the_sign_in_page(cloud: Cloud, path: str) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        reply = await client.get(path)
    assert reply.status_code == 303
    assert reply.headers["location"] == f"/login?next={path}"
    assert "www-authenticate" not in reply.headers  # no browser password prompt


async def test_signed_in_pages_carry_their_protections(cloud: Cloud) -> None:
    async with browser_client(cloud) as client:
        await sign_in(client)
        for path in PAGES:
            reply = await client.get(path)
            assert reply.status_code == 200, path
            assert "script-src 'self'" in reply.headers["content-security-policy"]
            assert reply.headers["x-frame-options"] == "DENY"
            assert '<base href="/">' in reply.text and 'src="static/app.js"' in reply.text
            assert "{{" not in reply.text


async def test_the_sign_in_page_gives_the_csrf_cookie(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        reply = await client.get("/login")
    assert reply.status_code == 200 and 'data-page="login"' in reply.text
    assert len(reply.cookies[CSRF_COOKIE]) == 43


async def test_every_script_a_page_imports_is_served(cloud: Cloud) -> None:
    static = files("fakecloud.web").joinpath("static")
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        for path, kind in ASSETS.items():
            reply = await client.get(path)
            assert reply.status_code == 200 and kind in reply.headers["content-type"], path
        for script in (p for p in static.iterdir() if p.name.endswith(".js")):
            for imported in re.findall(r'from "\./([\w-]+\.js)"', script.read_text()):
                assert (await client.get(f"/static/{imported}")).status_code == 200, imported
        for name in ("home", "camera", "account", "login"):  # app.js imports ./<page>.js
            assert (await client.get(f"/static/{name}.js")).status_code == 200


@pytest.mark.parametrize("page", ["/api/docs", "/api/redoc"])
async def test_the_api_docs_load_everything_from_this_server(cloud: Cloud, page: str) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        html = (await client.get(page)).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and all(source.startswith("/") for source in sources), sources
        for source in sources:
            reply = await client.get(source)
            assert reply.status_code == 200 and len(reply.content) > 100, source


async def test_the_schema_lists_the_web_app_routes(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        schema = (await client.get("/openapi.json")).json()
    for path in (
        "/api/auth/login",
        "/api/auth/first-account",
        "/api/account/tokens",
        "/api/cameras/{camera_id}/name",
        "/api/cameras/{camera_id}/video",
        "/api/live",
    ):
        assert path in schema["paths"], path
    assert "/login" not in schema["paths"]  # pages are not API
