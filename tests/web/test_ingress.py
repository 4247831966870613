"""Home Assistant ingress: the web app under /api/hassio_ingress/<token>, through a stand-in for
the Supervisor's proxy on loopback (`IngressProxy`), and the header ignored wherever it is not
to be believed.

The stand-in does what Home Assistant's ingress does to a request (docs/ha-addon.md): it serves
`/api/hassio_ingress/TESTTOKEN/<path>` by asking fakecloud for `/<path>`, passes the browser's
headers on (Host included), adds X-Ingress-Path, X-Forwarded-For, -Host and -Proto, and streams
the answer back. It connects from 127.0.0.2, the trusted FAKECLOUD_INGRESS_PROXY here, so a client
on 127.0.0.1 talking to fakecloud directly is an untrusted peer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import hdrs, web
from multidict import CIMultiDict

from fakecloud.core.config import Settings
from fakecloud.web.csrf import CSRF_COOKIE, CSRF_HEADER
from fakecloud.web.ingress import trusted_prefix
from fakecloud.web.sessions import SESSION_COOKIE
from tests.media.test_viewer_e2e import OWNER, PASSWORD, running_cloud
from tests.web.conftest import Cloud

PROXY_ADDRESS = "127.0.0.2"  # where the stand-in Supervisor connects from
PREFIX = "/api/hassio_ingress/TESTTOKEN"
# Dropped on the way in and out, as Home Assistant's and the Supervisor's proxies do.
_REQUEST_DROPS = {
    hdrs.CONTENT_LENGTH,
    hdrs.TRANSFER_ENCODING,
    hdrs.ACCEPT_ENCODING,
    "x-ingress-path",
}
_RESPONSE_DROPS = {hdrs.CONTENT_LENGTH, hdrs.TRANSFER_ENCODING, hdrs.CONTENT_ENCODING}
# Home Assistant's own page around the panel: the add-on in an iframe of the same origin.
PANEL = (
    '<!doctype html><title>Home Assistant</title><link rel="icon" href="data:,">'
    '<body style="margin:0">'
    f'<iframe src="{PREFIX}/" style="width:100vw;height:100vh;border:0"></iframe>'
)


def forwarded_headers(request: web.Request) -> CIMultiDict[str]:
    headers = CIMultiDict(
        (name, value)
        for name, value in request.headers.items()
        if name.lower() not in {drop.lower() for drop in _REQUEST_DROPS}
    )
    headers["X-Ingress-Path"] = PREFIX
    peer = request.remote or ""
    earlier = request.headers.get(hdrs.X_FORWARDED_FOR)
    headers[hdrs.X_FORWARDED_FOR] = f"{earlier}, {peer}" if earlier else peer
    headers[hdrs.X_FORWARDED_HOST] = request.headers.get(hdrs.X_FORWARDED_HOST) or request.host
    headers[hdrs.X_FORWARDED_PROTO] = request.headers.get(hdrs.X_FORWARDED_PROTO) or request.scheme
    return headers


@dataclass
class IngressProxy:
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ingress_url(self, path: str) -> str:
        return self.url(PREFIX + path)


@contextlib.asynccontextmanager
async def ingress_proxy(target_port: int) -> AsyncIterator[IngressProxy]:
    connector = aiohttp.TCPConnector(local_addr=(PROXY_ADDRESS, 0))
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def panel(request: web.Request) -> web.Response:
            return web.Response(text=PANEL, content_type="text/html")

        async def forward(request: web.Request) -> web.StreamResponse:
            url = f"http://127.0.0.1:{target_port}/{request.match_info['path']}"
            async with session.request(
                request.method,
                url,
                params=request.query,
                headers=forwarded_headers(request),
                data=await request.read(),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None),
            ) as answer:
                headers: CIMultiDict[str] = CIMultiDict()
                for name, value in answer.headers.items():
                    if name.lower() not in {drop.lower() for drop in _RESPONSE_DROPS}:
                        headers.add(name, value)
                if hdrs.CONTENT_LENGTH in answer.headers or answer.status in (204, 304):
                    return web.Response(
                        status=answer.status, headers=headers, body=await answer.read()
                    )
                streamed = web.StreamResponse(status=answer.status, headers=headers)
                await streamed.prepare(request)
                async for chunk, _ in answer.content.iter_chunks():
                    await streamed.write(chunk)
                return streamed

        app = web.Application()
        app.router.add_get("/panel", panel)
        app.router.add_route("*", PREFIX + "/{path:.*}", forward)
        # Streams (the live events, MJPEG) end when the browser goes: cancel their handlers.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield IngressProxy(runner.addresses[0][1])
        finally:
            await runner.cleanup()


@pytest.fixture
async def ingress_cloud(settings: Settings) -> AsyncIterator[Cloud]:
    async with running_cloud(settings, ingress_proxy=[f"{PROXY_ADDRESS}/32"]) as started:
        yield started


@pytest.fixture
async def proxy(ingress_cloud: Cloud) -> AsyncIterator[IngressProxy]:
    async with ingress_proxy(ingress_cloud.http_port) as started:
        yield started


def from_the_proxy_address(cloud: Cloud) -> httpx.AsyncClient:
    """A client on the trusted proxy's address, talking to fakecloud directly."""
    transport = httpx.AsyncHTTPTransport(local_address=PROXY_ADDRESS)
    return httpx.AsyncClient(base_url=cloud.url(""), transport=transport, timeout=10)


