"""The simulated app and the `fakecloud sim` commands, run for real."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from fakecloud.net.properties import parse_properties
from fakecloud.sim.app import SimulatedApp, read_device_info_list
from tests.broker.conftest import (
    OWNER,
    OWNER_PASSWORD,
    BrokerServer,
    no_camera_online,
    wait_until,
)
from tests.conftest import cli_env


def test_device_info_list_reading() -> None:
    text = "12:00:11:22:33:44:55,MAC=00:11:22:33:44:55+AES=k+PWR_SLEEP_MODE=DEEP\nnot a line"
    (entry,) = read_device_info_list(text)
    assert (entry.device_id, entry.mac, entry.online) == (12, "00:11:22:33:44:55", False)
    assert entry.destination == "12:00:11:22:33:44:55" and entry.fields["AES"] == "k"


@pytest.mark.parametrize("token", ["abc", "myQ.accessToken:abc"])
def test_a_token_login_names_no_user_as_public_clients_do(token: str) -> None:
    app = SimulatedApp("127.0.0.1", 1, login="ignored", token=token)
    options = parse_properties(app._login_frame().options)
    assert (options["CX_UNAME"], options["CX_PASSWD"]) == ("", "myQ.accessToken:abc")


async def _fakecloud(*args: str, data_dir: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fakecloud",
        *args,
        env=cli_env(Path(data_dir)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_cli_cameras_and_app(served: BrokerServer, tmp_path: Path) -> None:
    server = f"127.0.0.1:{served.port}"
    account = f"{OWNER}:{OWNER_PASSWORD}"
    cameras = await _fakecloud(
        "sim", "camera", "--server", server, "--count", "2", "--account", account,
        data_dir=str(tmp_path),
    )  # fmt: skip
    try:

        async def two_online() -> bool:
            return len(served.broker.online_camera_ids()) == 2

        await wait_until(two_online, within=20)
        camera_id = served.broker.online_camera_ids()[0]
        app = await _fakecloud(
            "sim", "app", "--server", server, "--account", account,
            "--command", f"modify-device|{camera_id}|FPS=5|", "--camera", str(camera_id),
            data_dir=str(tmp_path),
        )  # fmt: skip
        out, err = await asyncio.wait_for(app.communicate(), 30)
        assert app.returncode == 0, err.decode()
        text = out.decode()
        assert "after 1 redirect(s)" in text and text.count("online") == 2
        assert f"ack|modify-device|{camera_id}|" in text
    finally:
        cameras.send_signal(signal.SIGINT)
        await asyncio.wait_for(cameras.wait(), 20)
    await wait_until(lambda: no_camera_online(served), within=5)


async def test_cli_app_reports_a_refused_login(served: BrokerServer, tmp_path: Path) -> None:
    app = await _fakecloud(
        "sim", "app", "--server", f"127.0.0.1:{served.port}", "--account", "alice:wrongpass",
        data_dir=str(tmp_path),
    )  # fmt: skip
    _, err = await asyncio.wait_for(app.communicate(), 30)
    assert app.returncode == 2 and "login refused" in err.decode()


async def test_cli_rejects_a_bad_server_address(tmp_path: Path) -> None:
    app = await _fakecloud(
        "sim", "app", "--server", "nowhere", "--account", "a:b", data_dir=str(tmp_path)
    )
    _, err = await asyncio.wait_for(app.communicate(), 30)
    assert app.returncode == 2 and "HOST:PORT" in err.decode()


async def test_cli_app_logs_in_with_a_token_alone(served: BrokerServer, tmp_path: Path) -> None:
    token = await served.store.issue_token(OWNER)
    app = await _fakecloud(
        "sim", "app", "--server", f"127.0.0.1:{served.port}", "--token", token,
        data_dir=str(tmp_path),
    )  # fmt: skip
    out, err = await asyncio.wait_for(app.communicate(), 30)
    assert app.returncode == 0, err.decode()
    assert "logged in (after 1 redirect(s))" in out.decode()


async def test_cli_app_takes_a_token_or_an_account_not_both(tmp_path: Path) -> None:
    app = await _fakecloud(
        "sim", "app", "--server", "127.0.0.1:1", "--token", "t", "--account", "a:b",
        data_dir=str(tmp_path),
    )  # fmt: skip
    _, err = await asyncio.wait_for(app.communicate(), 30)
    assert app.returncode == 2 and "not allowed with" in err.decode()
