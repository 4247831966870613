"""fakecloud as a viewer, and the relay offer for the phone app's viewers.

`CameraViewer` gives the media hub its demand/release callbacks: the first local viewer of a
camera makes fakecloud ask the camera for video through the broker (as the app did) and read the
camera's datagrams from a relay tap; the hub's linger after the last viewer makes it send the stop
command. `RelayOffers` is the broker's command interceptor for real apps: it answers their video
and audio requests with the relay's address and lets the command through to the camera.

What the camera is sent, and why, is in docs/viewer.md (the camera's side is [U] in PROTOCOL.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from fakecloud.broker import Broker, BrokerError, CameraOfflineError, Session
from fakecloud.core.recording import Recorder
from fakecloud.media.depacketizer import Depacketizer
from fakecloud.media.hub import MediaHub
from fakecloud.net.commands import Command, format_command
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.wframe import p2p_key_bytes
from fakecloud.relay import Allocation, RelayError, RelayPart, Tap
from fakecloud.relay.part import MediaKind

log = logging.getLogger(__name__)

# The name fakecloud gives itself as a viewer: the first argument of its commands and its SDNK
# id (`V_fakecloud`) at the relay.
VIEWER_ID = "fakecloud"
# `require-video-send|<id>|8|` asks for plain video, `|9|` for AES (PROTOCOL.md section 3).
AES_MODE = "9"
COMMAND_TIMEOUT = 10.0
STOP_TIMEOUT = 2.0
# How often a quiet stream lets the depacketizer give up on lost packets.
POLL_INTERVAL = 0.1


@dataclass(frozen=True, slots=True)
class _MediaRequest:
    kind: MediaKind
    offer_action: Action
    accept_command: str


MEDIA_REQUESTS = {
    "require-video-send": _MediaRequest("video", Action.VIDEOMID, "accept-video-receive"),
    "require-audio-send": _MediaRequest("audio", Action.CHATMID, "accept-audio-receive"),
}
MEDIA_STOPS: dict[str, MediaKind] = {
    "stop-video-receive": "video",
    "stop-audio-receive": "audio",
}


@dataclass(eq=False)
class _Stream:
    """fakecloud's video session with one camera, for one broker session of that camera."""

    session: Session
    allocation: Allocation
    tap: Tap
    depacketizer: Depacketizer
    frames: int = 0
    pump: asyncio.Task[None] | None = field(default=None, repr=False)


