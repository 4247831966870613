"""A simulated NetCam: logs in the way we believe a NetCam does, keeps alive, answers commands
and streams a test pattern while someone asked it for video.

The camera's real login is unknown (docs/protocol.md section 3, [U]); this is the hypothesis the
broker is built around, written down in CAMERA_LOGIN_KEYS and docs/broker.md. Its video side is
in fakecloud/sim/video.py and docs/viewer.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from typing import Any

from fakecloud.media.frames import MediaFrame
from fakecloud.net.commands import (
    Command,
    CommandError,
    format_command,
    parse_command,
    parse_plus_fields,
)
from fakecloud.net.cxnet import Action, CXNetError, Frame
from fakecloud.net.properties import (
    Properties,
    PropertiesError,
    encode_properties,
    java_timestamp,
    parse_properties,
)
from fakecloud.net.wframe import p2p_key_bytes
from fakecloud.sim import CxnetLink
from fakecloud.sim.video import (
    DEFAULT_PROFILE,
    PROFILES,
    VideoError,
    VideoSender,
    parse_p2p_host,
    pattern_loop,
)

log = logging.getLogger(__name__)

# The properties the simulator logs in with (our hypothesis of the NetCam's login).
CAMERA_LOGIN_KEYS = ("CX_UNAME", "CX_PASSWD", "mac", "alias", "firmware", "client_type", "lport")
SIM_FIRMWARE = "2.4.8.5-sim"
NETCAM_LPORT = 9490
# 2013 NetCam frames carry service 121/122, crypto 0 and version 3.
NETCAM_FRAME = Frame(action=0, version=3, service=121, crypto=0)
# Where the camera finds its media key in the login reply (our hypothesis, docs/viewer.md).
P2P_KEY_PROPERTY = "p2p-key"
RECENT_COMMANDS = 64


class LoginRefused(Exception):
    """The broker answered a login with an error frame; retrying will not help."""


class SimulatedCamera:
    """One simulated camera; many can run in one event loop (no thread per camera)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        login: str | None,
        password: str | None,
        mac: str,
        alias: str | None = None,
        keepalive_interval: float = 30.0,
        tls: bool = False,
        first_backoff: float = 0.5,
        max_backoff: float = 30.0,
        connect_timeout: float = 10.0,
        video: bool = True,
        profile: str = DEFAULT_PROFILE,
        p2p_key: bytes | None = None,
        relay_host: str | None = None,
        identity_secret: str | None = None,
    ) -> None:
        """`p2p_key` overrides the key the login reply gives (None: use the reply's, or send
        unencrypted video when it has none). `relay_host` replaces the host of the reply's
        p2p-host: cameras on the server's own machine must reach the relay from the address
        they logged in from, which the relay checks. `identity_secret` is sent as
        `device-secret` (a guess at how a real camera proves itself, docs/broker.md Pairing)."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
        self.host = host
        self.port = port
        self.login = login
        self.password = password
        self.mac = mac
        self.alias = alias or "oc9:" + mac.replace(":", "")
        self.keepalive_interval = keepalive_interval
        self.tls = tls
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.connect_timeout = connect_timeout
        self.video = video
        self.profile = PROFILES[profile]
        self.p2p_key = p2p_key
        self.relay_host = relay_host
        self.identity_secret = identity_secret
        self.logged_in = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.camera_id: int | None = None
        self.settings: dict[str, str] = {}
        self.commands_answered = 0
        self.login_count = 0
        self.last_login_seconds: float | None = None
        self.welcome = Properties()  # the latest login reply
        self.received_commands: deque[Command] = deque(maxlen=RECENT_COMMANDS)
        self.received_correlations: deque[str] = deque(maxlen=RECENT_COMMANDS)  # in step
        self.video_requests = 0
        # Set while video is going out to the relay, and while it is not.
        self.video_running = asyncio.Event()
        self.video_idle = asyncio.Event()
        self.video_idle.set()
        self._link: CxnetLink | None = None
        self._session = NETCAM_FRAME.session
        self._viewers: set[str] = set()
        self._video_task: asyncio.Task[None] | None = None
        self.video_sender: VideoSender | None = None  # the latest stream (tests read its clock)
        # The moving test-pattern loop while the picture shows motion (show_motion), else None.
        self.motion_frames: tuple[MediaFrame, ...] | None = None
        self._stop_requested = asyncio.Event()

    def __repr__(self) -> str:
        return f"SimulatedCamera({self.mac})"

    async def run(self, max_attempts: int | None = None) -> None:
        """Stay connected until stop(); reconnect with capped exponential backoff and jitter."""
        backoff = self.first_backoff
        attempts = 0
        while not self._stop_requested.is_set() and (
            max_attempts is None or attempts < max_attempts
        ):
            attempts += 1
            try:
                await self._connect_once()
                backoff = self.first_backoff
            except LoginRefused:
                raise
            except (OSError, TimeoutError, CXNetError, PropertiesError) as error:
                log.debug("%s: connection failed: %s", self.mac, error)
            finally:
                self.logged_in.clear()
                self.disconnected.set()
            if max_attempts is not None and attempts >= max_attempts:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff * random.uniform(0.5, 1.0)):
                    await self._stop_requested.wait()
            backoff = min(backoff * 2, self.max_backoff)

    def stop(self) -> None:
        self._stop_requested.set()
        self.drop_connection()

    def drop_connection(self) -> None:
        """Cut the broker connection as a network failure would; run() reconnects."""
        if self._link is not None:
            self._link.abort()

    async def show_motion(self, moving: bool) -> None:
        """Show (or stop showing) motion in the picture from the next keyframe on: a big block
        that moves, for server-side motion detection to see."""
        loop = await asyncio.to_thread(pattern_loop, self.profile, True) if moving else None
        self.motion_frames = loop

    async def report_motion(self) -> None:
        """Report motion; simulator vocabulary `motion-event|<id>|MOTION_MJPEG|`."""
        body = format_command("motion-event", str(self.camera_id), "MOTION_MJPEG")
        await self._send(Action.COMMAND, options=self._stamped({}), body=body.encode())

    # -- one connection ---------------------------------------------------------------------------

    async def _connect_once(self) -> None:
        link = await CxnetLink.open(
            self.host, self.port, tls=self.tls, connect_timeout=self.connect_timeout
        )
        self._link = link
        try:
            started = time.perf_counter()
            await link.send(self._login_frame())
            async with asyncio.timeout(self.connect_timeout):
                reply = await link.receive()
            if reply.action == Action.ERROR:
                raise LoginRefused(parse_properties(reply.body).get("reason", "login refused"))
            self.last_login_seconds = time.perf_counter() - started
            self.welcome = parse_properties(reply.body)
            self._session = reply.session
            device_id = self.welcome.get("device-id", "")
            self.camera_id = int(device_id) if device_id.isdigit() else None
            self.login_count += 1
            self.disconnected.clear()
            self.logged_in.set()
            keepalive = asyncio.create_task(self._keepalive_loop())
            try:
                await self._serve(link)
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive
                # Video belongs to this connection's requests.
                self._viewers.clear()
                await self._stop_video()
        finally:
            self._link = None
            await link.close()

    def _login_frame(self) -> Frame:
        properties: dict[str, str] = {}
        if self.login is not None and self.password is not None:
            properties |= {"CX_UNAME": self.login, "CX_PASSWD": self.password}
        if self.identity_secret is not None:
            properties["device-secret"] = self.identity_secret
        properties |= {
            "mac": self.mac,
            "alias": self.alias,
            "firmware": SIM_FIRMWARE,
            "client_type": "netcam-sim",
            "lport": str(NETCAM_LPORT),
        }
        return Frame(
            action=Action.LOGIN,
            version=NETCAM_FRAME.version,
            service=NETCAM_FRAME.service,
            crypto=NETCAM_FRAME.crypto,
            options=self._stamped(properties),
        )

    @staticmethod
    def _stamped(properties: dict[str, str]) -> bytes:
        # The 2013 NetCam frame starts its properties with a Java timestamp comment.
        return encode_properties(properties, comment=java_timestamp())

    async def _keepalive_loop(self) -> None:
        # A failed send ends only this loop; the reader sees the closed connection.
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                await asyncio.sleep(self.keepalive_interval)
                await self._send(Action.KEEPALIVE)

    async def _send(self, action: int, **fields: Any) -> None:
        if self._link is None:
            raise ConnectionError(f"{self.mac} is not connected")
        frame = Frame(
            action=action,
            session=self._session,
            version=NETCAM_FRAME.version,
            service=NETCAM_FRAME.service,
            crypto=NETCAM_FRAME.crypto,
            **fields,
        )
        await self._link.send(frame)

    async def _serve(self, link: CxnetLink) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                frame = await link.receive()
                if frame.action == Action.COMMAND:
                    await self._answer(frame)

    async def _answer(self, frame: Frame) -> None:
        try:
            correlation = parse_properties(frame.options).get("CorrelationID", "")
            command = parse_command(frame.body)
        except (PropertiesError, CommandError):
            return
        self.received_commands.append(command)
        self.received_correlations.append(correlation)
        if command.name == "modify-device" and len(command.args) > 1:
            self.settings.update(parse_plus_fields(command.args[1]))
        # Simulator vocabulary: `ack|<command>|<device id>|`, with the asker's CorrelationID.
        body = format_command("ack", command.name, str(self.camera_id))
        await self._send(
            Action.COMMAND,
            options=encode_properties({"CorrelationID": correlation}),
            body=body.encode(),
        )
        self.commands_answered += 1
        if self.video:
            await self._video_command(command)

    # -- video --------------------------------------------------------------------------------

    async def _video_command(self, command: Command) -> None:
        """One stream for every viewer named in `require-video-send|<viewer>|…`; it ends when the
        last of them sent `stop-video-receive|<viewer>|`."""
        viewer = command.args[0] if command.args else ""
        if command.name == "require-video-send":
            self.video_requests += 1
            self._viewers.add(viewer)
            # (Re)start: registering afresh also covers a relay that forgot the old stream.
            await self._stop_video()
            self._video_task = asyncio.create_task(self._send_video(viewer))
        elif command.name == "stop-video-receive":
            self._viewers.discard(viewer)
            if not self._viewers:
                await self._stop_video()

    async def _send_video(self, viewer: str) -> None:
        relay = parse_p2p_host(self.welcome.get("p2p-host"))
        if relay is None:
            log.warning("%s: the login reply named no relay (p2p-host); no video", self.mac)
            return
        if self.relay_host is not None:
            relay = (self.relay_host, relay[1])
        key = self.p2p_key or p2p_key_bytes(self.welcome.get(P2P_KEY_PROPERTY))
        ids = (f"V_{self.camera_id}", f"V_{viewer}")
        self.video_idle.clear()
        self.video_sender = VideoSender(
            relay, ids, self.profile, key, moving=lambda: self.motion_frames
        )
        try:
            await self.video_sender.run(self.video_running)
        except (VideoError, OSError) as error:
            log.warning("%s: video stopped: %s", self.mac, error)
        finally:
            self.video_running.clear()
            self.video_idle.set()

    async def _stop_video(self) -> None:
        task, self._video_task = self._video_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
