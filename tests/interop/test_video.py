"""Video the way the public clients get it: punch through fakecloud's relay, then a quiet media
socket with RTCP on the control socket, decrypting the simulated camera's H.264 (decoded with
PyAV to prove they are real pictures), for seconds and for five minutes."""

from __future__ import annotations

import asyncio
import time

import pytest

from fakecloud.sim.camera import SimulatedCamera
from tests.interop.clients import KEEPALIVE_SECONDS
from tests.interop.conftest import WITHIN, Cloud
from tests.interop.media import RTCP_SECONDS, KStream, RStream, Stream
from tests.interop.pictures import Pictures
from tests.interop.wire import Action
from tests.media.test_viewer_e2e import online

HD = (1280, 720)
LONG_SESSION = 300.0  # seconds
LONGEST_GAP = 2.0


async def r_stream(cloud: Cloud, pictures: Pictures) -> RStream:
    session = await cloud.r_login()
    (camera,) = await cloud.api().list_cameras()
    stream = RStream(session, camera, pictures)
    await stream.start()
    return stream


async def k_stream(cloud: Cloud, pictures: Pictures) -> KStream:
    session = await cloud.k_login()
    (camera,) = session.cameras()
    stream = KStream(session, camera, pictures)
    await stream.start()
    return stream


async def released(camera: SimulatedCamera) -> None:
    """The camera stops sending once the client's stop (or BYE) reached it."""
    async with asyncio.timeout(WITHIN):
        await camera.video_idle.wait()


@pytest.mark.parametrize("style", ["R", "K"])
async def test_video_through_the_relay_decodes_to_hd_pictures(cloud: Cloud, style: str) -> None:
    pictures = Pictures()
    async with online(cloud.camera(10 if style == "R" else 11)) as camera:
        start = r_stream if style == "R" else k_stream
        stream: Stream = await start(cloud, pictures)
        try:
            await pictures.until(30)
            assert pictures.sizes == {HD}
            assert stream.video.decrypt_failures == 0
            assert stream.quiet_since_ready() == 0, f"answering {stream.sdnk_received}"
        finally:
            await stream.stop()
            await stream.signalling.close()
        await released(camera)


async def test_r_gets_both_offer_forms_in_the_order_it_reads_them(cloud: Cloud) -> None:
    pictures = Pictures()
    async with online(cloud.camera(12)):
        stream = await r_stream(cloud, pictures)
        try:
            assert stream.relay is not None
            assert stream.audio_offer is not None, "the 436 answer to require-audio-send"
        finally:
            await stream.stop()
            await stream.signalling.close()


@pytest.mark.slow
@pytest.mark.timeout(LONG_SESSION + 120)
async def test_a_five_minute_session_keeps_its_pictures_coming(cloud: Cloud) -> None:
    """R's viewer: nothing on the media socket after the punch, RTCP every 2 s on the
    control socket, keepalive every 20 s; pictures never pause for more than 2 s."""
    pictures = Pictures()
    async with online(cloud.camera(13)) as camera:
        stream = await r_stream(cloud, pictures)
        try:
            await pictures.until(1)
            started = time.monotonic()
            while time.monotonic() < started + LONG_SESSION:
                # Every next picture within 2 s, for five minutes (TimeoutError otherwise).
                await pictures.until(len(pictures.times) + 1, within=LONGEST_GAP)
            ended = time.monotonic()
            assert pictures.longest_gap(ended) <= LONGEST_GAP
            assert pictures.sizes == {HD} and stream.video.decrypt_failures == 0
            assert stream.quiet_since_ready() == 0
            assert stream.rtcp_sent >= LONG_SESSION / RTCP_SECONDS - 2
            answers = [f for f in stream.signalling.link.received if f.action == Action.KEEPALIVE]
            assert len(answers) >= LONG_SESSION // KEEPALIVE_SECONDS - 1, "keepalives answered"
        finally:
            await stream.stop()
            await stream.signalling.close()
        await released(camera)
