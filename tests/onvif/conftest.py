"""An ONVIF part on loopback over a real store: one account owning one camera, loopback NOT
trusted (so every request authenticates as a NVR on the LAN would)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from fakecloud.core.config import Settings
from fakecloud.core.events import EventBus
from fakecloud.onvif.auth import load_key, onvif_password
from fakecloud.onvif.part import OnvifPart
from fakecloud.store.async_store import AsyncStore
from fakecloud.store.models import Camera
from fakecloud.store.store import Store
from tests.store.conftest import FAST_HASHER

LOGIN, PASSWORD = "alice", "correct horse battery"
MAC = "94:10:3e:00:00:01"
HTTP_PORT = 8000
RTSP_PORT = 8554
UNTRUSTED_LOOPBACK = ["192.0.2.0/24"]  # a documentation network (RFC 5737)


@dataclass
class Onvif:
    part: OnvifPart
    store: AsyncStore
    camera: Camera
    onvif_password: str

    @property
    def port(self) -> int:
        return self.part.devices[self.camera.id].port


@pytest.fixture
def onvif_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "onvif_enabled": True,
            "onvif_port_base": 0,
            "onvif_discovery_port": 0,
            "trusted_networks": UNTRUSTED_LOOPBACK,
        }
    )


@pytest.fixture
async def onvif(onvif_settings: Settings) -> AsyncIterator[Onvif]:
    onvif_settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = AsyncStore(Store(onvif_settings.database_path, hasher=FAST_HASHER))
    try:
        account = await store.add_account(LOGIN, PASSWORD)
        camera = await store.upsert_camera(mac=MAC, owner=LOGIN, name="Porch")
        part = OnvifPart(
            onvif_settings,
            store,
            EventBus(),
            http_port=lambda: HTTP_PORT,
            rtsp_port=lambda: RTSP_PORT,
        )
        await part.start()
        try:
            secret = onvif_password(load_key(onvif_settings.data_dir), account)
            yield Onvif(part, store, camera, secret)
        finally:
            await part.stop()
    finally:
        await store.close()