def cookie_lines(reply: httpx.Response, name: str) -> list[str]:
    return [line for line in reply.headers.get_list("set-cookie") if line.startswith(name + "=")]


def test_the_prefix_is_believed_only_from_the_proxy_and_in_its_shape() -> None:
    trusting = Settings(ingress_proxy=["172.30.32.2"])
    assert trusted_prefix(trusting, "172.30.32.2", PREFIX) == PREFIX
    assert trusted_prefix(trusting, "::ffff:172.30.32.2", PREFIX) == PREFIX
    assert trusted_prefix(trusting, "172.30.32.3", PREFIX) == ""
    assert trusted_prefix(trusting, None, PREFIX) == ""
    assert trusted_prefix(Settings(), "172.30.32.2", PREFIX) == ""  # default: nobody
    for malformed in (
        "",
        "/",
        "/evil",
        "//evil.example",
        "https://evil.example/api/hassio_ingress/x",
        "/api/hassio_ingress/",
        "/api/hassio_ingress/a/b",
        "/api/hassio_ingress/../../x",
        "/api/hassio_ingress/a b",
        "/api/hassio_ingress/a\n",
        f"{PREFIX}/",
        '/api/hassio_ingress/a"><script>',
    ):
        assert trusted_prefix(trusting, "172.30.32.2", malformed) == "", malformed


