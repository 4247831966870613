"""The whole setup sequence against the setup-mode simulator: success and each failure."""

from __future__ import annotations

import json

import pytest

from fakecloud.net.setup_answers import NO_SUCH_ACCOUNT
from fakecloud.onboard.camera_api import CameraUnreachable
from fakecloud.onboard.flow import STEPS, SetupFailed, set_up_camera
from tests.conftest import free_port
from tests.onboard.conftest import ACCOUNT_PASSWORD, WIFI_PASSWORD, SetupBench, plan


def nothing(step: str, message: str) -> None:
    assert step in STEPS and message


async def test_a_camera_is_set_up_and_every_answer_is_recorded(bench: SetupBench) -> None:
    seen: list[str] = []
    async with bench.api() as api:
        facts = await set_up_camera(api, plan(), lambda step, _: seen.append(step))
    camera = bench.camera
    assert facts["MacAddress"] == camera.mac
    assert camera.server_host == "127.0.0.1"
    assert camera.joined["apcli_ssid"] == "Home net" and camera.joined["apcli_mode"] == "WPA2PSK"
    assert camera.owner == ("alice", ACCOUNT_PASSWORD) and camera.name == "Porch"
    assert camera.left_setup.is_set()
    assert list(dict.fromkeys(seen)) == list(STEPS)
    text = (bench.captures / "capture.jsonl").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    assert {record["step"] for record in records} == set(STEPS)
    assert all(record["kind"] == "camera-setup" for record in records)
    # Neither the Wi-Fi password nor the account password apcamMode hands back is kept.
    for secret in (WIFI_PASSWORD, ACCOUNT_PASSWORD, camera.secret):
        assert secret not in text and secret.encode().hex() not in text


async def test_a_wrong_wifi_password_is_explained(bench: SetupBench) -> None:
    async with bench.api() as api:
        with pytest.raises(SetupFailed) as failed:
            await set_up_camera(api, plan(wifi_password="wrong"), nothing)
    assert failed.value.step == "verify" and "fail to get ip" in failed.value.what
    assert "Wi-Fi password" in failed.value.fix


async def test_no_dns_on_the_network_is_explained(bench: SetupBench) -> None:
    bench.camera.resolver = ("127.0.0.1", free_port())  # nothing answers there
    async with bench.api() as api:
        with pytest.raises(SetupFailed) as failed:
            await set_up_camera(api, plan(), nothing)
    assert "fail to dns" in failed.value.what and "dns-config" in failed.value.fix


async def test_a_network_the_camera_does_not_see(bench: SetupBench) -> None:
    async with bench.api() as api:
        with pytest.raises(SetupFailed) as failed:
            await set_up_camera(api, plan(ssid="Elsewhere"), nothing)
    assert failed.value.step == "scan" and "Home net" in failed.value.what


async def test_a_camera_that_never_finishes_joining_times_out(bench: SetupBench) -> None:
    bench.camera.pending_polls = 10_000
    async with bench.api() as api:
        with pytest.raises(SetupFailed) as failed:
            await set_up_camera(api, plan(poll_timeout=0.1), nothing)
    assert "within 0.1 s" in failed.value.what


async def test_an_unknown_account_is_created_and_a_refused_one_explained(bench: SetupBench) -> None:
    async def unknown(login: str, password: str) -> int | None:
        return NO_SUCH_ACCOUNT

    bench.camera.account_check = unknown
    async with bench.api() as api:
        await set_up_camera(api, plan(), nothing)
    assert bench.camera.owner == ("alice", ACCOUNT_PASSWORD)

    async def refused(login: str, password: str) -> int | None:
        return 0

    bench.camera.account_check = refused
    bench.camera.owner = None
    async with bench.api() as api:
        with pytest.raises(SetupFailed) as failed:
            await set_up_camera(api, plan(), nothing)
    assert failed.value.step == "account" and "wrong e-mail or password" in failed.value.what


async def test_wrong_camera_credentials_and_no_camera(bench: SetupBench) -> None:
    async with bench.api(password="nope") as api:
        with pytest.raises(CameraUnreachable, match="refused the user name"):
            await set_up_camera(api, plan(), nothing)
    bench.url = f"http://127.0.0.1:{free_port()}"
    async with bench.api() as api:
        with pytest.raises(CameraUnreachable, match="did not answer"):
            await set_up_camera(api, plan(), nothing)
