"""The whole server with ONVIF on: a simulated camera logs in, gets its ONVIF device, and an
ONVIF client (onvif-zeep-async) reads its snapshot URI and fetches a real picture from it with
the same account, as an NVR adding the camera by ONVIF does."""

from __future__ import annotations

import asyncio

import httpx
from onvif import ONVIFCamera

from fakecloud.core.config import Settings
from fakecloud.onvif.auth import load_key, onvif_password
from fakecloud.onvif.part import OnvifPart
from tests.media.test_viewer_e2e import OWNER, PASSWORD, WITHIN, online, running_cloud
from tests.onvif.conftest import UNTRUSTED_LOOPBACK


async def test_a_camera_that_logs_in_is_an_onvif_device(settings: Settings) -> None:
    changes = {
        "onvif_enabled": True,
        "onvif_port_base": 0,
        "onvif_discovery_port": 0,
        "trusted_networks": UNTRUSTED_LOOPBACK,
    }
    async with running_cloud(settings, **changes) as cloud, online(cloud.camera(0)) as camera:
        part = cloud.runtime.part("onvif")
        assert isinstance(part, OnvifPart) and camera.camera_id is not None
        async with asyncio.timeout(WITHIN):
            port = (await part.serving(camera.camera_id)).port
        account = await cloud.runtime.services.store.get_account(OWNER)  # type: ignore[union-attr]
        assert account is not None
        secret = onvif_password(load_key(cloud.runtime.settings.data_dir), account)
        client = ONVIFCamera("127.0.0.1", port, OWNER, secret, no_cache=True)
        try:
            await client.update_xaddrs()
            media = await client.create_media_service()
            profile = (await media.GetProfiles())[0]
            snapshot_uri = await client.get_snapshot_uri(profile.token)
        finally:
            await client.close()
        assert snapshot_uri == cloud.url(f"/api/cameras/{camera.camera_id}/snapshot.jpg")
        async with httpx.AsyncClient(timeout=WITHIN, auth=(OWNER, PASSWORD)) as http:
            picture = await http.get(snapshot_uri)
        assert picture.status_code == 200 and picture.content.startswith(b"\xff\xd8")