async def test_through_the_proxy_redirects_cookies_and_paths_carry_the_prefix(
    proxy: IngressProxy,
) -> None:
    async with httpx.AsyncClient(base_url=proxy.ingress_url(""), timeout=10) as client:
        stranger = await client.get("/setup")
        assert stranger.status_code == 303
        assert stranger.headers["location"] == f"{PREFIX}/login?next=/setup"
        login = await client.get("/login")
        assert f'<base href="{PREFIX}/">' in login.text
        # Home Assistant shows the panel in an iframe of its own origin.
        assert login.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in login.headers["content-security-policy"]
        (csrf_line,) = cookie_lines(login, CSRF_COOKIE)
        assert f"Path={PREFIX}" in csrf_line
        client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
        signed_in = await client.post(
            "/api/auth/login", json={"login": OWNER, "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        (session_line,) = cookie_lines(signed_in, SESSION_COOKIE)
        assert f"Path={PREFIX}" in session_line and "secure" not in session_line.lower()
        home = await client.get("/")
        assert home.status_code == 200 and f'<base href="{PREFIX}/">' in home.text
        out = await client.post("/api/auth/logout")
        (ended,) = cookie_lines(out, SESSION_COOKIE)
        assert f"Path={PREFIX}" in ended and "Max-Age=0" in ended


async def test_the_header_from_anyone_else_is_ignored(ingress_cloud: Cloud) -> None:
    forged = {"X-Ingress-Path": "/api/hassio_ingress/attacker"}
    async with httpx.AsyncClient(base_url=ingress_cloud.url(""), timeout=10) as client:
        stranger = await client.get("/setup", headers=forged)
        assert stranger.headers["location"] == "/login?next=/setup"
        login = await client.get("/login", headers=forged)
        assert '<base href="/">' in login.text and login.headers["x-frame-options"] == "DENY"
        (csrf_line,) = cookie_lines(login, CSRF_COOKIE)
        assert "Path=/;" in csrf_line or csrf_line.endswith("Path=/")


async def test_a_malformed_header_from_the_proxy_is_ignored(ingress_cloud: Cloud) -> None:
    async with from_the_proxy_address(ingress_cloud) as client:
        for malformed in ("/api/hassio_ingress/../../evil", "//evil.example", "/api/x/y"):
            reply = await client.get("/setup", headers={"X-Ingress-Path": malformed})
            assert reply.headers["location"] == "/login?next=/setup", malformed
        good = await client.get("/setup", headers={"X-Ingress-Path": PREFIX})
        assert good.headers["location"] == f"{PREFIX}/login?next=/setup"


async def test_home_assistants_origin_and_name_count_only_through_the_proxy(
    ingress_cloud: Cloud, proxy: IngressProxy
) -> None:
    """Home Assistant on https://ha.example: its Origin passes the CSRF check, its name the Host
    check, and cookies are Secure, through the proxy; from anyone else, neither."""
    browser = {"Origin": "https://ha.example", "Sec-Fetch-Site": "same-origin"}
    # As a TLS proxy in front of Home Assistant and one more hop would have left them.
    behind_tls = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "ha.example, ha.lan"}

    async def page_then_sign_in(client: httpx.AsyncClient, **headers: str) -> list[Any]:
        login = await client.get("/login", headers=headers)
        # Sent by hand: the cookie is Secure, which the client keeps off this plain HTTP hop.
        token = login.cookies.get(CSRF_COOKIE) or ""
        reply = await client.post(
            "/api/auth/login",
            json={"login": OWNER, "password": PASSWORD},
            headers={**browser, **headers, CSRF_HEADER: token, "Cookie": f"{CSRF_COOKIE}={token}"},
        )
        secure = "secure" in cookie_lines(login, CSRF_COOKIE)[0].lower()
        return [login.status_code, reply.status_code, secure]

    async with httpx.AsyncClient(base_url=proxy.ingress_url(""), timeout=10) as client:
        client.headers["Host"] = "ha.example"
        assert await page_then_sign_in(client, **behind_tls) == [200, 200, True]
    async with httpx.AsyncClient(base_url=ingress_cloud.url(""), timeout=10) as client:
        forged = {**behind_tls, "X-Ingress-Path": PREFIX}
        client.headers["Host"] = "ha.example"
        assert (await client.get("/login", headers=forged)).status_code == 421
        del client.headers["Host"]
        assert await page_then_sign_in(client, **forged) == [200, 403, False]


async def test_camera_paths_are_under_the_prefix_only_through_the_proxy(
    ingress_cloud: Cloud, proxy: IngressProxy
) -> None:
    await ingress_cloud.runtime.services.store.upsert_camera(mac="00:11:22:33:44:55", owner=OWNER)
    auth = (OWNER, PASSWORD)
    async with httpx.AsyncClient(timeout=10, auth=auth) as client:
        (proxied,) = (await client.get(proxy.ingress_url("/api/cameras"))).json()
        (direct,) = (await client.get(ingress_cloud.url("/api/cameras"))).json()
        camera_id = direct["id"]
        assert direct["paths"]["mjpeg"] == f"/api/cameras/{camera_id}/stream.mjpeg"
        assert proxied["paths"]["mjpeg"] == f"{PREFIX}/api/cameras/{camera_id}/stream.mjpeg"
        assert all(path.startswith(PREFIX + "/") for path in proxied["paths"].values())
        # Other programs' URLs name the server itself (the announce address), either way.
        assert proxied["urls"] == direct["urls"]
