"""fakecloud as a viewer: the Part that ties the media hub to the cameras' relay streams.

`CameraViewer` gives the media hub its demand/release callbacks: the first local viewer of a
camera makes fakecloud read the camera's datagrams from a relay tap and join the camera's
`Audience` (fakecloud/media/audience.py); the hub's linger after the last local viewer makes it
leave. It hears cameras come and go on the event bus, answers apps' media requests through
`RelayOffers` (fakecloud/media/offers.py), and is the one place that publishes `StreamStarted`
and `StreamStopped`.

What the camera is sent, and why, is in docs/viewer.md.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from fakecloud.broker import Broker, Session
from fakecloud.core.events import (
    CameraEvent,
    CameraOffline,
    CameraOnline,
    EventBus,
    StreamStarted,
    StreamStopped,
    consume,
)
from fakecloud.core.recording import Recorder
from fakecloud.media.audience import Audience
from fakecloud.media.depacketizer import Depacketizer
from fakecloud.media.hub import MediaHub
from fakecloud.media.offers import RelayOffers
from fakecloud.net.wframe import p2p_key_bytes
from fakecloud.relay import Allocation, RelayError, RelayPart, Tap

log = logging.getLogger(__name__)

# The name fakecloud gives itself as a viewer: the first argument of its commands and its SDNK
# id (`V_fakecloud`) at the relay.
VIEWER_ID = "fakecloud"
COMMAND_TIMEOUT = 10.0
STOP_TIMEOUT = 2.0
# How often a quiet stream lets the depacketizer give up on lost packets.
POLL_INTERVAL = 0.1
# The watcher that stands for every local viewer of the hub.
LOCAL_VIEWER = "local"
# Presence events waiting for the viewer: room for a whole site's cameras logging in at once (a
# dropped CameraOnline would leave a watched camera unasked until its next login).
PRESENCE_QUEUE = 4096


@dataclass(eq=False)
class _Stream:
    """fakecloud's video session with one camera, for one broker session of that camera."""

    session: Session
    allocation: Allocation
    tap: Tap
    depacketizer: Depacketizer
    frames: int = 0
    ended: bool = False
    pump: asyncio.Task[None] | None = field(default=None, repr=False)


