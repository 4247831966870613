"""`POST /api/setup-camera` over HTTP against the whole fakecloud on loopback (loopback not
trusted) and the setup-mode simulator, whose network's DNS is a real fakecloud DNS shim."""

from __future__ import annotations

import json
from typing import Any

import httpx

from fakecloud.onboard.flow import STEPS
from tests.conftest import free_port
from tests.media.test_viewer_e2e import OWNER, PASSWORD
from tests.onboard.conftest import HOME, WIFI_PASSWORD, SetupBench, bench
from tests.web.conftest import Cloud, captured
from tests.web.test_routes_account import browser_client, sign_in

__all__ = ["bench"]  # the fixture, shared


def setup_form(bench: SetupBench, **changes: Any) -> dict[str, Any]:
    port = int(bench.url.rsplit(":", 1)[1])
    form = {
        "camera_ip": "127.0.0.1",
        "camera_port": port,
        "ssid": HOME.ssid,
        "wifi_password": WIFI_PASSWORD,
        "password": PASSWORD,
        "name": "Porch",
    }
    return form | changes


def lines(reply: httpx.Response) -> list[dict[str, Any]]:
    assert reply.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in reply.text.splitlines()]


async def test_the_web_app_sets_a_camera_up_step_by_step(cloud: Cloud, bench: SetupBench) -> None:
    bench.camera.pending_polls = 0  # the camera's checks pass at the first poll
    async with browser_client(cloud) as client:
        await sign_in(client)
        reply = await client.post("/api/setup-camera", json=setup_form(bench), timeout=30)
    assert reply.status_code == 200, reply.text
    said = lines(reply)
    assert said[-1]["result"] == "done", said
    assert [line["step"] for line in said[:-1]] == ["fakecloud", *STEPS]
    assert bench.camera.owner == (OWNER, PASSWORD) and bench.camera.name == "Porch"
    assert bench.camera.server_host == cloud.runtime.settings.effective_announce_address
    assert await cloud.runtime.services.store.pairing_account() == OWNER
    records = captured(cloud, "camera-setup")
    assert {record["step"] for record in records} >= set(STEPS)
    written = json.dumps(records)
    assert WIFI_PASSWORD not in written and PASSWORD not in written


async def test_a_failed_step_is_explained_with_its_fix(cloud: Cloud, bench: SetupBench) -> None:
    bench.camera.resolver = None  # this network's DNS does not answer: 'fail to dns'
    bench.camera.pending_polls = 0
    async with browser_client(cloud) as client:
        await sign_in(client)
        reply = await client.post("/api/setup-camera", json=setup_form(bench), timeout=30)
    outcome = lines(reply)[-1]
    assert outcome["result"] == "failed" and outcome["step"] == "verify"
    assert "fail to dns" in outcome["what"] and "dns-config" in outcome["fix"]


async def test_a_camera_that_does_not_answer_says_where_to_look(
    cloud: Cloud, bench: SetupBench
) -> None:
    async with browser_client(cloud) as client:
        await sign_in(client)
        form = setup_form(bench, camera_port=free_port())  # nothing listens there
        reply = await client.post("/api/setup-camera", json=form, timeout=30)
    outcome = lines(reply)[-1]
    assert outcome["result"] == "failed" and "did not answer" in outcome["what"]
    assert "NetCamXXXX Wi-Fi" in outcome["fix"]


async def test_who_may_start_a_setup_and_where(cloud: Cloud, bench: SetupBench) -> None:
    async with browser_client(cloud) as client:
        form = setup_form(bench)
        assert (await client.post("/api/setup-camera", json=form)).status_code == 401
        await sign_in(client)
        no_token = await client.post("/api/setup-camera", json=form, headers={"X-CSRF-Token": ""})
        assert no_token.status_code == 403
        wrong = await client.post("/api/setup-camera", json=form | {"password": "not it"})
        assert wrong.status_code == 403 and "password" in wrong.text
        public = await client.post("/api/setup-camera", json=form | {"camera_ip": "8.8.8.8"})
        assert public.status_code == 403 and "not a camera's address" in public.text
        named = await client.post("/api/setup-camera", json=form | {"camera_ip": "cam.example"})
        assert named.status_code == 422
    assert bench.camera.server_host is None  # none of these reached the camera
