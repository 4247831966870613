"""The UDP media relay: SDNK rendezvous, forwarding and fan-out (docs/protocol.md section 4).

The broker allocates a session when a viewer asks for video; both ends then REGISTER here with
the session's ids. In "relay" peer mode (the default) the relay names itself as each end's peer,
answers PUNCH/CONNECT like a peer would and forwards media: camera → every viewer and tap,
viewer → camera (RTCP reports, talkback). In "direct" mode PEERS names the real counterpart so
the two ends can punch each other; whatever still arrives here is forwarded all the same.

Liveness is per party, not per socket: a viewer session lives while any of its sockets sends
(docs/protocol.md section 9: after the punch a viewer's media socket is quiet and only its control
socket sends RTCP), and ends at once on an RTCP BYE; the camera's sockets live while any of them
sends.

Who is served (docs/relay.md, "Who may watch"): a viewer socket may register only from the host
its app reached the broker from, and gets media only once it has echoed random CONNECT bytes the
relay sent it; until then the relay sends it no more bytes than it received (plus a small
allowance), so a spoofed source cannot aim anything large at a third party.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.core.rates import TokenBucket
from fakecloud.core.recording import Recorder
from fakecloud.net.rtp import is_bye
from fakecloud.net.sdnk import (
    ID_SIZE,
    Address,
    Connect,
    Connected,
    Peers,
    Punch,
    Register,
    RelayAck,
    SdnkError,
    SdnkPacket,
    decode,
    is_sdnk,
)
from fakecloud.relay.queues import Overflow
from fakecloud.relay.sinks import TCP_LENGTH, Sink, Tap, TcpSink, UdpSink

log = logging.getLogger(__name__)

MediaKind = Literal["video", "audio"]
PeerMode = Literal["relay", "direct"]
Role = Literal["camera", "viewer"]
# Why the relay ended a session by itself (the allocation's `on_end` hears it).
EndReason = Literal["bye", "idle"]
SessionEnded = Callable[["Allocation", EndReason], None]

_KIND_LETTER: dict[MediaKind, str] = {"video": "V", "audio": "A"}
# R's viewer starts its CONNECT counter at 7 and stops after 12; the camera is said to wait for
# those counters on both channels before it sends video [I, from R's comments].
FIRST_CONNECT_COUNTER = 7
LAST_CONNECT_COUNTER = 12
# K answers every PUNCH with three PUNCHes; capping our answers keeps that from ping-ponging.
MAX_PUNCH_REPLIES = 16
# A late PUNCH with sequence 2 follows the first CONNECT (what R's viewer does for the camera).
LATE_PUNCH_SEQUENCE = 2
RECORDED_BYTES = 256
KERNEL_PORT_ATTEMPTS = 8
# The channel a client's RTCP socket registers (K: the RTCP socket; R: the second channel).
CONTROL_CHANNEL = 1
CHANNELS = (0, CONTROL_CHANNEL)
# The relay plays the viewer's REQ_PUNCH towards the camera with R's two sequence numbers.
INVITE_SEQUENCES = (0, 1)
# A UDP viewer socket proves it receives at its source address by echoing this many random
# CONNECT bytes in a row (both public clients answer every CONNECT with CONNECTED echoing its byte).
PROOF_ROUNDS = 4
# Bytes an unproven socket may be sent beyond what it sent: PEERS (130) answers REGISTER (111).
UNPROVEN_ALLOWANCE = 32


def media_id(kind: MediaKind, name: str) -> str:
    """`V_<name>` (`A_` for audio) cut to the 32 bytes of an SDNK id, as both public clients cut
    it; ValueError for a name that cannot be an id (not ASCII, or with a NUL)."""
    value = f"{_KIND_LETTER[kind]}_{name}"
    if not value.isascii() or "\x00" in value:
        raise ValueError(f"{value!r} cannot be an SDNK id (ASCII without NUL)")
    # Security consideration: two names sharing their first 30 bytes share an id; ids only
    # pick sessions among one camera's viewers, which all belong to the camera's owner.
    return value[:ID_SIZE]


def _distinct(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _host(address: str | None) -> str | None:
    """An address as datagrams show it: an IPv4-mapped IPv6 peer (a dual-stack listener) is its
    IPv4 address, since SDNK is IPv4 only."""
    if address is None:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


class RelayError(RuntimeError):
    """An allocation or tap the relay cannot provide (full, or the session is gone)."""


@dataclass(frozen=True, slots=True)
class Allocation:
    """One viewer's session on one camera stream, as handed to the broker."""

    number: int
    camera_id: int
    kind: MediaKind
    viewer: str
    camera_media_id: str  # `V_<camera id>`: what the camera's REGISTER names (K: twice)
    viewer_media_id: str  # `V_<viewer>`: what an R-style viewer puts first in its REGISTER
    host: str
    port: int
    # The only host viewer sockets may register from (the app's broker address); None for
    # fakecloud's own tap, for which no socket may register.
    viewer_host: str | None
    # Every id the camera's stream answers to (`V_<id>`, `V_<alias>`: K sends the first, R the
    # second) and every id this viewer may register as (R: the alias its login reply gave it).
    camera_media_ids: tuple[str, ...]
    viewer_media_ids: tuple[str, ...]

    @property
    def offer_url(self) -> str:
        """The options block of the action-438 frame and of `accept-video-receive|`."""
        return f"rtp://{self.host}:{self.port}"


