"""Signing in for people, against the whole fakecloud on loopback (loopback not trusted): first
run, sign in and out, sessions that survive a restart, the password and the access tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from fakecloud.core.config import Settings
from fakecloud.web.csrf import CSRF_COOKIE, CSRF_HEADER
from fakecloud.web.routes_account import _on_private_network
from fakecloud.web.sessions import SESSION_COOKIE
from tests.media.test_viewer_e2e import OWNER, PASSWORD, running_cloud
from tests.web.conftest import Cloud

NEW_PASSWORD = "a brand new passphrase"


@asynccontextmanager
async def browser_client(cloud: Cloud) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that behaves like the web app's pages: it loads /login for the CSRF
    cookie and sends the token back in the header, as lib.js does."""
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        page = await client.get("/login")
        assert page.status_code == 200
        client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
        yield client


async def sign_in(client: httpx.AsyncClient, login: str = OWNER, password: str = PASSWORD) -> None:
    reply = await client.post("/api/auth/login", json={"login": login, "password": password})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"login": login, "first_run": False}


async def test_signing_in_and_out(cloud: Cloud) -> None:
    async with browser_client(cloud) as client:
        assert (await client.get("/api/auth/state")).json() == {"login": None, "first_run": False}
        wrong = await client.post("/api/auth/login", json={"login": OWNER, "password": "nope"})
        assert wrong.status_code == 401 and SESSION_COOKIE not in client.cookies
        await sign_in(client)
        cookie = next(h for h in client.cookies.jar if h.name == SESSION_COOKIE)
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert (await client.get("/api/auth/state")).json()["login"] == OWNER
        assert (await client.get("/api/cameras")).status_code == 200
        token = client.cookies[SESSION_COOKIE]
        assert (await client.post("/api/auth/logout")).status_code == 200
        client.cookies.set(SESSION_COOKIE, token)  # the old cookie no longer works
        assert (await client.get("/api/cameras")).status_code == 401


async def test_first_run_creates_one_account_and_signs_it_in(cloud: Cloud) -> None:
    await cloud.runtime.services.store.remove_account(OWNER)  # type: ignore[attr-defined]
    async with browser_client(cloud) as client:
        assert (await client.get("/api/auth/state")).json() == {"login": None, "first_run": True}
        short = await client.post("/api/auth/first-account", json={"login": "bob", "password": "x"})
        assert short.status_code == 409 and "8 characters" in short.text
        made = await client.post(
            "/api/auth/first-account", json={"login": "bob", "password": PASSWORD}
        )
        assert made.status_code == 201 and made.json()["login"] == "bob"
        assert (await client.get("/api/account")).json()["login"] == "bob"
    async with browser_client(cloud) as other:
        late = await other.post(
            "/api/auth/first-account", json={"login": "mallory", "password": PASSWORD}
        )
        assert late.status_code == 409 and "exists already" in late.text
        assert (await other.get("/api/auth/state")).json()["first_run"] is False


def test_only_private_networks_may_create_the_first_account() -> None:
    assert _on_private_network("127.0.0.1") and _on_private_network("192.168.1.20")
    assert _on_private_network("fd00::5")
    assert not _on_private_network("8.8.8.8") and not _on_private_network(None)
    assert not _on_private_network("not an address")


async def test_a_session_survives_a_restart(settings: Settings) -> None:
    settings = settings.model_copy(update={"trusted_networks": ["192.0.2.0/24"]})
    async with running_cloud(settings) as cloud, browser_client(cloud) as client:
        await sign_in(client)
        cookies = dict(client.cookies)
    # The same data directory, a new process's worth of state; the account exists already.
    async with running_cloud(settings) as again:
        async with httpx.AsyncClient(base_url=again.url(""), cookies=cookies, timeout=10) as client:
            assert (await client.get("/api/auth/state")).json()["login"] == OWNER
            assert (await client.get("/api/account")).status_code == 200


async def test_changing_the_password_ends_the_other_sessions(cloud: Cloud) -> None:
    async with browser_client(cloud) as here, browser_client(cloud) as elsewhere:
        await sign_in(here)
        await sign_in(elsewhere)
        wrong = await here.post(
            "/api/account/password", json={"current": "not it", "new": NEW_PASSWORD}
        )
        assert wrong.status_code == 403
        done = await here.post(
            "/api/account/password", json={"current": PASSWORD, "new": NEW_PASSWORD}
        )
        assert done.status_code == 200 and done.json() == {"sessions_ended": 1}
        assert (await here.get("/api/account")).status_code == 200
        assert (await elsewhere.get("/api/account")).status_code == 401
        await sign_in(elsewhere, password=NEW_PASSWORD)


async def test_tokens_are_shown_once_and_revoked_one_by_one(cloud: Cloud) -> None:
    async with browser_client(cloud) as client:
        await sign_in(client)
        bad = await client.post("/api/account/tokens", json={"label": "no spaces please"})
        assert bad.status_code == 422
        issued = await client.post("/api/account/tokens", json={"label": "home-assistant"})
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        listed = (await client.get("/api/account")).json()["tokens"]
        assert [entry["label"] for entry in listed] == ["home-assistant"]
        assert "token" not in listed[0]  # never shown again
        async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as program:
            bearer = {"Authorization": f"Bearer {token}"}
            assert (await program.get("/api/cameras", headers=bearer)).status_code == 200
            gone = await client.delete(f"/api/account/tokens/{issued.json()['id']}")
            assert gone.status_code == 204
            assert (await program.get("/api/cameras", headers=bearer)).status_code == 401
        again = await client.delete(f"/api/account/tokens/{issued.json()['id']}")
        assert again.status_code == 404


async def test_account_pages_need_an_account_even_from_a_trusted_network(
    settings: Settings,
) -> None:
    async with running_cloud(
        settings.model_copy(update={"trusted_networks": ["127.0.0.0/8"]})
    ) as cloud:
        async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
            assert (await client.get("/api/cameras")).status_code == 200  # trusted: sees cameras
            assert (await client.get("/api/account")).status_code == 401  # but is nobody


@pytest.mark.parametrize(
    ("headers", "challenged"),
    [({}, True), ({"Sec-Fetch-Mode": "cors"}, False), ({"Sec-Fetch-Mode": "navigate"}, False)],
)
async def test_browsers_get_no_basic_prompt_programs_do(
    cloud: Cloud, headers: dict[str, str], challenged: bool
) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        reply = await client.get("/api/cameras", headers=headers)
    assert reply.status_code == 401
    assert ("www-authenticate" in reply.headers) is challenged
