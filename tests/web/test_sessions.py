"""Portal sessions: a `Secure` cookie under TLS, and logout only with the AntiCSRF header."""

from __future__ import annotations

import json

import httpx

from fakecloud.web.sessions import SESSION_COOKIE
from tests.media.test_viewer_e2e import OWNER, PASSWORD
from tests.web.conftest import Cloud, tls_context
from tests.web.test_routes_cxs import PORTAL_HEADERS

LOGIN = json.dumps({"username": OWNER, "password": PASSWORD})


def _cookie_header(response: httpx.Response) -> str:
    return next(
        value for value in response.headers.get_list("set-cookie") if SESSION_COOKIE in value
    )


async def _log_in(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.post("/cxs/api/auth/login", content=LOGIN, headers=PORTAL_HEADERS)
    assert response.status_code == 200, response.text
    return response


async def test_the_cookie_is_secure_under_tls_only(cloud: Cloud) -> None:
    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{cloud.cloud_port}", verify=tls_context(cloud), timeout=10
    ) as client:
        secure = _cookie_header(await _log_in(client))
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        plain = _cookie_header(await _log_in(client))
    assert "secure" in secure.lower() and "httponly" in secure.lower()
    assert "secure" not in plain.lower()


async def test_logout_needs_the_anti_csrf_header(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        await _log_in(client)
        assert (await client.get("/cxs/api/devices")).status_code == 200
        # A cross-site form can post here with the browser's cookie, but cannot add a header.
        forged = await client.post("/cxs/api/auth/logout")
        assert forged.status_code == 403 and "AntiCSRF" in forged.text
        assert (await client.get("/cxs/api/devices")).status_code == 200  # still logged in
        token = client.cookies[SESSION_COOKIE]
        done = await client.post("/cxs/api/auth/logout", headers={"AntiCSRF": "AntiCSRF"})
        assert done.status_code == 200
        client.cookies.set(SESSION_COOKIE, token)  # the old cookie no longer works
        assert (await client.get("/cxs/api/devices")).status_code == 401
