"""Who may watch over RTSP (and HTTP Basic): an NVR that added a camera by ONVIF reuses the
ONVIF credentials for the stream and the snapshot, so they work there too. The real ffprobe
reads RTSP with them and httpx fetches the snapshot; a wrong or unkeyed password is refused."""

from __future__ import annotations

import base64
import secrets

import httpx
import pytest

from fakecloud.core.config import Settings
from fakecloud.media.rtsp.digest import DigestAnswer
from fakecloud.onvif.auth import load_key, onvif_password
from tests.media.outputs.conftest import run_client
from tests.media.rtsp.test_server import probe, rtsp_exchange, rtsp_url, untrusted_cloud
from tests.media.test_viewer_e2e import OWNER, WITHIN, counter_in, online, running_cloud


def basic(login: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()


async def test_the_onvif_password_opens_rtsp_and_the_snapshot(settings: Settings) -> None:
    async with untrusted_cloud(settings) as cloud, online(cloud.camera(5)) as camera:
        camera_id = camera.camera_id
        assert camera_id is not None
        account = await cloud.runtime.services.store.get_account(OWNER)
        assert account is not None
        port = cloud.runtime.part("rtsp").port  # type: ignore[union-attr]
        url = rtsp_url(cloud, camera_id)
        snapshot = cloud.url(f"/api/cameras/{camera_id}/snapshot.jpg")

        async def answers(secret: str) -> tuple[str, int]:
            header = basic(OWNER, secret)
            (rtsp,) = await rtsp_exchange(
                port, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: {header}\r\n\r\n"
            )
            async with httpx.AsyncClient(timeout=WITHIN) as client:
                http = await client.get(snapshot, headers={"Authorization": header})
            return rtsp.partition("\r\n")[0], http.status_code

        # No key in the data folder yet (ONVIF off, no password printed): nothing to match.
        unkeyed = onvif_password(secrets.token_bytes(32), account)
        assert await answers(unkeyed) == ("RTSP/1.0 401 Unauthorized", 401)

        # The key made as `fakecloud onvif password` (or ONVIF enabled) makes it.
        password = onvif_password(load_key(settings.data_dir), account)
        stream = await probe(rtsp_url(cloud, camera_id, f"{OWNER}:{password}@"), "tcp")
        assert stream["codec_name"] == "h264"
        async with httpx.AsyncClient(timeout=WITHIN) as client:
            picture = await client.get(snapshot, auth=(OWNER, password))
        assert picture.status_code == 200 and counter_in(picture.content) >= 0

        assert await answers(password[:-1] + ("A" if password[-1] != "A" else "B")) == (
            "RTSP/1.0 401 Unauthorized",
            401,
        )
        assert await answers(unkeyed) == ("RTSP/1.0 401 Unauthorized", 401)


async def gstreamer_reads(url: str, login: str, secret: str, transport: str) -> None:
    """GStreamer's RTSP client logs in and depayloads 30 H.264 buffers (exit 0 on EOS)."""
    _, errors = await run_client(
        "gst-launch-1.0", "rtspsrc", f"location={url}", f"user-id={login}", f"user-pw={secret}",
        f"protocols={transport}", "!", "rtph264depay", "!", "fakesink", "num-buffers=30",
        within=WITHIN * 2,
    )  # fmt: skip
    assert "Unauthorized" not in errors


async def test_digest_with_the_onvif_password_when_offered(settings: Settings) -> None:
    """FAKECLOUD_RTSP_DIGEST: the real ffprobe and GStreamer answer the Digest challenge (over
    TCP and UDP) with the ONVIF password; Basic sent unasked still works; a wrong secret is
    refused."""
    async with (
        running_cloud(settings, trusted_networks=["192.0.2.0/24"], rtsp_digest=True) as cloud,
        online(cloud.camera(6)) as camera,
    ):
        camera_id = camera.camera_id
        assert camera_id is not None
        store = cloud.runtime.services.store
        account = await store.get_account(OWNER)
        assert account is not None
        password = onvif_password(load_key(settings.data_dir), account)
        port = cloud.runtime.part("rtsp").port  # type: ignore[union-attr]
        url = rtsp_url(cloud, camera_id)
        (refused,) = await rtsp_exchange(port, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\n\r\n")
        assert 'WWW-Authenticate: Digest realm="fakecloud", nonce="' in refused
        for transport in ("tcp", "udp"):
            stream = await probe(rtsp_url(cloud, camera_id, f"{OWNER}:{password}@"), transport)
            assert stream["codec_name"] == "h264"
            # A second Digest client of its own making: GStreamer's rtspsrc.
            await gstreamer_reads(url, OWNER, password, transport)
        token = (await store.issue_token(OWNER)).partition(".accessToken:")[2]
        (unasked,) = await rtsp_exchange(
            port,
            f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\nAuthorization: {basic(OWNER, token)}\r\n\r\n",
        )
        assert unasked.startswith("RTSP/1.0 200 OK")
        nonce = refused.partition('nonce="')[2].partition('"')[0]
        wrong = DigestAnswer(OWNER, "fakecloud", nonce, url, "0" * 32)
        header = (
            f'Digest username="{wrong.username}", realm="{wrong.realm}", '
            f'nonce="{wrong.nonce}", uri="{wrong.uri}", response="{wrong.response}"'
        )
        (denied,) = await rtsp_exchange(
            port, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 4\r\nAuthorization: {header}\r\n\r\n"
        )
        assert denied.startswith("RTSP/1.0 401 Unauthorized")
        with pytest.raises(AssertionError, match="401"):  # ffmpeg signs a token: not checkable
            await probe(rtsp_url(cloud, camera_id, f"{OWNER}:{token}@"), "tcp")
