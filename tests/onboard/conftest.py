"""A camera in setup mode (the simulator) on a loopback port, on a 'network' whose DNS is a real
fakecloud DNS shim."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fakecloud.capture.log import CaptureLog
from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.dns import DnsPart
from fakecloud.net.setup_answers import Site
from fakecloud.onboard.camera_api import CameraApi
from fakecloud.onboard.flow import SetupPlan
from fakecloud.sim.setup_mode import SetupModeCamera, setup_mode_server

HOME = Site("6", "Home net", "aa:bb:cc:dd:ee:01", "WPA2PSK/AES", "80", "NO")
WIFI_PASSWORD = "correct horse 1"
ACCOUNT_PASSWORD = "account-secret-77"


@dataclass
class SetupBench:
    camera: SetupModeCamera
    url: str
    captures: Path
    dns_port: int

    def api(self, user: str = "admin", password: str = "admin") -> CameraApi:
        return CameraApi(self.url, user, password, CaptureLog(self.captures, 1 << 20))


def plan(**changes: object) -> SetupPlan:
    fields: dict[str, object] = {
        "ssid": HOME.ssid,
        "wifi_password": WIFI_PASSWORD,
        "login": "alice",
        "password": ACCOUNT_PASSWORD,
        "email": "",
        "name": "Porch",
        "server_host": "127.0.0.1",
        "poll_interval": 0.01,
        "poll_timeout": 5.0,
    }
    return SetupPlan(**(fields | changes))  # type: ignore[arg-type]


@pytest.fixture
async def bench(settings: Settings, tmp_path: Path) -> AsyncIterator[SetupBench]:
    shim = DnsPart(settings, load_catalogue(settings.extra_hostnames))
    await shim.start()
    assert shim.port
    camera = SetupModeCamera({HOME.ssid: (HOME, WIFI_PASSWORD)}, resolver=("127.0.0.1", shim.port))
    server = setup_mode_server(camera)
    await server.start()
    try:
        yield SetupBench(
            camera, f"http://127.0.0.1:{server.port}", tmp_path / "captures", shim.port
        )
    finally:
        await server.stop()
        await shim.stop()
