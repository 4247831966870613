"""RelayOffers end to end: an app's media request answered with the relay's offer, and the video
it then reads from the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from fakecloud.media.depacketizer import Depacketizer
from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.pictures import H264Decoder
from fakecloud.media.testpattern import read_counter
from fakecloud.net.cxnet import Action, Frame
from fakecloud.sim.app import SimulatedApp
from tests.media.test_viewer_e2e import OWNER, PASSWORD, WITHIN, Cloud, cloud, online
from tests.relay.peers import r_viewer

__all__ = ["cloud"]  # the fixture


def media_frames(key: str, datagrams: list[bytes]) -> list[MediaFrame]:
    depacketizer = Depacketizer(key.encode("ascii"))
    return [frame for datagram in datagrams for frame in depacketizer.feed(datagram, 0.0)]


def offers(frames: Iterable[Frame], action: Action, accept_prefix: bytes) -> list[bytes]:
    """The relay addresses offered both ways: the 438/436 frame, then the 411 accept."""
    by_action = [frame.options for frame in frames if frame.action == action]
    accepts = [
        frame.options
        for frame in frames
        if frame.action == Action.COMMAND and frame.body.startswith(accept_prefix)
    ]
    return by_action + accepts


async def test_an_app_gets_the_relay_offer_and_the_cameras_video(cloud: Cloud) -> None:
    app = SimulatedApp("127.0.0.1", cloud.cloud_port, login=OWNER, password=PASSWORD)
    async with online(cloud.camera(4)) as camera:
        await app.login()
        try:
            [entry] = app.cameras
            alias = app.welcome["alias"]  # this session's own, as R names itself
            relay = (cloud.runtime.settings.announce_address, cloud.runtime.services.relay.port)
            offer_url = f"rtp://{relay[0]}:{relay[1]}".encode()

            answer = await app.command(entry.destination, f"require-video-send|{alias}|9|")
            # fakecloud answers the app; the camera is asked by fakecloud, its only viewer.
            assert answer.body == f"ack|require-video-send|{entry.device_id}|".encode()
            assert offers(app.other_frames, Action.VIDEOMID, b"accept-video-receive|") == [
                offer_url,
                offer_url,
            ]
            # The app, R-style, registers its own id first on both channels, and gets video.
            viewer = await r_viewer(relay, f"V_{alias}", f"V_{entry.device_id}")
            # 40 datagrams span more than two GOPs of the pattern: a whole keyframe is in there.
            frames = media_frames(entry.fields["AES"], await viewer[0].media_count(40, WITHIN))
            assert frames[0].keyframe  # the camera waited for both channels: nothing was lost
            picture = H264Decoder().decode(frames[0])
            assert picture is not None and (picture.width, picture.height) == (1280, 720)
            assert read_counter(picture.to_ndarray(format="gray")) == 0
            for sock in viewer:
                sock.close()

            app.other_frames.clear()
            await app.command(entry.destination, f"require-audio-send|{alias}|s1|9|")
            assert offers(app.other_frames, Action.CHATMID, b"accept-audio-receive|") == [
                offer_url,
                offer_url,
            ]
            assert cloud.relay_sessions == 2

            await app.command(entry.destination, f"stop-audio-receive|{alias}|s1|9|")
            await app.command(entry.destination, f"stop-video-receive|{alias}|")
            async with asyncio.timeout(WITHIN):
                await camera.video_idle.wait()
            assert cloud.relay_sessions == 0
            assert [(c.name, c.args[0]) for c in camera.received_commands] == [
                ("require-video-send", "fakecloud"),
                ("require-audio-send", "fakecloud"),
                ("stop-audio-receive", "fakecloud"),
                ("stop-video-receive", "fakecloud"),
            ]
        finally:
            await app.close()
