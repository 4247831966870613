"""fakecloud as a viewer, and the relay offer for the phone app's viewers.

`CameraViewer` gives the media hub its demand/release callbacks: the first local viewer of a
camera makes fakecloud read the camera's datagrams from a relay tap and join the camera's
`Audience`; the hub's linger after the last local viewer makes it leave. `RelayOffers` is the
broker's command interceptor for real apps: it answers their video and audio requests with the
relay's address and makes each app's relay session a watcher too. `Audience` is the one place
that decides who watches camera X: it asks the camera for a stream when the first watcher comes
and tells it to stop when the last one has gone (a stop, an RTCP BYE, or a silent viewer).

What the camera is sent, and why, is in docs/viewer.md (the camera's side is [U] in
docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from fakecloud.broker import Broker, BrokerError, CameraOfflineError, Session
from fakecloud.broker.broker import new_correlation_id
from fakecloud.core.recording import Recorder
from fakecloud.media.depacketizer import Depacketizer
from fakecloud.media.hub import MediaHub
from fakecloud.net.commands import Command, format_command
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import PropertiesError, encode_properties, parse_properties
from fakecloud.net.wframe import p2p_key_bytes
from fakecloud.relay import Allocation, RelayError, RelayPart, Tap
from fakecloud.relay.part import EndReason, MediaKind

log = logging.getLogger(__name__)

# The name fakecloud gives itself as a viewer: the first argument of its commands and its SDNK
# id (`V_fakecloud`) at the relay.
VIEWER_ID = "fakecloud"
# `require-video-send|<id>|8|` asks for plain video, `|9|` for AES (docs/protocol.md section 3).
AES_MODE = "9"
COMMAND_TIMEOUT = 10.0
STOP_TIMEOUT = 2.0
# How often a quiet stream lets the depacketizer give up on lost packets.
POLL_INTERVAL = 0.1
# The watcher that stands for every local viewer of the hub.
LOCAL_VIEWER = "local"
# Require CorrelationIDs remembered for the stops that name them (oldest forgotten first).
MAX_TRACKED_REQUESTS = 4096


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
MEDIA_STARTS: dict[str, MediaKind] = {
    "start-video-receive": "video",
    "start-audio-receive": "audio",
}
# Every app command about a media stream: none of them reaches the camera (Audience does).
MEDIA_COMMAND_KINDS: dict[str, MediaKind] = {
    **{name: request.kind for name, request in MEDIA_REQUESTS.items()},
    **MEDIA_STARTS,
    **MEDIA_STOPS,
}
# What fakecloud sends the camera to start and to stop each kind of stream.
CAMERA_COMMANDS: dict[MediaKind, tuple[str, str]] = {
    "video": ("require-video-send", "stop-video-receive"),
    "audio": ("require-audio-send", "stop-audio-receive"),
}


@dataclass(eq=False)
class _Watched:
    """Who watches one camera stream, and the camera session fakecloud asked for it."""

    watchers: set[Hashable] = field(default_factory=set)
    asked_on: Session | None = None
    token: str = ""  # the audio session token of the latest request
    correlation: str = ""  # the latest request's CorrelationID, which its stop carries again
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


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
        viewer_id: str = VIEWER_ID,
        command_timeout: float = COMMAND_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._broker = broker
        self._relay = relay
        self._hub = hub
        self._recorder = recorder
        self._viewer_id = viewer_id
        self._poll_interval = poll_interval
        self._streams: dict[int, _Stream] = {}
        # One demand or release at a time per camera (hub callbacks run as concurrent tasks).
        self._locks: dict[int, asyncio.Lock] = {}
        self._problems: dict[int, str] = {}
        self.audience = Audience(broker, viewer_id, command_timeout, self._problem)
        self.offers = RelayOffers(relay, self.audience)
        self.counters = {"frames": 0, "failures": 0}

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
        for stream in self._streams.values():
            self._close(stream)
        self._streams.clear()
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
                self._discard(camera_id, current)
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
            stream = self._streams.pop(camera_id, None)
            if stream is not None:
                self._close(stream)
        await self.audience.unwatch(camera_id, "video", LOCAL_VIEWER)

    # -- broker presence --------------------------------------------------------------------

    def _presence_changed(self, camera_id: int, online: bool) -> None:
        """A stream belongs to one broker session of its camera: any login or logout ends it,
        and a login while viewers remain asks the camera again."""
        stream = self._streams.get(camera_id)
        if stream is not None:
            self._discard(camera_id, stream)
        self.audience.presence_changed(camera_id, online)
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
            self.audience.ask_again(camera_id, "video")
            self._hub.redemand(camera_id)

    def _problem(self, camera_id: int, message: str) -> None:
        """Log a camera's problem once, not on every retry."""
        self.counters["failures"] += 1
        if self._problems.get(camera_id) != message:
            self._problems[camera_id] = message
            log.warning("camera %s: %s", camera_id, message)


