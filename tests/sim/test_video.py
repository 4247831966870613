"""The simulated camera's video: profiles, the shared pattern loop, options and commands."""

from __future__ import annotations

import asyncio

import pytest

from fakecloud.cli.main import build_parser
from fakecloud.core.config import Settings
from fakecloud.media.depacketizer import Depacketizer
from fakecloud.media.frames import MediaFrame
from fakecloud.net.sdnk import Register
from fakecloud.relay import RelayPart
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.video import (
    LOOP_SECONDS,
    PROFILES,
    VideoSender,
    parse_p2p_host,
    pattern_loop,
)
from tests.broker.conftest import OWNER, OWNER_PASSWORD, BrokerServer
from tests.relay.peers import UdpPeer

WITHIN = 15.0


def test_pattern_loop_is_whole_gops_encoded_once() -> None:
    profile = PROFILES["F7D7602"]
    frames = pattern_loop(profile)
    assert len(frames) == LOOP_SECONDS * profile.fps
    # One keyframe a second, the first one first: the loop can repeat and restart cleanly.
    assert [i for i, frame in enumerate(frames) if frame.keyframe] == list(
        range(0, len(frames), profile.fps)
    )
    assert pattern_loop(profile) is frames  # shared by every simulated camera


def test_the_first_netcam_sends_jpeg() -> None:
    frames = pattern_loop(PROFILES["F7D7601"])
    assert {frame.codec for frame in frames} == {"jpeg"}


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("192.168.1.5:6178:6178", ("192.168.1.5", 6178)),
        ("relay.example:5338", ("relay.example", 5338)),
        ("192.168.1.5:0:0", None),
        ("192.168.1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_relay_address_from_the_login_reply(
    text: str | None, address: tuple[str, int] | None
) -> None:
    assert parse_p2p_host(text) == address


def test_sim_camera_command_line_options() -> None:
    parse = build_parser().parse_args
    args = parse(["sim", "camera", "--server", "h:1", "--no-video", "--profile", "F7D7601"])
    assert (args.video, args.profile) == (False, "F7D7601")
    defaults = parse(["sim", "camera", "--server", "h:1"])
    assert (defaults.video, defaults.profile) == (True, "F7D7602")


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="F7D7601"):
        SimulatedCamera(
            "127.0.0.1", 1, login=None, password=None, mac="02:FC:00:00:00:01", profile="X"
        )


async def test_a_camera_without_video_only_acknowledges(served: BrokerServer) -> None:
    camera = SimulatedCamera(
        "127.0.0.1",
        served.port,
        login=OWNER,
        password=OWNER_PASSWORD,
        mac="02:FC:00:00:00:02",
        video=False,
    )
    task = asyncio.create_task(camera.run())
    await asyncio.wait_for(camera.logged_in.wait(), 5)
    assert camera.camera_id is not None
    reply = await served.broker.send_command(camera.camera_id, "require-video-send|fakecloud|9|")
    assert reply.body.startswith(b"ack|require-video-send|")
    assert camera.video_requests == 0 and camera.video_idle.is_set()
    camera.stop()
    await task


async def test_the_camera_streams_only_once_a_viewer_is_on_both_channels(
    settings: Settings,
) -> None:
    relay = RelayPart(settings)
    await relay.start()
    try:
        allocation = relay.allocate(7, "video", "alice", viewer_host="127.0.0.1")
        target = (allocation.host, allocation.port)
        sender = VideoSender(target, ("V_7", "V_fakecloud"), PROFILES["F7D7602"], None)
        streaming = asyncio.Event()
        task = asyncio.create_task(sender.run(streaming, viewer_wait=WITHIN))
        viewer = [await UdpPeer.bind(), await UdpPeer.bind()]
        ids = (allocation.viewer_media_id, allocation.camera_media_id)
        async with asyncio.timeout(WITHIN):
            while relay.status()["cameras"] < 2:  # noqa: ASYNC110 - the relay's own count
                await asyncio.sleep(0.01)
        viewer[0].send(Register(0, "V", viewer[0].address, ids).encode(), target)
        async with asyncio.timeout(WITHIN):
            await sender.channels[0].invited.wait()
        assert not streaming.is_set()  # one channel is not enough
        viewer[1].send(Register(1, "V", viewer[1].address, ids).encode(), target)
        async with asyncio.timeout(WITHIN):
            await streaming.wait()
        # The first datagram the viewer gets starts the pattern's first keyframe.
        depacketizer = Depacketizer(None)
        frames: list[MediaFrame] = []
        fed = 0
        async with asyncio.timeout(WITHIN):
            while not frames:
                for datagram in (await viewer[0].media_count(fed + 1))[fed:]:
                    frames += depacketizer.feed(datagram, 0.0)
                    fed += 1
        assert frames[0].keyframe and frames[0].timestamp == 0
        # When each counter went out (the loop repeats every LOOP_SECONDS): for delay figures.
        start = sender.streaming_since
        assert start is not None and sender.sent_at(0, start - 1) is None
        assert sender.sent_at(0, start) == start
        assert sender.sent_at(5, start + 1.0) == pytest.approx(start + 5 / 15)
        assert sender.sent_at(149, start + 10.5) == pytest.approx(start + 149 / 15)
        assert sender.sent_at(0, start + 10.5) == pytest.approx(start + LOOP_SECONDS)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await relay.stop()
