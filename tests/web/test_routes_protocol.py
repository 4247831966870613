"""The setup and protocol pages' JSON over HTTP: recent captures and the export, redacted
(no password, no MAC), router recipes; strangers refused like the full status."""

from __future__ import annotations

import json
from typing import get_args

import httpx

from fakecloud.dns.recipes import RECIPE_FORMATS
from fakecloud.web.routes_protocol import EXPORT_NAME, RecipeFormat
from tests.media.test_viewer_e2e import OWNER, PASSWORD
from tests.web.conftest import Cloud

CAMERA_PASSWORD = "camera-Login-Secret-77"
CAMERA_MAC = "00:11:22:AA:BB:CC"
OWNER_AUTH = (OWNER, PASSWORD)


async def camera_login_capture(client: httpx.AsyncClient) -> None:
    """A camera's login fakecloud does not serve: recorded, password blanked, MAC kept."""
    login = f"/goform/login?owner_name={OWNER}&owner_password={CAMERA_PASSWORD}&mac={CAMERA_MAC}"
    assert (await client.get(login)).status_code == 404


async def test_strangers_get_no_capture_and_no_recipe(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=30) as client:
        await camera_login_capture(client)
        for path in ("/api/captures", "/api/captures/export", "/api/dns/recipe"):
            assert (await client.get(path)).status_code == 401, path
            assert (await client.get(path, auth=(OWNER, "wrong"))).status_code == 401, path


async def test_recent_captures_and_the_export_hide_passwords_and_macs(cloud: Cloud) -> None:
    log_file = cloud.runtime.settings.captures_dir / "capture.jsonl"
    async with httpx.AsyncClient(base_url=cloud.url(""), auth=OWNER_AUTH, timeout=30) as client:
        assert (await client.get("/api/captures/export")).status_code == 404  # nothing yet
        await camera_login_capture(client)
        assert CAMERA_MAC in log_file.read_text()  # the owner's own log keeps MACs readable
        recent = (await client.get("/api/captures", params={"kind": "http"})).json()
        export = await client.get("/api/captures/export")
        none = (await client.get("/api/captures", params={"kind": "dns"})).json()
    assert recent["files"] == ["capture.jsonl"]
    [record] = recent["records"]
    assert record["decoded"]["target"].startswith("/goform/login?")
    assert none["records"] == []
    assert export.status_code == 200
    assert EXPORT_NAME in export.headers["content-disposition"]
    exported = [json.loads(line) for line in export.text.splitlines()]
    assert exported[-1]["decoded"]["target"].startswith("/goform/login?")
    for text in (json.dumps(recent), export.text):
        assert CAMERA_PASSWORD not in text and CAMERA_MAC not in text
        assert "MAC-1" in text


async def test_a_recipe_for_each_router_points_at_the_announce_address(cloud: Cloud) -> None:
    assert set(get_args(RecipeFormat)) == set(RECIPE_FORMATS)
    address = cloud.runtime.settings.effective_announce_address
    async with httpx.AsyncClient(base_url=cloud.url(""), auth=OWNER_AUTH, timeout=30) as client:
        first = (await client.get("/api/dns/recipe")).json()
        hosts = (await client.get("/api/dns/recipe", params={"router": "hosts"})).json()
        unknown = await client.get("/api/dns/recipe", params={"router": "no-such-router"})
    assert first["router"] == "dnsmasq" and first["routers"] == list(RECIPE_FORMATS)
    assert first["address"] == address and f"/{address}" in first["text"]
    assert hosts["router"] == "hosts" and f"{address} server.seedonk.com" in hosts["text"]
    assert unknown.status_code == 422


async def test_the_pages_need_a_session(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=30) as client:
        for path in ("/status", "/setup", "/protocol"):
            response = await client.get(path)
            assert response.status_code == 303 and response.headers["location"] == (
                f"/login?next={path}"
            )
