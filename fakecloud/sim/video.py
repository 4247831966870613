"""The simulated camera's video: a test-pattern loop sent to the relay the way we believe a
NetCam sends it (docs/protocol.md section 4; the camera's side of the rendezvous is [U]).

The camera REGISTERs two UDP sockets at the relay (channel 0 media, channel 1 control) with the
ids `V_<its device id>` and `V_<the viewer named in require-video-send>`, as the relay tests'
camera does, waits for PEERS and acknowledges. Like a real camera it then waits until a viewer
is there on BOTH channels (R's notes: the camera waits for REQ_CONN_INFO + REQ_PUNCH on both),
which the relay signals by punching each channel once someone watches there; only then does it
send packetized frames to the relay in real time, starting with a keyframe, so the first
keyframe is never lost. It does not punch back: the relay forwards whatever a registered
endpoint sends.

Encoding is done once per profile (a `LOOP_SECONDS` loop of frames shared by every simulated
camera in the process), so many cameras cost only packetizing and AES.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
import threading
from collections.abc import Callable
from typing import Any, cast

from fakecloud.media.frames import Codec, MediaFrame
from fakecloud.media.packetizer import Packetizer
from fakecloud.media.testpattern import TestPattern
from fakecloud.net.sdnk import (
    Address,
    Peers,
    Punch,
    Register,
    RelayAck,
    SdnkError,
    decode,
    is_sdnk,
)

# The counter shown in the picture runs 0 … LOOP_SECONDS × fps − 1, then starts again.
LOOP_SECONDS = 10
REGISTER_ATTEMPTS = 10
REGISTER_RETRY = 0.5  # seconds between REGISTERs the relay has not answered
# While no viewer is there, the camera registers again this often (the relay then punches it as
# soon as a viewer is there, even if it forgot the camera meanwhile), for this long at most.
WAITING_REGISTER_INTERVAL = 1.0
VIEWER_WAIT = 120.0
CHANNELS = (0, 1)  # media, control (both must be registered: docs/protocol.md section 4)
MEDIA_CHANNEL = 0
VIDEO_KIND = "V"


@dataclasses.dataclass(frozen=True, slots=True)
class VideoProfile:
    """What one camera model streams."""

    model: str
    codec: Codec
    width: int
    height: int
    fps: int


PROFILES = {
    profile.model: profile
    for profile in (
        VideoProfile("F7D7602", "h264", 1280, 720, 15),  # NetCam HD: H.264 up to 1280x720 [C]
        VideoProfile("F7D7601", "jpeg", 640, 480, 15),  # the first NetCam: JPEG frames [C]
    )
}
DEFAULT_PROFILE = "F7D7602"

_loops: dict[tuple[VideoProfile, bool], tuple[MediaFrame, ...]] = {}
_loops_lock = threading.Lock()


def pattern_loop(profile: VideoProfile, motion: bool = False) -> tuple[MediaFrame, ...]:
    """The profile's looped frames, encoded on first use (blocking: call it in a thread);
    `motion` is the loop with the test pattern's moving block.

    The loop is whole GOPs (a keyframe every second), so it can repeat and restart anywhere a
    GOP starts, and the still and moving loops can take turns at any keyframe."""
    with _loops_lock:
        frames = _loops.get((profile, motion))
        if frames is None:
            pattern = TestPattern(
                profile.codec, profile.width, profile.height, profile.fps, motion=motion
            )
            frames = tuple(pattern.frames(LOOP_SECONDS * profile.fps))
            _loops[profile, motion] = frames
        return frames


def parse_p2p_host(text: str | None) -> tuple[str, int] | None:
    """The relay's UDP address from a login reply's `p2p-host=<host>:<udp>:<tcp>`."""
    host, _, ports = (text or "").partition(":")
    udp = ports.partition(":")[0]
    if not host or not udp.isdigit() or not 0 < int(udp) < 65536:
        return None
    return host, int(udp)


class VideoError(Exception):
    """The stream could not start (the relay did not answer)."""


class _Channel(asyncio.DatagramProtocol):
    """One of the camera's two UDP sockets; notes the relay's PEERS answer and the punch that
    says a viewer is there, ignores the rest (RTCP reports and talkback from viewers)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.peered = asyncio.Event()
        self.invited = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if not is_sdnk(data):
            return
        try:
            packet = decode(data)
        except SdnkError:
            return
        if isinstance(packet, Peers):
            self.peered.set()
        elif isinstance(packet, Punch):
            self.invited.set()

    def send(self, datagram: bytes) -> None:
        if self.transport is not None:
            self.transport.sendto(datagram)

    @property
    def lan(self) -> Address:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return Address(host, port)