class CameraViewer:
    """A `Part` (name "viewer"): reads a camera's video from the relay while local viewers want
    it, offers the relay to apps (`RelayOffers`), and keeps the `Audience` of both.

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
        bus: EventBus | None = None,
        viewer_id: str = VIEWER_ID,
        command_timeout: float = COMMAND_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._broker = broker
        self._relay = relay
        self._hub = hub
        self._recorder = recorder
        self.bus = bus or EventBus()
        self._viewer_id = viewer_id
        self._poll_interval = poll_interval
        self._streams: dict[int, _Stream] = {}
        # One demand or release at a time per camera (hub callbacks run as concurrent tasks).
        self._locks: dict[int, asyncio.Lock] = {}
        self._problems: dict[int, str] = {}
        self._presence: asyncio.Task[None] | None = None
        self.audience = Audience(broker, viewer_id, command_timeout, self._problem)
        self.offers = RelayOffers(relay, self.audience)
        self.counters = {"frames": 0, "failures": 0}

    # -- Part -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._hub.demand = self._demand
        self._hub.release = self._release
        self._broker.offer_answerer = self.offers
        # Subscribed before the task runs, so no login between now and its first turn is missed.
        presence = self.bus.subscribe("viewer", CameraOnline, CameraOffline, limit=PRESENCE_QUEUE)
        self._presence = asyncio.get_running_loop().create_task(
            consume(presence, self._heard), name="viewer-presence"
        )

    async def stop(self) -> None:
        """Detach, and tell every streaming camera to stop (the broker still runs)."""
        self._hub.demand = self._hub.release = None
        if self._broker.offer_answerer is self.offers:
            self._broker.offer_answerer = None
        if self._presence is not None:
            self._presence.cancel()
            await asyncio.gather(self._presence, return_exceptions=True)
            self._presence = None
        for camera_id, stream in list(self._streams.items()):
            self._end(camera_id, stream, "fakecloud stopped")
        await self.audience.close(STOP_TIMEOUT)

    def status(self) -> dict[str, Any]:
        return {
            "viewer_id": self._viewer_id,
            "streams": {
                str(camera_id): {"frames": stream.frames, **stream.depacketizer.status()}
                for camera_id, stream in self._streams.items()
            },
            "app_offers": self.offers.status(),
            "watchers": self.audience.status(),
            **self.audience.counters,
            **self.counters,
        }

    # -- hub callbacks ----------------------------------------------------------------------

    async def _demand(self, camera_id: int) -> None:
        async with self._lock(camera_id):
            session = self._broker.camera_session(camera_id)
            current = self._streams.get(camera_id)
            if current is not None and (current.session is not session or current.tap.closed):
                ended = "the relay session ended" if current.tap.closed else "camera session ended"
                self._end(camera_id, current, ended)
                current = None
            if current is None:
                if session is None or session.camera is None:
                    log.info(
                        "camera %s is offline; its video is asked for when it logs in", camera_id
                    )
                else:
                    try:
                        self._streams[camera_id] = self._open(camera_id, session)
                    except (RelayError, ValueError) as error:
                        self._problem(camera_id, f"no relay session: {error}")
                        return
        # The tap is open before the camera is asked, so its first keyframe reaches the hub.
        await self.audience.watch(camera_id, "video", LOCAL_VIEWER)

    async def _release(self, camera_id: int) -> None:
        async with self._lock(camera_id):
            stream = self._streams.get(camera_id)
            if stream is not None:
                self._end(camera_id, stream, "released")
        await self.audience.unwatch(camera_id, "video", LOCAL_VIEWER)

    # -- broker presence (from the bus) -----------------------------------------------------

    async def _heard(self, event: CameraEvent) -> None:
        if isinstance(event, CameraOnline | CameraOffline):
            self._presence_changed(event.camera_id, isinstance(event, CameraOnline))

    def _presence_changed(self, camera_id: int, online: bool) -> None:
        """A stream belongs to one broker session of its camera: any login or logout ends it,
        and a login while viewers remain asks the camera again. Heard a moment late, so a stream
        already opened on the camera's current session stays."""
        stream = self._streams.get(camera_id)
        if stream is not None and stream.session is not self._broker.camera_session(camera_id):
            self._end(camera_id, stream, "camera logged in again" if online else "camera offline")
        self.audience.presence_changed(camera_id, online)
        if online and self._hub.redemand(camera_id):
            log.info("camera %s logged in while wanted; asking it for video", camera_id)

    # -- streams ----------------------------------------------------------------------------

    def _lock(self, camera_id: int) -> asyncio.Lock:
        return self._locks.setdefault(camera_id, asyncio.Lock())

    def _open(self, camera_id: int, session: Session) -> _Stream:
        assert session.camera is not None
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

    def _end(self, camera_id: int, stream: _Stream, reason: str) -> None:
        """The one place a stream ends: stop reading, end the relay session, and publish
        `StreamStopped` if it had started. The camera is not told (the audience decides that)."""
        if self._streams.get(camera_id) is stream:
            del self._streams[camera_id]
        if stream.ended:
            return
        stream.ended = True
        if stream.pump is not None and stream.pump is not asyncio.current_task():
            stream.pump.cancel()
        self._relay.release(stream.allocation)
        if stream.frames:
            self.bus.publish(StreamStopped(camera_id, reason))

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
                        self.bus.publish(StreamStarted(camera_id))
                    stream.frames += 1
                    self.counters["frames"] += 1
                    self._hub.publish(camera_id, frame)
        except StopAsyncIteration:
            pass
        if self._streams.get(camera_id) is stream:
            # Not ended by us: the relay timed the session out (the camera sent nothing).
            self._end(camera_id, stream, "the relay session timed out")
            self._problem(camera_id, "sent no video to the relay; asking again")
            self.audience.ask_again(camera_id, "video")
            self._hub.redemand(camera_id)

    def _problem(self, camera_id: int, message: str) -> None:
        """Log a camera's problem once, not on every retry."""
        self.counters["failures"] += 1
        if self._problems.get(camera_id) != message:
            self._problems[camera_id] = message
            log.warning("camera %s: %s", camera_id, message)
