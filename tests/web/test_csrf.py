"""CSRF protection of the web app's state-changing routes, on the whole fakecloud: the double
submitted token, the Origin and Sec-Fetch-Site checks, and programs that sign their requests."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakecloud.web.csrf import CSRF_COOKIE, CSRF_HEADER
from tests.media.test_viewer_e2e import OWNER, PASSWORD
from tests.web.conftest import Cloud
from tests.web.test_routes_account import browser_client, sign_in

CREDENTIALS = {"login": OWNER, "password": PASSWORD}


async def test_signing_in_needs_the_token_the_page_was_given(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        bare = await client.post("/api/auth/login", json=CREDENTIALS)
        assert bare.status_code == 403 and CSRF_HEADER in bare.text
        page = await client.get("/login")
        cookie = page.cookies[CSRF_COOKIE]
        assert "samesite=strict" in page.headers["set-cookie"].lower()
        forged = await client.post(
            "/api/auth/login", json=CREDENTIALS, headers={CSRF_HEADER: "guessed"}
        )
        assert forged.status_code == 403
        good = await client.post("/api/auth/login", json=CREDENTIALS, headers={CSRF_HEADER: cookie})
        assert good.status_code == 200


async def test_other_sites_are_refused_even_with_the_token(cloud: Cloud) -> None:
    async with browser_client(cloud) as client:
        await sign_in(client)
        for headers in (
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
        ):
            reply = await client.post("/api/auth/logout", headers=headers)
            assert reply.status_code == 403, headers
        same = await client.post(
            "/api/auth/logout",
            headers={"Origin": cloud.url(""), "Sec-Fetch-Site": "same-origin"},
        )
        assert same.status_code == 200


async def test_a_program_signing_its_requests_needs_no_token(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as program:
        made = await program.post(
            "/api/account/tokens", json={"label": "script"}, auth=(OWNER, PASSWORD)
        )
        assert made.status_code == 201
        # The same request with a browser's marks is held to the page's rules.
        browser = await program.post(
            "/api/account/tokens",
            json={"label": "script"},
            auth=(OWNER, PASSWORD),
            headers={"Sec-Fetch-Mode": "cors"},
        )
        assert browser.status_code == 403


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    token=st.text(max_size=80),
    origin=st.one_of(st.none(), st.text(max_size=80)),
    site=st.one_of(st.none(), st.sampled_from(["cross-site", "same-site", "none", "x"])),
)
async def test_any_token_and_origin_is_refused_cleanly(
    cloud: Cloud, token: str, origin: str | None, site: str | None
) -> None:
    headers = {CSRF_HEADER: token}
    if origin is not None:
        headers["Origin"] = origin
    if site is not None:
        headers["Sec-Fetch-Site"] = site
    headers = {k: v for k, v in headers.items() if v.isascii() and v.isprintable()}
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        client.cookies.set(CSRF_COOKIE, "the real token, never guessed by hypothesis")
        reply = await client.post("/api/auth/login", json=CREDENTIALS, headers=headers)
    assert reply.status_code == 403, (headers, reply.status_code)