def _peered(channel: _Channel) -> asyncio.Event:
    return channel.peered


def _invited(channel: _Channel) -> asyncio.Event:
    return channel.invited


class VideoSender:
    """One stream to the relay; `run()` sends until cancelled, then closes its sockets."""

    def __init__(
        self,
        relay: tuple[str, int],
        ids: tuple[str, str],
        profile: VideoProfile,
        p2p_key: bytes | None,
        moving: Callable[[], tuple[MediaFrame, ...] | None] = lambda: None,
    ) -> None:
        """`moving()` is asked at each keyframe: a loop (`pattern_loop(profile, True)`) is sent
        from there on instead of the still one, None goes back to the still loop."""
        self.relay = relay
        self.moving = moving
        self.ids = ids
        self.profile = profile
        # A fresh SSRC and sequence per stream, as RTP senders do (RFC 3550).
        self._packetizer = Packetizer(
            p2p_key, ssrc=random.getrandbits(32), first_sequence=random.getrandbits(16)
        )
        self.channels: list[_Channel] = []
        # Loop time frame 0 went out, and the loop's length: when each counter was sent.
        self.streaming_since: float | None = None
        self._loop_frames = 1

    async def run(self, started: asyncio.Event, viewer_wait: float = VIEWER_WAIT) -> None:
        """Register, wait for a viewer on both channels, set `started`, then stream; VideoError
        when the relay never answers or no viewer came within `viewer_wait` seconds."""
        frames = await asyncio.to_thread(pattern_loop, self.profile)
        loop = asyncio.get_running_loop()
        try:
            for _ in CHANNELS:
                _, channel = await loop.create_datagram_endpoint(_Channel, remote_addr=self.relay)
                self.channels.append(channel)
            await self._register()
            await self._await_viewer(viewer_wait)
            started.set()
            await self._stream(frames)
        finally:
            for channel in self.channels:
                if channel.transport is not None:
                    channel.transport.close()

    def _register_unless(self, done: Callable[[_Channel], asyncio.Event]) -> None:
        """REGISTER each channel whose `done` event (PEERS, or a viewer's punch) is not set."""
        for number, channel in zip(CHANNELS, self.channels, strict=True):
            if not done(channel).is_set():
                channel.send(Register(number, VIDEO_KIND, channel.lan, self.ids).encode())

    async def _all_set(self, done: Callable[[_Channel], asyncio.Event], within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                for channel in self.channels:
                    await done(channel).wait()
        except TimeoutError:
            return False
        return True

    async def _register(self) -> None:
        for _ in range(REGISTER_ATTEMPTS):
            self._register_unless(_peered)
            if await self._all_set(_peered, REGISTER_RETRY):
                for number, channel in zip(CHANNELS, self.channels, strict=True):
                    channel.send(RelayAck(number, VIDEO_KIND, self.ids).encode())
                return
        raise VideoError(f"the relay at {self.relay[0]}:{self.relay[1]} did not answer REGISTER")

    async def _await_viewer(self, viewer_wait: float) -> None:
        for _ in range(max(1, round(viewer_wait / WAITING_REGISTER_INTERVAL))):
            if await self._all_set(_invited, WAITING_REGISTER_INTERVAL):
                return
            self._register_unless(_invited)
        raise VideoError(f"no viewer was on both channels within {viewer_wait:g} s")

    def sent_at(self, counter: int, before: float) -> float | None:
        """The loop time the latest frame showing `counter` went out, at or before the loop time
        `before` (the counter repeats every loop); None before streaming began."""
        if self.streaming_since is None or before < self.streaming_since:
            return None
        latest = int((before - self.streaming_since) * self.profile.fps)
        index = latest - (latest - counter) % self._loop_frames
        return None if index < 0 else self.streaming_since + index / self.profile.fps

    async def _stream(self, still: tuple[MediaFrame, ...]) -> None:
        media = self.channels[MEDIA_CHANNEL]
        fps = self.profile.fps
        loop = asyncio.get_running_loop()
        start = self.streaming_since = loop.time()
        self._loop_frames = len(still)
        frames = still
        for index in itertools.count():
            if still[index % len(still)].keyframe:  # both loops have their keyframes here
                frames = self.moving() or still
            frame = dataclasses.replace(frames[index % len(frames)], timestamp=index / fps)
            for datagram in self._packetizer.packetize(frame):
                media.send(datagram)
            # Pacing a camera in real time (not synchronisation).
            await asyncio.sleep(max(0.0, start + (index + 1) / fps - loop.time()))
