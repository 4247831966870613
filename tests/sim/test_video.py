"""The simulated camera's video: profiles, the shared pattern loop, options and commands."""

from __future__ import annotations

import asyncio

import pytest

from fakecloud.cli.main import build_parser
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.sim.video import LOOP_SECONDS, PROFILES, parse_p2p_host, pattern_loop
from tests.broker.conftest import OWNER, OWNER_PASSWORD, BrokerServer


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