class Audience:
    """Who watches each camera stream, and the one place that tells cameras to start and stop.

    Watchers are fakecloud's own viewer (`LOCAL_VIEWER`, while the hub has local viewers) and
    each app's relay session (its `Allocation`). fakecloud is the camera's only viewer: the first
    watcher makes it send the camera `require-*-send|<viewer id>|…`; the last one leaving makes
    it send `stop-*-receive|<viewer id>|…`. Nobody else's start or stop reaches the camera, so
    one app leaving never stops a stream that fakecloud or another app still watches.
    """

    def __init__(
        self,
        broker: Broker,
        viewer_id: str,
        command_timeout: float,
        report: Callable[[int, str], None],
    ) -> None:
        self._broker = broker
        self._viewer_id = viewer_id
        self._command_timeout = command_timeout
        self._report = report
        self._streams: dict[tuple[int, MediaKind], _Watched] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters = {"requests": 0, "stops": 0}

    def watch(self, camera_id: int, kind: MediaKind, watcher: Hashable) -> asyncio.Task[None]:
        """Add a watcher; the returned task asks the camera if it is not streaming yet."""
        self._watched(camera_id, kind).watchers.add(watcher)
        return self._reconcile_soon(camera_id, kind)

    def unwatch(self, camera_id: int, kind: MediaKind, watcher: Hashable) -> asyncio.Task[None]:
        """Remove a watcher; the returned task stops the camera if nobody is left."""
        self._watched(camera_id, kind).watchers.discard(watcher)
        return self._reconcile_soon(camera_id, kind)

    def ask_again(self, camera_id: int, kind: MediaKind) -> None:
        """The stream was lost although the camera was asked: ask it again on the next watch."""
        self._watched(camera_id, kind).asked_on = None

    def presence_changed(self, camera_id: int, online: bool) -> None:
        """A camera session began or ended: what it was asked belongs to the old session."""
        for (watched_camera, kind), watched in self._streams.items():
            if watched_camera == camera_id:
                watched.asked_on = None
                if online and watched.watchers:
                    self._reconcile_soon(camera_id, kind)

    def watchers(self, camera_id: int, kind: MediaKind) -> int:
        watched = self._streams.get((camera_id, kind))
        return len(watched.watchers) if watched is not None else 0

    async def close(self, within: float) -> None:
        """Forget pending work and tell every camera still asked to stop (the broker runs)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        asked = [(key, watched) for key, watched in self._streams.items() if watched.asked_on]
        self._streams.clear()
        await asyncio.gather(
            *(self._stop(camera_id, kind, watched, within) for (camera_id, kind), watched in asked)
        )

    def status(self) -> dict[str, int]:
        return {
            f"{camera_id}/{kind}": len(watched.watchers)
            for (camera_id, kind), watched in self._streams.items()
            if watched.watchers
        }

    def _watched(self, camera_id: int, kind: MediaKind) -> _Watched:
        return self._streams.setdefault((camera_id, kind), _Watched())

    def _reconcile_soon(self, camera_id: int, kind: MediaKind) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(
            self._reconcile(camera_id, kind), name=f"audience-{camera_id}-{kind}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _reconcile(self, camera_id: int, kind: MediaKind) -> None:
        """Bring the camera in line with its watchers: asked on its current session while
        anyone watches, told to stop once nobody does."""
        watched = self._watched(camera_id, kind)
        async with watched.lock:
            session = self._broker.camera_session(camera_id)
            if session is not None and session.camera is None:
                session = None
            if watched.watchers and session is not None and watched.asked_on is not session:
                await self._ask(camera_id, kind, watched, session)
            elif not watched.watchers and watched.asked_on is not None:
                await self._stop(camera_id, kind, watched, self._command_timeout)

    async def _ask(
        self, camera_id: int, kind: MediaKind, watched: _Watched, session: Session
    ) -> None:
        watched.asked_on = session
        watched.token = f"{self._viewer_id}:{int(time.time() * 1000)}"
        watched.correlation = new_correlation_id()
        self.counters["requests"] += 1
        try:
            reply = await self._broker.send_command(
                camera_id,
                self._command(kind, watched, start=True),
                timeout=self._command_timeout,
                correlation=watched.correlation,
            )
        except CameraOfflineError:
            watched.asked_on = None  # the presence listener asks again on its next login
            return
        except BrokerError as error:
            # What a NetCam answers is [U]; its media may come all the same.
            log.debug("camera %s: %s; waiting for %s anyway", camera_id, error, kind)
            return
        if reply.action == Action.ERROR:
            # Shown as sent: the form of a camera's refusal is [U].
            answer = " ".join(reply.body.decode("utf-8", "replace").split())[:200]
            self._report(camera_id, f"refused to send {kind}: {answer}")

    async def _stop(
        self, camera_id: int, kind: MediaKind, watched: _Watched, within: float
    ) -> None:
        asked, watched.asked_on = watched.asked_on, None
        if asked is None or self._broker.camera_session(camera_id) is not asked:
            return  # that session ended: the camera has nothing to stop
        self.counters["stops"] += 1
        try:
            await self._broker.send_command(
                camera_id,
                self._command(kind, watched, start=False),
                timeout=within,
                correlation=watched.correlation,
            )
        except BrokerError as error:
            log.debug("camera %s did not confirm the stop: %s", camera_id, error)

    def _command(self, kind: MediaKind, watched: _Watched, *, start: bool) -> str:
        # Audio names a session token too, as both public clients write it (`<id>:<ms>`).
        name = CAMERA_COMMANDS[kind][0 if start else 1]
        session = (watched.token,) if kind == "audio" else ()
        mode = (AES_MODE,) if start else ()
        return format_command(name, self._viewer_id, *session, *mode)


class RelayOffers:
    """Broker command interceptor: the relay's offer for an app's video or audio request.

    The app gets the offer both ways (docs/protocol.md section 3: an action-438/436 frame whose
    properties block is `rtp://<announce>:<relay port>`, and a 411 whose body starts
    `accept-video-receive|`/`accept-audio-receive|` with the same properties block). The app's
    require/start/stop commands do not reach the camera: they change who watches (`Audience`),
    which tells the camera. Each is answered `ack|<command>|<camera id>|` with the app's
    CorrelationID, as the simulated camera answers (no public client waits for an answer).
    """

    def __init__(self, relay: RelayPart, audience: Audience) -> None:
        self._relay = relay
        self._audience = audience
        # The app connections watching through each relay session (one account's apps that
        # register with the same id share one).
        self._watchers: dict[Allocation, set[Session]] = {}
        # The CorrelationID of each require: the stop that carries it names that session.
        self._requests: OrderedDict[str, tuple[Allocation, Session]] = OrderedDict()
        self.counters = {"offers": 0, "releases": 0, "byes": 0, "idle": 0, "failures": 0}

    async def __call__(
        self, asker: Session, frame: Frame, command: Command, target: Session
    ) -> bool:
        kind = MEDIA_COMMAND_KINDS.get(command.name)
        if target.camera is None or not asker.login or kind is None:
            return False
        try:
            correlation = parse_properties(frame.options).get("CorrelationID")
        except PropertiesError:
            correlation = None
        request = MEDIA_REQUESTS.get(command.name)
        if request is not None:
            self._offer(asker, target, request, correlation)
        elif command.name in MEDIA_STOPS:
            self._stop(asker, target.camera.id, kind, correlation)
        # start-*-receive changes nothing: the camera was asked when the first watcher came.
        options = encode_properties({"CorrelationID": correlation}) if correlation else b""
        body = format_command("ack", command.name, str(target.camera.id)).encode()
        asker.send(asker.frame(Action.COMMAND, options=options, body=body, to=0))
        return True

    def _offer(
        self, asker: Session, target: Session, request: _MediaRequest, correlation: str | None
    ) -> None:
        camera = target.camera
        login = asker.login or ""
        # R registers as `V_<the alias its login reply gave it>` (the account alias) and names
        # the camera by its alias; K names the camera id twice.
        own = asker.account_alias or login
        try:
            allocation = self._relay.allocate(
                camera.id,
                request.kind,
                own,
                camera_host=target.peer_host,
                # Security consideration: only the app's own host may register for its session.
                viewer_host=asker.peer_host,
                camera_aliases=[alias for alias in (camera.alias, camera.reported_alias) if alias],
                viewer_aliases=[login],
                on_end=self._ended,
            )
        except (RelayError, ValueError) as error:
            self.counters["failures"] += 1
            log.warning("no relay offer for %s: %s", asker.describe(), error)
            return
        askers = self._watchers.setdefault(allocation, set())
        first = not askers
        askers.add(asker)
        if correlation:
            self._requests[correlation] = (allocation, asker)
            while len(self._requests) > MAX_TRACKED_REQUESTS:
                self._requests.popitem(last=False)
        self.counters["offers"] += 1
        offer = allocation.offer_url.encode("ascii")
        asker.send(asker.frame(request.offer_action, options=offer, body=b"", to=0))
        accept = format_command(request.accept_command, str(camera.id)).encode()
        asker.send(asker.frame(Action.COMMAND, options=offer, body=accept, to=0))
        if first:
            self._audience.watch(camera.id, request.kind, allocation)

    def _stop(
        self, asker: Session, camera_id: int, kind: MediaKind, correlation: str | None
    ) -> None:
        """The stop names its session by the require's CorrelationID (K); R sends a fresh one,
        so otherwise it is this connection's own session on that stream."""
        allocation, leaving = self._requests.get(correlation or "", (None, asker))
        if allocation is None or (allocation.camera_id, allocation.kind) != (camera_id, kind):
            leaving = asker
            allocation = next(
                (
                    candidate
                    for candidate, askers in self._watchers.items()
                    if (candidate.camera_id, candidate.kind) == (camera_id, kind)
                    and asker in askers
                ),
                None,
            )
        askers = self._watchers.get(allocation) if allocation is not None else None
        if allocation is None or askers is None:
            return
        askers -= {leaving, asker}
        if not askers:
            self._relay.release(allocation)
            self.counters["releases"] += 1
            self._forget(allocation)

    def _ended(self, allocation: Allocation, reason: EndReason) -> None:
        """The relay ended a session by itself: an RTCP BYE, or its viewer fell silent."""
        if allocation in self._watchers:
            self.counters["byes" if reason == "bye" else "idle"] += 1
            self._forget(allocation)

    def _forget(self, allocation: Allocation) -> None:
        self._watchers.pop(allocation, None)
        for correlation in [c for c, (a, _) in self._requests.items() if a == allocation]:
            del self._requests[correlation]
        self._audience.unwatch(allocation.camera_id, allocation.kind, allocation)

    def status(self) -> dict[str, Any]:
        return {"sessions": len(self._watchers), **self.counters}
