"""A real ONVIF client (onvif-zeep-async's ONVIFCamera, what Home Assistant's ONVIF integration
runs) against the camera's device on 127.0.0.1, with WS-UsernameToken PasswordDigest; loopback
is not trusted, so every call authenticates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFError
from zeep.exceptions import Fault

from fakecloud.core.events import CameraOnline
from fakecloud.onvif.auth import load_key, onvif_password
from tests.onvif.conftest import HTTP_PORT, LOGIN, PASSWORD, RTSP_PORT, Onvif

WITHIN = 10.0
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


@asynccontextmanager
async def client(port: int, login: str, password: str) -> AsyncIterator[ONVIFCamera]:
    camera = ONVIFCamera("127.0.0.1", port, login, password, no_cache=True, adjust_time=True)
    try:
        yield camera
    finally:
        await camera.close()


async def test_home_assistant_setup_calls(onvif: Onvif) -> None:
    """The calls Home Assistant's ONVIF setup makes, in its order."""
    async with client(onvif.port, LOGIN, onvif.onvif_password) as camera:
        await camera.update_xaddrs()  # GetSystemDateAndTime (adjust_time), GetServices
        device = await camera.create_devicemgmt_service()
        info = await device.GetDeviceInformation()
        assert (info.Manufacturer, info.SerialNumber) == ("fakecloud", "94103E000001")
        interfaces = await device.GetNetworkInterfaces()
        assert interfaces[0].Info.HwAddress == "94:10:3e:00:00:01"
        capabilities = await camera.get_capabilities()
        assert capabilities is not None
        assert capabilities["Media"]["XAddr"].endswith(f":{onvif.port}/onvif/media_service")
        media = await camera.create_media_service()
        assert (await media.GetServiceCapabilities()).SnapshotUri is True
        profiles = await media.GetProfiles()
        assert [p.VideoEncoderConfiguration.Encoding for p in profiles] == ["H264"]
        token = profiles[0].token
        stream = await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": token})
        assert stream.Uri == f"rtsp://127.0.0.1:{RTSP_PORT}/{onvif.camera.id}"
        snapshot = await camera.get_snapshot_uri(token)
        assert (
            snapshot == f"http://127.0.0.1:{HTTP_PORT}/api/cameras/{onvif.camera.id}/snapshot.jpg"
        )
        sources = await media.GetVideoSources()
        assert (sources[0].Resolution.Width, sources[0].Resolution.Height) == (1280, 720)


async def test_the_account_password_works_as_password_text(onvif: Onvif) -> None:
    camera = ONVIFCamera("127.0.0.1", onvif.port, LOGIN, PASSWORD, encrypt=False, no_cache=True)
    try:
        device = await camera.create_devicemgmt_service()
        assert (await device.GetHostname()).Name.startswith("netcam-")
    finally:
        await camera.close()


@pytest.mark.parametrize("password", ["wrong", PASSWORD])  # PASSWORD is not the digest one
async def test_a_wrong_digest_is_not_authorized(onvif: Onvif, password: str) -> None:
    async with client(onvif.port, LOGIN, password) as camera:
        device = await camera.create_devicemgmt_service()
        # The clock is open to all; everything else needs the owner's credentials.
        assert (await device.GetSystemDateAndTime()).UTCDateTime.Date.Year >= 2026
        with pytest.raises((Fault, ONVIFError), match="not authorized"):
            await device.GetDeviceInformation()


async def test_another_account_cannot_use_the_camera(onvif: Onvif) -> None:
    bob = await onvif.store.add_account("bob", PASSWORD)
    secret = onvif_password(load_key(onvif.part.settings.data_dir), bob)
    async with client(onvif.port, "bob", secret) as camera:
        device = await camera.create_devicemgmt_service()
        with pytest.raises((Fault, ONVIFError), match="not authorized"):
            await device.GetDeviceInformation()


async def test_a_camera_paired_later_gets_its_device(onvif: Onvif) -> None:
    later = await onvif.store.upsert_camera(mac="94:10:3e:00:00:02", owner=LOGIN, name="Garden")
    assert later.id not in onvif.part.devices
    onvif.part.bus.publish(CameraOnline(later.id, LOGIN, "127.0.0.1"))
    async with asyncio.timeout(WITHIN):
        port = (await onvif.part.serving(later.id)).port
    assert port != onvif.port
    async with client(port, LOGIN, onvif.onvif_password) as camera:
        info = await (await camera.create_devicemgmt_service()).GetDeviceInformation()
        assert info.SerialNumber == "94103E000002"
    assert set(onvif.part.status()["devices"]) == {str(onvif.camera.id), str(later.id)}
