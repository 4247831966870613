"""The RTSP listener (a Part named "rtsp"): `rtsp://host:8554/<camera id or name>`.

Each TCP connection holds at most one session. PLAY subscribes to the media hub, which asks the
camera for video; the subscription lives as long as the session, so a camera that reconnects
goes on in the same session after a short pause (stream.py keeps the RTP numbering continuous).
RTP goes out interleaved on the connection or by UDP from one shared pair of server ports.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from fakecloud.frontdoor.part import describe_bind_error
from fakecloud.media.hub import HubFullError, MediaHub
from fakecloud.media.outputs.streaming import NoVideoError, StreamLimits, live_frames
from fakecloud.media.rtsp.access import RtspAccess
from fakecloud.media.rtsp.codec import RtspError, RtspReader, RtspRequest, build_response
from fakecloud.media.rtsp.connection import (
    RtspConnection,
    RtspLimits,
    UdpPorts,
    bind_udp_pair,
)
from fakecloud.media.rtsp.sdp import SdpError, Track, track_of

log = logging.getLogger(__name__)

DEFAULT_PORT = 8554
# Security consideration: each client holds a socket and, once playing, a hub subscription; the
# hub caps viewers per camera, this caps connections in all (beyond it new ones are closed).
MAX_CLIENTS = 64
READ_SIZE = 64 * 1024


class RtspPart:
    name = "rtsp"

    def __init__(
        self,
        host: str,
        port: int,
        hub: MediaHub,
        access: RtspAccess,
        *,
        video_timeout: float = 10.0,
        max_clients: int = MAX_CLIENTS,
        limits: RtspLimits | None = None,
    ):
        self.host = host
        self.port = port
        self.hub = hub
        self.access = access
        self.video_timeout = video_timeout
        self.max_clients = max_clients
        self.limits = limits or RtspLimits()
        self.counters: Counter[str] = Counter()
        self.failure: str | None = None
        self.udp: UdpPorts | None = None
        self._server: asyncio.Server | None = None
        self.connections: set[RtspConnection] = set()  # open ones, read by status and tests

    # -- Part -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; a port that cannot be bound is reported and the rest of fakecloud serves."""
        self.failure = None
        try:
            self._server = await asyncio.start_server(
                self._serve, self.host, self.port, limit=READ_SIZE
            )
        except OSError as error:
            self.failure = describe_bind_error(error, self.host)
            log.error(
                "RTSP is NOT running: cannot listen on %s port %d: %s. Everything else serves.",
                *(self.host, self.port, self.failure),
            )
            return
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            self.udp = await bind_udp_pair(self.host, self._heard_rtcp)
        except OSError as error:  # TCP interleaving still works; SETUP refuses UDP
            log.warning("RTSP over UDP is off: no pair of UDP ports on %s: %s", self.host, error)
        log.info("RTSP on rtsp://%s:%d/<camera id or name>", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            await connection.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self.udp is not None:
            self.udp.close()
            self.udp = None

    def status(self) -> dict[str, Any]:
        return {
            "listening": self._server is not None,
            "address": f"{self.host}:{self.port}",
            "error": self.failure,
            "udp_ports": list(self.udp.ports) if self.udp else None,
            "clients": len(self.connections),
            "playing": sum(1 for c in self.connections if c.session and c.session.playing),
            "counters": dict(self.counters),
        }

    # -- connections ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.connections) >= self.max_clients:
            self.counters["refused_full"] += 1
            writer.close()
            return
        connection = RtspConnection(writer, self.udp, self.counters, self.limits)
        self.connections.add(connection)
        self.counters["connections"] += 1
        messages = RtspReader()
        try:
            while not writer.is_closing():
                if (patience := connection.patience) <= 0:
                    self.counters["idle_closed"] += 1
                    break
                try:
                    async with asyncio.timeout(patience):
                        data = await reader.read(READ_SIZE)
                except TimeoutError:
                    continue  # RTCP by UDP may have been heard meanwhile
                if not data:
                    break
                try:
                    for message in messages.feed(data):
                        connection.heard()
                        if isinstance(message, RtspRequest):
                            await self._answer(connection, message)
                except RtspError as error:  # the byte stream is lost: answer, then close
                    self.counters["bad_requests"] += 1
                    writer.write(build_response("0", error.status))
                    break
        except ConnectionError:
            pass
        finally:
            self.connections.discard(connection)
            await connection.close()

    def _heard_rtcp(self, address: tuple[str, int]) -> None:
        """A UDP client's receiver report keeps its session alive (RFC 2326 §12.37)."""
        for connection in self.connections:
            if connection.sends_to(address):
                connection.heard()

    async def _answer(self, connection: RtspConnection, request: RtspRequest) -> None:
        # Security consideration: only known names become counters, so they stay few.
        known = request.method in RtspConnection.METHODS
        self.counters[f"requests_{request.method.lower() if known else 'other'}"] += 1
        try:
            status, headers, body = await self._handle(connection, request)
        except RtspError as error:
            status, headers, body = error.status, {}, b""
            if error.status == 401:
                self.counters["unauthorized"] += 1
                headers["WWW-Authenticate"] = self.access.challenge(error)
            elif error.status == 405:
                headers["Allow"] = ", ".join(RtspConnection.METHODS)
            log.debug("RTSP %s %s: %s", request.method, request.uri[:200], error)
        connection.write(build_response(request.cseq, status, headers, body))

    async def _handle(
        self, connection: RtspConnection, request: RtspRequest
    ) -> tuple[int, dict[str, str], bytes]:
        method = request.method
        if method == "OPTIONS":
            return 200, {"Public": ", ".join(connection.METHODS)}, b""
        if method in ("DESCRIBE", "SETUP"):
            viewer = await self.access.viewer(
                request.header("Authorization"), connection.client, method
            )
            camera_id = await self.access.camera_id(request.uri, viewer)
            track = await self._track(connection, camera_id)
            if method == "DESCRIBE":
                return connection.describe(request, camera_id, track)
            return connection.setup(request, camera_id, track)
        if method == "PLAY":
            return connection.play(request, self.hub)
        if method == "TEARDOWN":
            return await connection.teardown(request)
        if method == "GET_PARAMETER":  # the keepalive players send
            return connection.keepalive(request)
        raise RtspError(405, f"{method[:20]} is not offered")

    async def _track(self, connection: RtspConnection, camera_id: int) -> Track:
        """The camera's track as described to this client (SETUP reuses DESCRIBE's), else from
        its latest keyframe; waits for the camera's first frame when it is not streaming."""
        if (known := connection.tracks.get(camera_id)) is not None:
            return known
        pictures = self.hub.latest_pictures(camera_id)
        if pictures:
            keyframe = pictures[0]
        else:
            frames = live_frames(
                self.hub, camera_id, StreamLimits(video_timeout=self.video_timeout)
            )
            try:
                keyframe = await anext(frames)
            except NoVideoError as error:
                raise RtspError(504, str(error)) from None
            except HubFullError as error:
                raise RtspError(503, str(error)) from None
            finally:
                await frames.aclose()
        try:
            track = track_of(keyframe.codec, keyframe.data)
        except SdpError as error:
            raise RtspError(502, str(error)) from None  # the camera's video lacks them
        connection.tracks[camera_id] = track
        return track