def _session_key(allocation: Allocation) -> tuple[str, str, str | None]:
    return (allocation.camera_media_id, allocation.viewer_media_id, allocation.viewer_host)


@dataclass(eq=False)
class _Endpoint:
    key: Hashable
    role: Role
    stream: _Stream
    session: _Session | None  # None for the camera
    channel: int
    kind: str
    ids: tuple[str, str]
    lan: Address
    sink: Sink
    public: Address
    last_seen: float
    replies: TokenBucket
    punches_answered: int = 0
    next_connect_counter: int = FIRST_CONNECT_COUNTER
    sent_late_punch: bool = False
    acknowledged: bool = False
    connected: bool = False
    # Security consideration: an unproven socket (a UDP viewer that has not echoed the relay's
    # challenges) gets no media and at most `credit` more bytes: it may be a spoofed source.
    proven: bool = True
    credit: int = 0
    challenge: int | None = None
    answered: list[int] = field(default_factory=list)

    @property
    def reply_ids(self) -> tuple[str, str]:
        return (self.ids[1], self.ids[0])


@dataclass(eq=False)
class _Session:
    allocation: Allocation
    stream: _Stream
    last_activity: float  # allocation, or the latest datagram from any of the viewer's sockets
    on_end: SessionEnded | None = None
    endpoints: set[_Endpoint] = field(default_factory=set)
    taps: set[Tap] = field(default_factory=set)


