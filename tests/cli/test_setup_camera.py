"""`fakecloud setup-camera` for real: a child process drives the setup-mode simulator, whose
network's DNS is a real `fakecloud serve`; afterwards the camera logs in and joins the account."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.setup_mode import SetupModeCamera, setup_mode_server
from tests.conftest import cli_env, free_port, run_cli
from tests.onboard.conftest import ACCOUNT_PASSWORD, HOME, WIFI_PASSWORD
from tests.test_serve import RunningServer, start_server, stop_server

WITHIN = 30.0


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[RunningServer]:
    running = await asyncio.to_thread(start_server, tmp_path / "data")
    yield running
    if running.process.poll() is None:
        await asyncio.to_thread(stop_server, running)


async def setup_camera(
    server: RunningServer, camera_port: int, *secrets: str, options: tuple[str, ...] = ()
) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fakecloud",
        "setup-camera",
        "--camera-ip=127.0.0.1",
        f"--camera-port={camera_port}",
        f"--ssid={HOME.ssid}",
        "--wifi-password-stdin",
        "--account=alice",
        "--account-password-stdin",
        "--name=Porch",
        "--poll-interval=0.05",
        *options,
        env=cli_env(server.data_dir),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(WITHIN):
        output, _ = await child.communicate("".join(f"{s}\n" for s in secrets).encode())
    assert child.returncode is not None
    return child.returncode, output.decode()


async def test_a_camera_is_set_up_and_then_joins_the_account(serve: RunningServer) -> None:
    camera = SetupModeCamera({HOME.ssid: (HOME, WIFI_PASSWORD)}, ("127.0.0.1", serve.dns_port))
    api = setup_mode_server(camera)
    await api.start()
    try:
        code, output = await setup_camera(serve, api.port, WIFI_PASSWORD, ACCOUNT_PASSWORD)
    finally:
        await api.stop()
    assert code == 0, output
    assert "created account alice" in output
    for number, step in enumerate(["preview", "scan", "verify", "account", "finish"]):
        assert f"] {step}: " in output, (number, output)
    assert camera.owner == ("alice", ACCOUNT_PASSWORD) and camera.server_host == "127.0.0.1"
    captures = (serve.data_dir / "captures" / "capture.jsonl").read_text()
    assert '"kind": "camera-setup"' in captures
    assert WIFI_PASSWORD not in captures and ACCOUNT_PASSWORD not in captures

    # Out of setup mode, the camera logs in with what it was given; the pairing window the
    # tool opened makes it alice's.
    login, password = camera.owner
    online = SimulatedCamera(
        "127.0.0.1", serve.cloud_port, login=login, password=password, mac=camera.mac
    )
    task = asyncio.create_task(online.run())
    try:
        async with asyncio.timeout(WITHIN):
            await online.logged_in.wait()
    finally:
        online.stop()
        await task
    listed = await asyncio.to_thread(run_cli, "camera", "list", "--json", data_dir=serve.data_dir)
    [stored] = json.loads(listed.stdout)
    assert stored["owner"] == "alice"
    # The doctor finds that login in the session log.
    checked = await asyncio.to_thread(
        run_cli, "doctor", "--json", data_dir=serve.data_dir, FAKECLOUD_DNS_ENABLED="false"
    )
    [session_log] = [c for c in json.loads(checked.stdout)["checks"] if c["name"] == "session log"]
    assert session_log["status"] == "ok" and "127.0.0.1" in session_log["what"]


async def test_failures_are_explained_and_exit_1(serve: RunningServer) -> None:
    silent_dns = ("127.0.0.1", free_port())
    camera = SetupModeCamera({HOME.ssid: (HOME, WIFI_PASSWORD)}, silent_dns)
    api = setup_mode_server(camera)
    await api.start()
    try:
        code, output = await setup_camera(serve, api.port, WIFI_PASSWORD, ACCOUNT_PASSWORD)
        assert code == 1
        assert "fail to dns" in output and "fix: " in output and "dns-config" in output
        code, output = await setup_camera(
            serve, api.port, "wrong", ACCOUNT_PASSWORD, options=("--json",)
        )
        *steps, end = (json.loads(line) for line in output.splitlines())
        assert code == 1 and [step["step"] for step in steps[:2]] == ["preview", "settings"]
        assert end["result"] == "failed" and end["step"] == "verify"
        assert "fail to get ip" in end["what"] and "Wi-Fi password" in end["fix"]
        code, output = await setup_camera(serve, api.port, WIFI_PASSWORD, "not-alices")
        assert code == 2 and "password is not alice's" in output  # checked before the camera
        code, output = await setup_camera(serve, api.port, WIFI_PASSWORD)
        assert code == 2 and "standard input ended" in output
    finally:
        await api.stop()
