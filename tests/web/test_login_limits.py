"""Login limits on HTTP: wrong-password floods over REST login and HTTP Basic from one address
get the usual 401, cost few password checks, and leave another address served."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.media.test_viewer_e2e import OWNER, PASSWORD
from tests.web.conftest import Cloud

TIMEOUT = 30.0
FLOOD = 30


def client(source: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(transport=transport, timeout=TIMEOUT)


def store(cloud: Cloud) -> Any:
    return cloud.runtime.services.store


async def test_a_basic_flood_is_limited_and_another_address_is_served(cloud: Cloud) -> None:
    url = cloud.url("/cxs/api/devices")
    async with client("127.0.0.2") as attacker, client("127.0.0.1") as owner:
        flood = [attacker.get(url, auth=(OWNER, f"guess {n}")) for n in range(FLOOD)]
        *refused, legit = await asyncio.gather(*flood, owner.get(url, auth=(OWNER, PASSWORD)))
    assert legit.status_code == 200
    assert {(r.status_code, r.text) for r in refused} == {(401, refused[0].text)}
    assert store(cloud).login_guard.counters["refused"] > 0
    assert store(cloud).hash_pool.counters["checks"] < FLOOD + 1


async def test_a_rest_login_flood_is_limited_and_another_address_logs_in(cloud: Cloud) -> None:
    url = cloud.url("/cxs/api/auth/login")
    headers = {"AntiCSRF": "AntiCSRF"}

    def form(password: str) -> dict[str, str]:
        return {"username": OWNER, "password": password}

    async with client("127.0.0.2") as attacker, client("127.0.0.1") as owner:
        flood = [attacker.post(url, json=form(f"g{n}"), headers=headers) for n in range(FLOOD)]
        *refused, legit = await asyncio.gather(
            *flood, owner.post(url, json=form(PASSWORD), headers=headers)
        )
    assert legit.status_code == 200
    assert {(r.status_code, r.text) for r in refused} == {(401, refused[0].text)}
    assert store(cloud).login_guard.counters["refused"] > 0


async def test_basic_with_a_token_is_a_hash_lookup_not_scrypt(cloud: Cloud) -> None:
    token = await store(cloud).issue_token(OWNER)
    async with client("127.0.0.1") as owner:
        reply = await owner.get(cloud.url("/cxs/api/devices"), auth=(OWNER, token))
    assert reply.status_code == 200
    assert store(cloud).hash_pool.counters["checks"] == 0