@dataclass(eq=False)
class _Stream:
    camera_media_ids: tuple[str, ...]
    camera_host: str | None
    last_activity: float  # the latest datagram from any of the camera's sockets
    # How the camera names itself: "mirrored" (own id, viewer id) or "repeated" (own id twice).
    camera_form: Literal["mirrored", "repeated"] | None = None
    # By (every viewer media id, the host its sockets must come from).
    sessions: dict[tuple[str, str | None], _Session] = field(default_factory=dict)
    cameras: dict[int, _Endpoint] = field(default_factory=dict)
    viewers: dict[int, set[_Endpoint]] = field(default_factory=dict)
    taps: set[Tap] = field(default_factory=set)

    def distinct_sessions(self) -> list[_Session]:
        return list({id(session): session for session in self.sessions.values()}.values())


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, relay: RelayPart) -> None:
        self._relay = relay

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._relay._on_udp(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" from a vanished viewer: that viewer times out on its own.
        self._relay._drops["icmp_error"] += 1


class RelayPart:
    """The media relay as a `Part`: UDP and TCP-fallback listeners on Settings.relay_port."""

    name = "relay"

    def __init__(
        self,
        settings: Settings,
        recorder: Recorder | None = None,
        *,
        peer_mode: PeerMode = "relay",
        inactivity_timeout: float = 30.0,
        max_datagram_bytes: int = 2048,
        max_sessions: int = 1024,
        max_endpoints: int = 4096,
        max_viewers_per_stream: int = 512,
        max_viewer_sockets_per_host: int = 16,
        max_tcp_connections: int = 256,
        viewer_queue_limit: int = 256,
        udp_buffer_limit: int = 1 << 20,
        replies_per_second: float = 20.0,
        records_per_second: float = 20.0,
        tcp_listener: bool = True,
    ) -> None:
        self._settings = settings
        self._recorder = recorder
        self._peer_mode = peer_mode
        self._inactivity_timeout = inactivity_timeout
        self._max_datagram = max_datagram_bytes
        self._max_sessions = max_sessions
        self._max_endpoints = max_endpoints
        self._max_viewers = max_viewers_per_stream
        self._max_per_host = max_viewer_sockets_per_host
        self._max_tcp = max_tcp_connections
        self._queue_limit = viewer_queue_limit
        self._udp_buffer_limit = udp_buffer_limit
        self._replies_per_second = replies_per_second
        # False when the cloud front door owns the TCP port and hands relay streams over.
        self._tcp_listener = tcp_listener
        self._record_budget = TokenBucket(records_per_second, 2 * records_per_second)
        self._numbers = itertools.count(1)
        self._sessions: dict[tuple[str, str, str | None], _Session] = {}
        self._streams: dict[str, _Stream] = {}  # by the camera's primary media id
        self._stream_by_id: dict[str, _Stream] = {}  # by every id the camera answers to
        self._endpoints: dict[Hashable, _Endpoint] = {}
        self._tcp_sinks: set[TcpSink] = set()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._announce = ""
        self.port = 0
        self._forwarded_datagrams = 0
        self._forwarded_bytes = 0
        self._drops: Counter[str] = Counter()

    # --- Part -------------------------------------------------------------------------------

    async def start(self) -> None:
        announce = self._settings.effective_announce_address
        try:
            ipaddress.IPv4Address(announce)
        except ValueError:
            raise UserError(
                f"the relay needs an IPv4 announce address (SDNK carries IPv4), got {announce!r}"
            ) from None
        self._announce = announce
        loop = asyncio.get_running_loop()
        host, port = self._settings.bind_address, self._settings.relay_port
        # With port 0 the kernel picks the UDP port; its TCP twin may be taken, so try again.
        attempts = KERNEL_PORT_ATTEMPTS if port == 0 else 1
        for attempt in range(1, attempts + 1):
            try:
                await self._listen(host, port)
                break
            except OSError as error:
                await self.stop()
                if attempt == attempts:
                    raise UserError(
                        f"relay cannot listen on {host}:{port}: {error.strerror}"
                    ) from None
        self._sweeper = loop.create_task(self._sweep())
        tcp = "UDP and TCP" if self._tcp_listener else "UDP; TCP through the cloud front door"
        log.info("relay listening on %s:%d (%s), announcing %s", host, self.port, tcp, announce)

    async def _listen(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(host, port)
        )
        self.port = self._udp.get_extra_info("sockname")[1]
        if self._tcp_listener:
            # Same port number for the TCP fallback.
            self._tcp = await asyncio.start_server(
                self._handle_tcp, host, self.port, limit=self._max_datagram + TCP_LENGTH.size
            )

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for session in list(self._sessions.values()):
            self._end_session(session)
        for sink in list(self._tcp_sinks):
            sink.close()
        self._tcp_sinks.clear()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    def status(self) -> dict[str, Any]:
        sockets = [v for s in self._streams.values() for group in s.viewers.values() for v in group]
        viewers = len(sockets)
        taps = sum(len(s.taps) for s in self._streams.values())
        return {
            "address": f"{self._settings.bind_address}:{self.port}",
            "announce": f"{self._announce}:{self.port}",
            "peer_mode": self._peer_mode,
            "streams": len(self._streams),
            "sessions": len(self._sessions),
            "cameras": sum(len(s.cameras) for s in self._streams.values()),
            "viewers": viewers + taps,
            "unproven_viewers": sum(not viewer.proven for viewer in sockets),
            "taps": taps,
            "tcp_connections": len(self._tcp_sinks),
            "datagrams_forwarded": self._forwarded_datagrams,
            "bytes_forwarded": self._forwarded_bytes,
            "drops": dict(self._drops),
        }

    # --- allocation API (used by the broker) ------------------------------------------------

    def allocate(
        self,
        camera_id: int,
        kind: MediaKind,
        viewer: str,
        *,
        camera_host: str | None = None,
        viewer_host: str | None = None,
        camera_aliases: Iterable[str] = (),
        viewer_aliases: Iterable[str] = (),
        on_end: SessionEnded | None = None,
    ) -> Allocation:
        """A session for `viewer` on the camera's `kind` stream (the same one if asked again).

        camera_host: the camera's address as the broker sees it. It tells the camera apart from
        K-style viewers (whose REGISTER names the camera id twice) and, once given, only that
        host may register as the camera.
        viewer_host: the address the viewer's app reached the broker from. Only sockets from that
        host may register for this session; None: none may (fakecloud's own tap).
        camera_aliases / viewer_aliases: more names the camera and this viewer register as (R
        names the camera by its alias and itself by its account alias).
        on_end: told when the relay ends the session by itself (RTCP BYE, idle), not on release.
        """
        if self._udp is None:
            raise RelayError("the relay is not running")
        camera_ids = _distinct(media_id(kind, name) for name in (str(camera_id), *camera_aliases))
        viewer_ids = _distinct(media_id(kind, name) for name in (viewer, *viewer_aliases))
        camera_host = _host(camera_host)
        viewer_host = _host(viewer_host)
        now = time.monotonic()
        existing = self._sessions.get((camera_ids[0], viewer_ids[0], viewer_host))
        if existing is not None:
            existing.last_activity = now
            existing.on_end = on_end or existing.on_end
            return existing.allocation
        if len(self._sessions) >= self._max_sessions:
            raise RelayError(f"relay is full ({self._max_sessions} sessions)")
        stream = self._streams.get(camera_ids[0])
        if stream is None:
            stream = _Stream(camera_ids, camera_host, now)
            self._streams[camera_ids[0]] = stream
        elif camera_host is not None:
            stream.camera_host = camera_host
        for camera_media_id in camera_ids:
            # An alias another camera's stream already answers to stays that stream's.
            self._stream_by_id.setdefault(camera_media_id, stream)
        allocation = Allocation(
            number=next(self._numbers),
            camera_id=camera_id,
            kind=kind,
            viewer=viewer,
            camera_media_id=camera_ids[0],
            viewer_media_id=viewer_ids[0],
            host=self._announce,
            port=self.port,
            viewer_host=viewer_host,
            camera_media_ids=camera_ids,
            viewer_media_ids=viewer_ids,
        )
        session = _Session(allocation, stream, now, on_end)
        for viewer_media_id in viewer_ids:
            stream.sessions.setdefault((viewer_media_id, viewer_host), session)
        self._sessions[_session_key(allocation)] = session
        return allocation

    def release(self, allocation: Allocation) -> None:
        """End a session (stop commands); unknown or already ended sessions are ignored."""
        session = self._session_of(allocation)
        if session is not None:
            self._end_session(session)

    def open_tap(
        self, allocation: Allocation, max_queue: int = 256, overflow: Overflow = "drop_oldest"
    ) -> Tap:
        """fakecloud as a viewer of the session's camera: its channel-0 (RTP) media datagrams."""
        session = self._session_of(allocation)
        if session is None:
            raise RelayError("that session has ended")
        tap = Tap(max_queue, overflow, lambda closed: self._forget_tap(session, closed))
        session.taps.add(tap)
        session.stream.taps.add(tap)
        for channel in CHANNELS:
            self._invite_camera(session.stream, channel)
        return tap

    # --- sessions -----------------------------------------------------------------------------

    def _session_of(self, allocation: Allocation) -> _Session | None:
        session = self._sessions.get(_session_key(allocation))
        return session if session is not None and session.allocation == allocation else None

    def _forget_tap(self, session: _Session, tap: Tap) -> None:
        session.taps.discard(tap)
        session.stream.taps.discard(tap)

    def _end_session(self, session: _Session, reason: EndReason | None = None) -> None:
        """End a session; `reason` when the relay decided it (the owner's `on_end` hears)."""
        allocation = session.allocation
        if self._sessions.pop(_session_key(allocation), None) is None:
            return
        stream = session.stream
        for viewer_media_id in allocation.viewer_media_ids:
            key = (viewer_media_id, allocation.viewer_host)
            if stream.sessions.get(key) is session:
                del stream.sessions[key]
        for tap in list(session.taps):
            tap.close()
        for endpoint in list(session.endpoints):
            self._drop_endpoint(endpoint)
        if not stream.sessions:
            for camera in list(stream.cameras.values()):
                self._drop_endpoint(camera)
            self._streams.pop(stream.camera_media_ids[0], None)
            for camera_media_id in stream.camera_media_ids:
                if self._stream_by_id.get(camera_media_id) is stream:
                    del self._stream_by_id[camera_media_id]
        if reason is not None:
            self._record(f"session_{reason}", viewer=allocation.viewer)
            if session.on_end is not None:
                try:
                    session.on_end(allocation, reason)
                except Exception:
                    log.exception("the end of relay session %s was not taken", allocation.number)

    def _remove_endpoint(self, endpoint: _Endpoint) -> None:
        if self._endpoints.get(endpoint.key) is endpoint:
            del self._endpoints[endpoint.key]
        stream = endpoint.stream
        if endpoint.role == "camera":
            if stream.cameras.get(endpoint.channel) is endpoint:
                del stream.cameras[endpoint.channel]
        else:
            stream.viewers.get(endpoint.channel, set()).discard(endpoint)
            if endpoint.session is not None:
                endpoint.session.endpoints.discard(endpoint)

    def _drop_endpoint(self, endpoint: _Endpoint) -> None:
        """Remove an endpoint for good: its TCP connection, if any, closes with it."""
        self._remove_endpoint(endpoint)
        if isinstance(endpoint.sink, TcpSink):
            endpoint.sink.close()

    async def _sweep(self) -> None:
        interval = max(0.05, min(1.0, self._inactivity_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            self._end_silent(time.monotonic() - self._inactivity_timeout)

    def _end_silent(self, deadline: float) -> None:
        """End what has been silent since `deadline`: a camera whose sockets all went quiet, and
        a viewer session none of whose sockets sent anything (fakecloud's own taps have no
        sockets: theirs lives while the camera sends)."""
        for stream in list(self._streams.values()):
            if stream.last_activity < deadline:
                for camera in list(stream.cameras.values()):
                    self._drop_endpoint(camera)
        for session in list(self._sessions.values()):
            alive = session.last_activity
            if session.taps:
                alive = max(alive, session.stream.last_activity)
            if alive < deadline:
                self._end_session(session, "idle")

    # --- datagrams ----------------------------------------------------------------------------

    def _on_udp(self, data: bytes, source: tuple[str, int]) -> None:
        if self._udp is None:
            return
        endpoint = self._endpoints.get(source)
        sink = endpoint.sink if endpoint else UdpSink(self._udp, source, self._udp_buffer_limit)
        self._on_datagram(data, source, Address(source[0], source[1]), sink)

    def _on_datagram(self, data: bytes, key: Hashable, public: Address, sink: Sink) -> None:
        if len(data) > self._max_datagram:
            self._drop("oversize", data, public)
            return
        endpoint = self._endpoints.get(key)
        if not is_sdnk(data):
            if endpoint is None:
                self._drop("unregistered", data, public)
            else:
                self._forward(endpoint, data)
            return
        if endpoint is not None and not endpoint.proven:
            endpoint.credit += len(data)
        try:
            packet = decode(data)
        except SdnkError as error:
            self._drop("malformed", data, public, error=str(error))
            return
        if isinstance(packet, Register):
            self._register(packet, key, public, sink)
        elif endpoint is None:
            self._drop("unregistered", data, public)
        else:
            self._heard(endpoint, time.monotonic())
            self._answer(endpoint, packet, data)

    def _heard(self, endpoint: _Endpoint, now: float) -> None:
        """Any datagram keeps its sender's whole party alive (camera, or viewer session)."""
        endpoint.last_seen = now
        if endpoint.session is None:
            endpoint.stream.last_activity = now
        elif endpoint.proven:
            # Security consideration: a spoofed (unproven) socket cannot keep a session alive.
            endpoint.session.last_activity = now

    def _forward(self, source: _Endpoint, data: bytes) -> None:
        self._heard(source, time.monotonic())
        stream = source.stream
        if not source.proven:
            self._drops["unproven"] += 1
            return
        if source.role == "camera":
            # Security consideration: media goes only to sockets that proved their address.
            receivers: list[Sink] = [
                viewer.sink for viewer in stream.viewers.get(source.channel, ()) if viewer.proven
            ]
            if source.channel == 0:
                receivers.extend(stream.taps)
        else:
            if source.channel == CONTROL_CHANNEL and is_bye(data) and source.session is not None:
                # The viewer leaves (docs/protocol.md section 9). The camera does not hear the BYE:
                # whoever decides who watches tells it to stop once nobody does.
                self._end_session(source.session, "bye")
                return
            camera = stream.cameras.get(source.channel)
            if camera is None:
                self._drops["no_camera"] += 1
                return
            receivers = [camera.sink]
        for receiver in receivers:
            if receiver.send(data):
                self._forwarded_datagrams += 1
                self._forwarded_bytes += len(data)
            else:
                self._drops["queue_full"] += 1

    # --- rendezvous ---------------------------------------------------------------------------

    def _resolve(self, register: Register, public: Address) -> tuple[Role, _Session] | str:
        """Which session and role a REGISTER's ids name (see docs/relay.md, "Who is who"), or
        why none: the drop reason."""
        first, second = register.ids
        # R reading: own id first, the camera's (by id or alias) second.
        stream = self._stream_by_id.get(second)
        if stream is not None and first != second:
            session = stream.sessions.get((first, public.host))
            if session is not None:
                return "viewer", session
            if any(viewer_id == first for viewer_id, _ in stream.sessions):
                return "viewer_host_mismatch"
        stream = self._stream_by_id.get(first)
        if stream is None or not stream.sessions:
            return "unknown_id"
        newest = self._newest(stream.distinct_sessions())
        if self._stream_by_id.get(second) is not stream:
            # R's order mirrored: the camera names the viewer it was asked by (fakecloud, which
            # asks on behalf of every watcher), not necessarily one of the sessions.
            return "camera", newest
        # K reading: the camera's id twice. From the camera's host it is the camera, unless
        # the camera is known to name its viewer (then it is a K viewer sharing the address).
        if stream.camera_form != "mirrored" and public.host == stream.camera_host:
            return "camera", newest
        session = self._k_session(stream, register.channel, public.host)
        return ("viewer", session) if session is not None else "viewer_host_mismatch"

    @staticmethod
    def _newest(sessions: list[_Session]) -> _Session:
        return max(sessions, key=lambda session: session.allocation.number)

    def _k_session(self, stream: _Stream, channel: int, host: str) -> _Session | None:
        """A K viewer names no viewer: the newest app session allocated for its host, preferring
        one whose socket for this channel has not registered yet."""
        # Security consideration: K's ids are the public camera id, so the host the app reached
        # the broker from is what binds a K socket to an authenticated session.
        apps = [s for s in stream.distinct_sessions() if s.allocation.viewer_host == host]
        if not apps:
            return None
        unclaimed = [
            session
            for session in apps
            if not any(endpoint.channel == channel for endpoint in session.endpoints)
        ]
        return self._newest(unclaimed or apps)

    def _register(self, register: Register, key: Hashable, public: Address, sink: Sink) -> None:
        resolved = self._resolve(register, public)
        if isinstance(resolved, str):
            self._drop(resolved, register.encode(), public, ids=list(register.ids))
            return
        role, session = resolved
        stream = session.stream
        if role == "camera" and stream.camera_host not in (None, public.host):
            self._drop("camera_host_mismatch", register.encode(), public)
            return
        if role == "camera":
            self._learn_camera_form(stream, register)
        endpoint = self._endpoints.get(key)
        if endpoint is not None and (
            endpoint.role != role
            or endpoint.channel != register.channel
            or endpoint.stream is not stream
            or (role == "viewer" and endpoint.session is not session)
        ):
            self._remove_endpoint(endpoint)
            endpoint = None
        now = time.monotonic()
        if endpoint is None:
            endpoint = self._new_endpoint(register, role, session, key, public, sink, now)
            if endpoint is None:
                return
        endpoint.lan, endpoint.ids, endpoint.kind = register.lan, register.ids, register.kind
        self._heard(endpoint, now)
        self._send_peers(endpoint)
        self._invite_camera(stream, register.channel)

    def _learn_camera_form(self, stream: _Stream, register: Register) -> None:
        mirrored = register.ids[0] != register.ids[1]
        if mirrored and stream.camera_form != "mirrored":
            # The camera names its viewer, so earlier "camera id twice" REGISTERs taken for the
            # camera (K viewers behind the camera's address, e.g. all on loopback) were viewers.
            for channel, camera in list(stream.cameras.items()):
                if camera.ids[0] == camera.ids[1]:
                    self._reclassify_as_viewer(camera, channel)
        stream.camera_form = "mirrored" if mirrored else "repeated"

    def _reclassify_as_viewer(self, endpoint: _Endpoint, channel: int) -> None:
        stream = endpoint.stream
        session = self._k_session(stream, channel, endpoint.public.host)
        if session is None:
            self._drop_endpoint(endpoint)  # no app of that host asked: it was nobody's viewer
            return
        del stream.cameras[channel]
        endpoint.role = "viewer"
        endpoint.session = session
        session.endpoints.add(endpoint)
        stream.viewers.setdefault(channel, set()).add(endpoint)
        # It may have finished its punch already (K then only answers): ask it at once.
        self._require_proof(endpoint, received=0)
        self._challenge(endpoint)

    def _new_endpoint(
        self,
        register: Register,
        role: Role,
        session: _Session,
        key: Hashable,
        public: Address,
        sink: Sink,
        now: float,
    ) -> _Endpoint | None:
        stream = session.stream
        if len(self._endpoints) >= self._max_endpoints:
            self._drop("endpoint_limit", register.encode(), public)
            return None
        viewers = stream.viewers.setdefault(register.channel, set())
        if role == "viewer" and not self._room_for_viewer(stream, public.host):
            self._drop("source_limit", register.encode(), public)
            return None
        if role == "viewer" and len(viewers) >= self._max_viewers:
            self._drop("viewer_limit", register.encode(), public)
            return None
        endpoint = _Endpoint(
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
                self._drop_endpoint(previous)
            stream.cameras[register.channel] = endpoint
        else:
            viewers.add(endpoint)
            session.endpoints.add(endpoint)
            self._require_proof(endpoint, received=len(register.encode()))
        self._endpoints[key] = endpoint
        self._record(
            "register",
            data=register.encode(),
            peer=f"{public.host}:{public.port}",
            role=role,
            channel=register.channel,
            ids=list(register.ids),
            lan=f"{register.lan.host}:{register.lan.port}",
        )
        if self._peer_mode == "direct":
            # The counterpart registered first: now it can learn about this end too (a viewer
            # learns the camera's address before its proof; the camera learns a viewer's after).
            for counterpart in self._counterparts(endpoint, proven_only=False):
                self._send_peers(counterpart)
        return endpoint

    def _room_for_viewer(self, stream: _Stream, host: str) -> bool:
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
        self._drop_endpoint(min(unproven, key=lambda viewer: viewer.last_seen))
        return True

    def _require_proof(self, endpoint: _Endpoint, received: int) -> None:
        """A UDP viewer must show it receives at its source address before it gets media; a TCP
        connection already did (its handshake), and the camera is bound to its broker address.
        `received`: the bytes it sent so far (its REGISTER), which it may be answered with."""
        if isinstance(endpoint.sink, UdpSink):
            endpoint.proven = False
            endpoint.credit = received + UNPROVEN_ALLOWANCE

    def _challenge(self, endpoint: _Endpoint) -> None:
        """Send the outstanding random CONNECT byte an unproven socket must echo."""
        if endpoint.challenge is None:
            # Distinct from the bytes already echoed in this attempt, so a late duplicate
            # echo is recognised as one.
            fresh = [value for value in range(256) if value not in endpoint.answered]
            endpoint.challenge = fresh[secrets.randbelow(len(fresh))]
        self._reply(endpoint, Connect(endpoint.challenge).encode())

    def _check_echo(self, endpoint: _Endpoint, echo: int | None) -> None:
        if echo is not None and echo == endpoint.challenge:
            endpoint.answered.append(echo)
            endpoint.challenge = None
            if len(endpoint.answered) < PROOF_ROUNDS:
                self._challenge(endpoint)
                return
            endpoint.proven = True
            self._heard(endpoint, time.monotonic())
            if self._peer_mode == "direct":
                for counterpart in self._counterparts(endpoint):
                    self._send_peers(counterpart)
            self._invite_camera(endpoint.stream, endpoint.channel)
        elif echo not in endpoint.answered:
            # A wrong guess ends this attempt: a blind spoofer gets one try per byte.
            self._drops["proof_failed"] += 1
            endpoint.challenge = None
            endpoint.answered.clear()

    def _invite_camera(self, stream: _Stream, channel: int) -> None:
        """Punch the camera on a channel once someone watches there, as the viewer's REQ_PUNCH
        would: a camera waits for both channels before it sends video [I, R's notes]."""
        camera = stream.cameras.get(channel)
        if self._peer_mode != "relay" or camera is None:
            return
        if stream.taps or any(viewer.proven for viewer in stream.viewers.get(channel, ())):
            self._reply(
                camera, *(Punch(seq, camera.reply_ids).encode() for seq in INVITE_SEQUENCES)
            )

    def _counterparts(self, endpoint: _Endpoint, proven_only: bool = True) -> list[_Endpoint]:
        stream = endpoint.stream
        if endpoint.role == "viewer":
            camera = stream.cameras.get(endpoint.channel)
            return [camera] if camera is not None else []
        # Security consideration: the camera is told only of viewers that proved their address.
        viewers = stream.viewers.get(endpoint.channel, ())
        return [viewer for viewer in viewers if viewer.proven or not proven_only]

    def _send_peers(self, endpoint: _Endpoint) -> None:
        ack = RelayAck(endpoint.channel, endpoint.kind, endpoint.reply_ids)
        if self._peer_mode == "relay":
            # The relay in every slot: K punches the first slot whose host is the camera's LAN
            # address (LIP), so the receiver's own address there would make K punch itself
            # whenever it shares the camera's host (on loopback, always).
            relay = Address(self._announce, self.port)
            peers = Peers((relay, relay, relay, relay))
        else:
            counterparts = self._counterparts(endpoint)
            if not counterparts:
                return  # PEERS waits until the other end has registered
            newest = max(counterparts, key=lambda e: e.last_seen)
            # Direct mode hands each end one counterpart: the public address when it differs
            # from the LAN one (different networks), else the LAN one.
            peer = newest.public if newest.public.host != newest.lan.host else newest.lan
            peers = Peers.between(endpoint.lan, endpoint.public, peer)
        if endpoint.proven:
            self._reply(endpoint, ack.encode(), peers.encode())
        else:
            # Neither public client reads the relay's RELAY_ACK; an unproven socket gets only
            # what it needs, within its byte credit.
            self._reply(endpoint, peers.encode())

    def _answer(self, endpoint: _Endpoint, packet: SdnkPacket, data: bytes) -> None:
        """Play the peer's part so both public clients' state machines complete."""
        match packet:
            case RelayAck():
                endpoint.acknowledged = True
                if not endpoint.proven:
                    self._challenge(endpoint)
            case Connected(echo=echo):
                if endpoint.proven:
                    endpoint.connected = True
                else:
                    self._check_echo(endpoint, echo)
            case Punch(sequence=sequence):
                if endpoint.punches_answered >= MAX_PUNCH_REPLIES:
                    return
                endpoint.punches_answered += 1
                self._reply(endpoint, Punch(sequence, endpoint.reply_ids).encode())
                if not endpoint.proven:
                    self._challenge(endpoint)
                elif endpoint.next_connect_counter <= LAST_CONNECT_COUNTER:
                    counter = endpoint.next_connect_counter
                    endpoint.next_connect_counter += 1
                    self._reply(endpoint, Connect(counter, header_counter=counter).encode())
            case Connect() if not endpoint.proven:
                # CONNECTED ("I hear you") only once proven: K keeps punching until then.
                self._challenge(endpoint)
            case Connect(counter=counter):
                # K answers an empty CONNECT with 1; do the same.
                replies = [Connected(1 if counter is None else counter).encode()]
                if not endpoint.sent_late_punch:
                    endpoint.sent_late_punch = True
                    replies.append(Punch(LATE_PUNCH_SEQUENCE, endpoint.reply_ids).encode())
                self._reply(endpoint, *replies)
            case _:
                self._drop("unexpected_packet", data, endpoint.public)

    def _reply(self, endpoint: _Endpoint, *datagrams: bytes) -> None:
        # Security consideration: replies are rate limited per endpoint, and an unproven one is
        # sent no more bytes than it sent (plus UNPROVEN_ALLOWANCE), so a spoofed source cannot
        # turn the relay into a reflector or an amplifier.
        if not endpoint.replies.take():
            self._drops["reply_rate"] += 1
            return
        for datagram in datagrams:
            if not endpoint.proven:
                if len(datagram) > endpoint.credit:
                    self._drops["unproven_credit"] += 1
                    return
                endpoint.credit -= len(datagram)
            endpoint.sink.send(datagram)

    # --- TCP fallback -------------------------------------------------------------------------

    async def handle_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: object
    ) -> None:
        """A TCP-fallback connection the cloud front door recognised on a shared port."""
        await self._handle_tcp(reader, writer)

    async def _handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tcp_sinks) >= self._max_tcp:
            self._drops["tcp_limit"] += 1
            writer.close()
            return
        sink = TcpSink(writer, self._queue_limit, self._inactivity_timeout, self._tcp_broken)
        self._tcp_sinks.add(sink)
        public = Address(*sink.address)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._inactivity_timeout):
                        header = await reader.readexactly(TCP_LENGTH.size)
                except TimeoutError:
                    # Security consideration: an idle connection is closed unless it is a
                    # registered endpoint, whose party's silence the sweep judges (a viewer
                    # that only receives is alive while its session is).
                    if sink in self._endpoints:
                        continue
                    return
                (length,) = TCP_LENGTH.unpack(header)
                if length == 0 or length > self._max_datagram:
                    self._drop("oversize", header, public, length=length)
                    return
                async with asyncio.timeout(self._inactivity_timeout):
                    datagram = await reader.readexactly(length)
                self._on_datagram(datagram, sink, public, sink)
        except (asyncio.IncompleteReadError, OSError, TimeoutError):
            pass
        finally:
            self._tcp_broken(sink)

    def _tcp_broken(self, sink: TcpSink) -> None:
        endpoint = self._endpoints.get(sink)
        if endpoint is not None:
            self._remove_endpoint(endpoint)
        self._tcp_sinks.discard(sink)
        sink.close()

    # --- accounting ---------------------------------------------------------------------------

    def _drop(self, reason: str, data: bytes, source: Address, **fields: Any) -> None:
        self._drops[reason] += 1
        self._record(reason, data=data, peer=f"{source.host}:{source.port}", **fields)

    def _record(self, event: str, *, data: bytes | None = None, **fields: Any) -> None:
        # Security consideration: a flood of junk must not flood the capture log too.
        if self._recorder is None or not self._record_budget.take():
            return
        self._recorder.record(
            "relay",
            data=None if data is None else data[:RECORDED_BYTES],
            event=event,
            local_port=self.port,
            **fields,
        )
