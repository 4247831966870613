"""The relay's session table: allocations, streams, endpoints, viewer slots and liveness.

Every session, stream and registered socket is reached from here; adding and removing them
keeps the indexes consistent. The table decides who holds a slot (the caps, one host's share of
a stream) and when a party has been silent too long, and publishes `ViewerStarted` /
`ViewerStopped` on the bus. It sends nothing itself (closing a TCP fallback connection aside).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Hashable, Iterable

from fakecloud.core.events import EventBus, ViewerStarted, ViewerStopped
from fakecloud.core.rates import TokenBucket
from fakecloud.net.sdnk import Address, Register
from fakecloud.relay.accounting import RelayAccounting
from fakecloud.relay.queues import Overflow
from fakecloud.relay.sessions import (
    Allocation,
    Endpoint,
    EndReason,
    MediaKind,
    RelayError,
    ReleaseReason,
    Role,
    Session,
    SessionEnded,
    Stream,
    datagram_host,
    media_ids,
)
from fakecloud.relay.sinks import Sink, Tap, TcpSink

log = logging.getLogger(__name__)


class SessionTable:
    def __init__(
        self,
        accounting: RelayAccounting,
        bus: EventBus,
        *,
        max_sessions: int,
        max_endpoints: int,
        max_viewers_per_stream: int,
        max_viewer_sockets_per_host: int,
        replies_per_second: float,
    ) -> None:
        self._accounting = accounting
        self._bus = bus
        self._max_sessions = max_sessions
        self._max_endpoints = max_endpoints
        self._max_viewers = max_viewers_per_stream
        self._max_per_host = max_viewer_sockets_per_host
        self._replies_per_second = replies_per_second
        self._numbers = itertools.count(1)
        self.sessions: dict[tuple[str, str, str | None], Session] = {}
        self.streams: dict[str, Stream] = {}  # by the camera's primary media id
        self.stream_by_id: dict[str, Stream] = {}  # by every id the camera answers to
        self.endpoints: dict[Hashable, Endpoint] = {}  # by UDP source address or TCP sink

    # --- sessions -----------------------------------------------------------------------------

    def allocate(
        self,
        camera_id: int,
        kind: MediaKind,
        viewer: str,
        relay: Address,
        now: float,
        *,
        camera_host: str | None,
        viewer_host: str | None,
        camera_aliases: Iterable[str],
        viewer_aliases: Iterable[str],
        requires_viewer_id: bool,
        on_end: SessionEnded | None,
    ) -> Allocation:
        """See `RelayPart.allocate`; `relay`: the address the offer names."""
        camera_ids = media_ids(kind, (str(camera_id), *camera_aliases))
        viewer_ids = media_ids(kind, (viewer, *viewer_aliases))
        camera_host = datagram_host(camera_host)
        viewer_host = datagram_host(viewer_host)
        existing = self.sessions.get((camera_ids[0], viewer_ids[0], viewer_host))
        if existing is not None:
            existing.last_activity = now
            existing.on_end = on_end or existing.on_end
            return existing.allocation
        if len(self.sessions) >= self._max_sessions:
            raise RelayError(f"relay is full ({self._max_sessions} sessions)")
        stream = self.streams.get(camera_ids[0])
        if stream is None:
            stream = Stream(camera_ids, camera_host, now)
            self.streams[camera_ids[0]] = stream
        elif camera_host is not None:
            stream.camera_host = camera_host
        for camera_media_id in camera_ids:
            # An alias another camera's stream already answers to stays that stream's.
            self.stream_by_id.setdefault(camera_media_id, stream)
        allocation = Allocation(
            number=next(self._numbers),
            camera_id=camera_id,
            kind=kind,
            viewer=viewer,
            camera_media_id=camera_ids[0],
            viewer_media_id=viewer_ids[0],
            host=relay.host,
            port=relay.port,
            viewer_host=viewer_host,
            camera_media_ids=camera_ids,
            viewer_media_ids=viewer_ids,
            requires_viewer_id=requires_viewer_id,
        )
        session = Session(allocation, stream, now, on_end)
        for viewer_media_id in viewer_ids:
            stream.sessions.setdefault((viewer_media_id, viewer_host), session)
        self.sessions[allocation.key] = session
        return allocation

    def session_of(self, allocation: Allocation) -> Session | None:
        session = self.sessions.get(allocation.key)
        return session if session is not None and session.allocation == allocation else None

    def add_tap(self, session: Session, max_queue: int, overflow: Overflow) -> Tap:
        tap = Tap(max_queue, overflow, lambda closed: self._forget_tap(session, closed))
        session.taps.add(tap)
        session.stream.taps.add(tap)
        return tap

    def _forget_tap(self, session: Session, tap: Tap) -> None:
        session.taps.discard(tap)
        session.stream.taps.discard(tap)

    def release(self, session: Session, reason: ReleaseReason) -> None:
        """End a session its owner (or the relay's shutdown) ended."""
        self._end(session, reason)

    def expire(self, session: Session, reason: EndReason) -> None:
        """End a session the relay decided to end; the owner's `on_end` hears it."""
        if not self._end(session, reason):
            return
        allocation = session.allocation
        self._accounting.record(f"session_{reason}", viewer=allocation.viewer)
        if session.on_end is not None:
            try:
                session.on_end(allocation, reason)
            except Exception:
                log.exception("the end of relay session %s was not taken", allocation.number)

    def _end(self, session: Session, reason: EndReason | ReleaseReason) -> bool:
        """Remove a session and what only it used; False when it had ended already."""
        allocation = session.allocation
        if self.sessions.pop(allocation.key, None) is None:
            return False
        stream = session.stream
        for viewer_media_id in allocation.viewer_media_ids:
            key = (viewer_media_id, allocation.viewer_host)
            if stream.sessions.get(key) is session:
                del stream.sessions[key]
        for tap in list(session.taps):
            tap.close()
        for endpoint in list(session.endpoints):
            self.drop_endpoint(endpoint)
        if not stream.sessions:
            for camera in list(stream.cameras.values()):
                self.drop_endpoint(camera)
            self.streams.pop(stream.camera_media_ids[0], None)
            for camera_media_id in stream.camera_media_ids:
                if self.stream_by_id.get(camera_media_id) is stream:
                    del self.stream_by_id[camera_media_id]
        if session.started:
            self._bus.publish(ViewerStopped(allocation.camera_id, allocation.viewer, reason))
        return True

    def viewer_proven(self, endpoint: Endpoint) -> None:
        """A viewer socket proved its address (or came over TCP): its session has started."""
        session = endpoint.session
        if session is not None and not session.started:
            session.started = True
            self._bus.publish(
                ViewerStarted(session.allocation.camera_id, session.allocation.viewer)
            )

    def end_silent(self, deadline: float) -> None:
        """End what has been silent since `deadline`: a camera whose sockets all went quiet, and
        a viewer session none of whose sockets sent anything (fakecloud's own taps have no
        sockets: theirs lives while the camera sends)."""
        for stream in list(self.streams.values()):
            if stream.last_activity < deadline:
                for camera in list(stream.cameras.values()):
                    self.drop_endpoint(camera)
        for session in list(self.sessions.values()):
            alive = session.last_activity
            if session.taps:
                alive = max(alive, session.stream.last_activity)
            if alive < deadline:
                self.expire(session, "idle")

    # --- endpoints ----------------------------------------------------------------------------

    def add_endpoint(
        self,
        register: Register,
        role: Role,
        session: Session,
        key: Hashable,
        public: Address,
        sink: Sink,
        now: float,
    ) -> Endpoint | str:
        """A newly registered socket, in its slot; or why there is no slot: the drop reason."""
        stream = session.stream
        if len(self.endpoints) >= self._max_endpoints:
            return "endpoint_limit"
        viewers = stream.viewers.setdefault(register.channel, set())
        if role == "viewer" and not self._room_for_viewer(stream, public.host):
            return "source_limit"
        if role == "viewer" and len(viewers) >= self._max_viewers:
            return "viewer_limit"
        endpoint = Endpoint(
            key=key,
            role=role,
            stream=stream,
            session=session if role == "viewer" else None,
            channel=register.channel,
            kind=register.kind,
            ids=register.ids,
            lan=register.lan,
            sink=sink,
            public=public,
            last_seen=now,
            replies=TokenBucket(self._replies_per_second, 2 * self._replies_per_second),
        )
        if role == "camera":
            previous = stream.cameras.get(register.channel)
            if previous is not None:
                # The camera re-registered from a new port (restart): the newest one wins.
                self.drop_endpoint(previous)
            stream.cameras[register.channel] = endpoint
        else:
            viewers.add(endpoint)
            session.endpoints.add(endpoint)
        self.endpoints[key] = endpoint
        return endpoint

    def make_viewer(self, endpoint: Endpoint, session: Session) -> None:
        """Move a socket taken for the camera into `session`'s viewer slots."""
        stream = endpoint.stream
        del stream.cameras[endpoint.channel]
        endpoint.role = "viewer"
        endpoint.session = session
        session.endpoints.add(endpoint)
        stream.viewers.setdefault(endpoint.channel, set()).add(endpoint)

    def _room_for_viewer(self, stream: Stream, host: str) -> bool:
        """Security consideration: one host gets at most its share of a stream's viewer sockets;
        when it is full, its oldest unproven socket (maybe a spoofed one) makes room."""
        same_host = [
            viewer
            for group in stream.viewers.values()
            for viewer in group
            if viewer.public.host == host
        ]
        if len(same_host) < self._max_per_host:
            return True
        unproven = [viewer for viewer in same_host if not viewer.proven]
        if not unproven:
            return False
        self.drop_endpoint(min(unproven, key=lambda viewer: viewer.last_seen))
        return True

    def remove_endpoint(self, endpoint: Endpoint) -> None:
        if self.endpoints.get(endpoint.key) is endpoint:
            del self.endpoints[endpoint.key]
        stream = endpoint.stream
        if endpoint.role == "camera":
            if stream.cameras.get(endpoint.channel) is endpoint:
                del stream.cameras[endpoint.channel]
        else:
            stream.viewers.get(endpoint.channel, set()).discard(endpoint)
            if endpoint.session is not None:
                endpoint.session.endpoints.discard(endpoint)

    def drop_endpoint(self, endpoint: Endpoint) -> None:
        """Remove an endpoint for good: its TCP connection, if any, closes with it."""
        self.remove_endpoint(endpoint)
        if isinstance(endpoint.sink, TcpSink):
            endpoint.sink.close()

    def camera_streams(self, camera_id: int) -> list[dict[str, object]]:
        """What the relay carries for one camera now, for its page: each stream's kind, the
        camera's sockets (address, UDP or TCP), its sessions and viewers."""
        found: list[dict[str, object]] = []
        for stream in self.streams.values():
            sessions = stream.distinct_sessions()
            if not any(session.allocation.camera_id == camera_id for session in sessions):
                continue
            viewers = sum(len(group) for group in stream.viewers.values()) + len(stream.taps)
            found.append(
                {
                    "kind": sessions[0].allocation.kind,
                    "camera": sorted(
                        f"{camera.public.host}:{camera.public.port} "
                        + ("TCP" if isinstance(camera.sink, TcpSink) else "UDP")
                        for camera in stream.cameras.values()
                    ),
                    "sessions": len(sessions),
                    "viewers": viewers,
                }
            )
        return found

    def status(self) -> dict[str, int]:
        sockets = [v for s in self.streams.values() for group in s.viewers.values() for v in group]
        taps = sum(len(s.taps) for s in self.streams.values())
        return {
            "streams": len(self.streams),
            "sessions": len(self.sessions),
            "cameras": sum(len(s.cameras) for s in self.streams.values()),
            "viewers": len(sockets) + taps,
            "unproven_viewers": sum(not viewer.proven for viewer in sockets),
            "taps": taps,
        }