class CameraViewer:
    """A `Part` (name "viewer"): asks cameras for video while local viewers want it, and offers
    the relay to apps (`RelayOffers`).

    Start it after the hub, the relay and the broker: it attaches itself to them.
    """

    name = "viewer"

    def __init__(
        self,
        broker: Broker,
        relay: RelayPart,
        hub: MediaHub,
        recorder: Recorder | None = None,
        *,
        viewer_id: str = VIEWER_ID,
        command_timeout: float = COMMAND_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._broker = broker
        self._relay = relay
        self._hub = hub
        self._recorder = recorder
        self._viewer_id = viewer_id
        self._command_timeout = command_timeout
        self._poll_interval = poll_interval
        self._streams: dict[int, _Stream] = {}
        # One demand or release at a time per camera (hub callbacks run as concurrent tasks).
        self._locks: dict[int, asyncio.Lock] = {}
        self._problems: dict[int, str] = {}
        self.offers = RelayOffers(relay)
        self.counters = {"requests": 0, "stops": 0, "frames": 0, "failures": 0}

    # -- Part -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._hub.demand = self._demand
        self._hub.release = self._release
        self._broker.presence_listeners.append(self._presence_changed)
        self._broker.command_interceptors.append(self.offers)

    async def stop(self) -> None:
        """Detach, and tell every streaming camera to stop (the broker still runs)."""
        self._hub.demand = self._hub.release = None
        with contextlib.suppress(ValueError):
            self._broker.presence_listeners.remove(self._presence_changed)
        with contextlib.suppress(ValueError):
            self._broker.command_interceptors.remove(self.offers)
        streams = list(self._streams.items())
        self._streams.clear()
        for _, stream in streams:
            self._close(stream)
        await asyncio.gather(
            *(self._tell_stop(camera_id, stream, STOP_TIMEOUT) for camera_id, stream in streams)
        )

    def status(self) -> dict[str, Any]:
        return {
            "viewer_id": self._viewer_id,
            "streams": {
                str(camera_id): {"frames": stream.frames, **stream.depacketizer.status()}
                for camera_id, stream in self._streams.items()
            },
            "app_offers": self.offers.status(),
            **self.counters,
        }

    # -- hub callbacks ----------------------------------------------------------------------

    async def _demand(self, camera_id: int) -> None:
        async with self._lock(camera_id):
            session = self._broker.camera_session(camera_id)
            current = self._streams.get(camera_id)
            if current is not None:
                if current.session is session and not current.tap.closed:
                    return  # already streaming to us
                self._discard(camera_id, current)
            if session is None or session.camera is None:
                log.info("camera %s is offline; its video is asked for when it logs in", camera_id)
                return
            try:
                stream = self._open(camera_id, session)
            except (RelayError, ValueError) as error:
                self._problem(camera_id, f"no relay session: {error}")
                return
            self._streams[camera_id] = stream
            self.counters["requests"] += 1
            command = format_command("require-video-send", self._viewer_id, AES_MODE)
            try:
                reply = await self._broker.send_command(
                    camera_id, command, timeout=self._command_timeout
                )
            except CameraOfflineError:
                self._discard(camera_id, stream)  # the presence listener asks again on login
                return
            except BrokerError as error:
                # What a NetCam answers is [U]; its video may come all the same.
                log.debug("camera %s: %s; waiting for video anyway", camera_id, error)
                return
            if reply.action == Action.ERROR:
                # Shown as sent: the form of a camera's refusal is [U].
                answer = " ".join(reply.body.decode("utf-8", "replace").split())[:200]
                self._problem(camera_id, f"refused to send video: {answer}")

    async def _release(self, camera_id: int) -> None:
        async with self._lock(camera_id):
            stream = self._streams.pop(camera_id, None)
            if stream is None:
                return
            self._close(stream)
            await self._tell_stop(camera_id, stream, self._command_timeout)

    # -- broker presence --------------------------------------------------------------------

    def _presence_changed(self, camera_id: int, online: bool) -> None:
        """A stream belongs to one broker session of its camera: any login or logout ends it,
        and a login while viewers remain asks the camera again."""
        stream = self._streams.get(camera_id)
        if stream is not None:
            self._discard(camera_id, stream)
        if online and self._hub.redemand(camera_id):
            log.info("camera %s logged in while wanted; asking it for video", camera_id)

    # -- streams ----------------------------------------------------------------------------

    def _lock(self, camera_id: int) -> asyncio.Lock:
        return self._locks.setdefault(camera_id, asyncio.Lock())

    def _open(self, camera_id: int, session: Session) -> _Stream:
        allocation = self._relay.allocate(
            camera_id, "video", self._viewer_id, camera_host=session.peer_host
        )
        tap = self._relay.open_tap(allocation)
        key = p2p_key_bytes(session.camera.p2p_key)
        if key is None:
            log.warning("camera %s has no usable p2pKey; expecting unencrypted video", camera_id)
        depacketizer = Depacketizer(key, recorder=self._recorder)
        stream = _Stream(session, allocation, tap, depacketizer)
        stream.pump = asyncio.get_running_loop().create_task(
            self._pump(camera_id, stream), name=f"viewer-{camera_id}"
        )
        return stream

    def _close(self, stream: _Stream) -> None:
        """Stop reading and end the relay session; safe to call twice."""
        if stream.pump is not None:
            stream.pump.cancel()
        self._relay.release(stream.allocation)

    def _discard(self, camera_id: int, stream: _Stream) -> None:
        """Drop a stream without telling the camera (it is gone, or asked again right after)."""
        if self._streams.get(camera_id) is stream:
            del self._streams[camera_id]
        self._close(stream)

    async def _tell_stop(self, camera_id: int, stream: _Stream, within: float) -> None:
        if self._broker.camera_session(camera_id) is not stream.session:
            return  # that session ended: the camera has nothing to stop
        self.counters["stops"] += 1
        command = format_command("stop-video-receive", self._viewer_id)
        try:
            await self._broker.send_command(camera_id, command, timeout=within)
        except BrokerError as error:
            log.debug("camera %s did not confirm the stop: %s", camera_id, error)

    async def _pump(self, camera_id: int, stream: _Stream) -> None:
        """Tap datagrams → depacketizer → hub, until the relay session ends."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    async with asyncio.timeout(self._poll_interval):
                        datagram = await anext(stream.tap)
                except TimeoutError:
                    frames = stream.depacketizer.poll(loop.time())
                else:
                    frames = stream.depacketizer.feed(datagram, loop.time())
                for frame in frames:
                    if not stream.frames:
                        log.info("camera %s: video is arriving (%s)", camera_id, frame.codec)
                        self._problems.pop(camera_id, None)
                    stream.frames += 1
                    self.counters["frames"] += 1
                    self._hub.publish(camera_id, frame)
        except StopAsyncIteration:
            pass
        if self._streams.get(camera_id) is stream:
            # Not ended by us: the relay timed the session out (the camera sent nothing).
            del self._streams[camera_id]
            self._problem(camera_id, "sent no video to the relay; asking again")
            self._hub.redemand(camera_id)

    def _problem(self, camera_id: int, message: str) -> None:
        """Log a camera's problem once, not on every retry."""
        self.counters["failures"] += 1
        if self._problems.get(camera_id) != message:
            self._problems[camera_id] = message
            log.warning("camera %s: %s", camera_id, message)


class RelayOffers:
    """Broker command interceptor: the relay's offer for an app's video or audio request.

    The app gets the offer both ways (PROTOCOL.md section 3: an action-438/436 frame whose
    properties block is `rtp://<announce>:<relay port>`, and a 411 whose body starts
    `accept-video-receive|`/`accept-audio-receive|` with the same properties block); the command
    itself still goes on to the camera, whose answer the broker routes back to the app.
    """

    def __init__(self, relay: RelayPart) -> None:
        self._relay = relay
        self._allocations: dict[tuple[int, MediaKind, str], Allocation] = {}
        self.counters = {"offers": 0, "releases": 0, "failures": 0}

    async def __call__(
        self, asker: Session, frame: Frame, command: Command, target: Session
    ) -> bool:
        login = asker.login
        if target.camera is None or not login:
            return False
        request = MEDIA_REQUESTS.get(command.name)
        if request is not None:
            self._offer(asker, login, target, request)
        elif command.name in MEDIA_STOPS:
            key = (target.camera.id, MEDIA_STOPS[command.name], login)
            allocation = self._allocations.pop(key, None)
            if allocation is not None:
                self._relay.release(allocation)
                self.counters["releases"] += 1
        return False  # the camera must hear it too

    def _offer(self, asker: Session, login: str, target: Session, request: _MediaRequest) -> None:
        camera_id = target.camera.id
        # R-style apps REGISTER as `V_<the alias their login reply gave them>`: the login.
        try:
            allocation = self._relay.allocate(
                camera_id, request.kind, login, camera_host=target.peer_host
            )
        except (RelayError, ValueError) as error:
            self.counters["failures"] += 1
            log.warning("no relay offer for %s: %s", asker.describe(), error)
            return
        self._allocations[(camera_id, request.kind, login)] = allocation
        self.counters["offers"] += 1
        offer = allocation.offer_url.encode("ascii")
        asker.send(asker.frame(request.offer_action, options=offer, body=b"", to=0))
        accept = format_command(request.accept_command, str(camera_id)).encode()
        asker.send(asker.frame(Action.COMMAND, options=offer, body=accept, to=0))

    def status(self) -> dict[str, Any]:
        return {"sessions": len(self._allocations), **self.counters}
