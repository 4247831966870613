"""The UDP media relay as a `Part`: SDNK rendezvous, forwarding and fan-out (docs/protocol.md 4).

The broker allocates a session when a viewer asks for video; both ends then REGISTER here with
the session's ids. In "relay" peer mode (the default) the relay names itself as each end's peer,
answers PUNCH/CONNECT like a peer would and forwards media: camera → every viewer and tap,
viewer → camera (RTCP reports, talkback). In "direct" mode PEERS names the real counterpart so
the two ends can punch each other; whatever still arrives here is forwarded all the same.

Liveness is per party, not per socket (docs/protocol.md section 9): a viewer session lives while
any of its sockets sends and ends at once on an RTCP BYE; the camera's sockets live while any of
them sends. Who is served: docs/relay.md, "Who may watch".

This module binds the sockets and hands each datagram on: `rendezvous` (REGISTER), `handshake`
(the peer's answers and the punch proof), `forwarding` (media), `tcp` (the fallback), all over
the session table (`table`). Viewer sessions that start and stop are published on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Hashable, Iterable
from typing import Any

from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.core.events import EventBus
from fakecloud.core.recording import Recorder
from fakecloud.net.sdnk import Address, Register, SdnkError, decode, is_sdnk
from fakecloud.relay.accounting import RelayAccounting
from fakecloud.relay.forwarding import Forwarder
from fakecloud.relay.handshake import Handshake, PeerMode
from fakecloud.relay.queues import Overflow
from fakecloud.relay.receive_buffer import WANTED_BYTES, enlarge_receive_buffer
from fakecloud.relay.rendezvous import Rendezvous
from fakecloud.relay.sessions import CHANNELS, Allocation, MediaKind, RelayError, SessionEnded
from fakecloud.relay.sinks import TCP_LENGTH, Sink, Tap, UdpSink
from fakecloud.relay.table import SessionTable
from fakecloud.relay.tcp import TcpFallback

log = logging.getLogger(__name__)

KERNEL_PORT_ATTEMPTS = 8


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, relay: RelayPart) -> None:
        self._relay = relay

    # `Any`: asyncio types a datagram's source address as tuple[str | Any, int].
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
        bus: EventBus | None = None,
    ) -> None:
        self._settings = settings
        self._inactivity_timeout = inactivity_timeout
        self._max_datagram = max_datagram_bytes
        self._udp_buffer_limit = udp_buffer_limit
        # False when the cloud front door owns the TCP port and hands relay streams over.
        self._tcp_listener = tcp_listener
        self._accounting = RelayAccounting(recorder, records_per_second, lambda: self.port)
        self._drops = self._accounting.drops
        self._table = SessionTable(
            self._accounting,
            bus or EventBus(),
            max_sessions=max_sessions,
            max_endpoints=max_endpoints,
            max_viewers_per_stream=max_viewers_per_stream,
            max_viewer_sockets_per_host=max_viewer_sockets_per_host,
            replies_per_second=replies_per_second,
        )
        self._endpoints = self._table.endpoints
        self._handshake = Handshake(self._table, self._accounting, peer_mode, self._address)
        self._rendezvous = Rendezvous(self._table, self._handshake, self._accounting)
        self._forwarder = Forwarder(self._table, self._accounting)
        self._tcp_fallback = TcpFallback(
            self._table,
            self._accounting,
            self._on_datagram,
            max_connections=max_tcp_connections,
            max_datagram_bytes=max_datagram_bytes,
            queue_limit=viewer_queue_limit,
            inactivity_timeout=inactivity_timeout,
        )
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._announce = ""
        self.port = 0
        self.receive_buffer = 0  # bytes the kernel granted the UDP socket (receive_buffer.py)

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
        self.receive_buffer = enlarge_receive_buffer(self._udp.get_extra_info("socket"))
        if self.receive_buffer < WANTED_BYTES:
            log.warning(
                "relay: the UDP receive buffer is %d KiB, not the %d KiB asked for: with many "
                "cameras the kernel may drop video; raise it with sysctl net.core.rmem_max=%d",
                self.receive_buffer >> 10, WANTED_BYTES >> 10, WANTED_BYTES,
            )  # fmt: skip
        if self._tcp_listener:
            # Same port number for the TCP fallback.
            self._tcp = await asyncio.start_server(
                self._tcp_fallback.handle,
                host,
                self.port,
                limit=self._max_datagram + TCP_LENGTH.size,
            )

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for session in list(self._table.sessions.values()):
            self._table.release(session, "shutdown")
        self._tcp_fallback.close_all()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    def status(self) -> dict[str, Any]:
        return {
            "address": f"{self._settings.bind_address}:{self.port}",
            "announce": f"{self._announce}:{self.port}",
            "peer_mode": self._handshake.peer_mode,
            "receive_buffer_bytes": self.receive_buffer,
            **self._table.status(),
            "tcp_connections": len(self._tcp_fallback.sinks),
            "datagrams_forwarded": self._forwarder.datagrams,
            "bytes_forwarded": self._forwarder.bytes,
            "drops": dict(self._drops),
        }

    def camera_streams(self, camera_id: int) -> list[dict[str, object]]:
        return self._table.camera_streams(camera_id)

    def _address(self) -> Address:
        """Where the relay is reached: what offers and relay-mode PEERS name."""
        return Address(self._announce, self.port)

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
        requires_viewer_id: bool = False,
        on_end: SessionEnded | None = None,
    ) -> Allocation:
        """A session for `viewer` on the camera's `kind` stream (the same one if asked again).

        camera_host: the camera's address as the broker sees it. It tells the camera apart from
        K-style viewers (whose REGISTER names the camera id twice) and, once given, only that
        host may register as the camera.
        viewer_host: the address the viewer's app reached the broker from. Only sockets from that
        host may register for this session; None: none may (fakecloud's own tap).
        camera_aliases / viewer_aliases: more names the camera and this viewer register as (R
        names the camera by its alias and itself by the alias its login reply gave it).
        requires_viewer_id: only REGISTERs naming one of this viewer's ids join the session
        (`viewer` is a secret the app showed it knows); K's id-less form never does.
        on_end: told when the relay ends the session by itself (RTCP BYE, idle), not on release.
        """
        if self._udp is None:
            raise RelayError("the relay is not running")
        return self._table.allocate(
            camera_id,
            kind,
            viewer,
            self._address(),
            time.monotonic(),
            camera_host=camera_host,
            viewer_host=viewer_host,
            camera_aliases=camera_aliases,
            viewer_aliases=viewer_aliases,
            requires_viewer_id=requires_viewer_id,
            on_end=on_end,
        )

    def release(self, allocation: Allocation) -> None:
        """End a session (stop commands); unknown or already ended sessions are ignored."""
        session = self._table.session_of(allocation)
        if session is not None:
            self._table.release(session, "release")

    def open_tap(
        self, allocation: Allocation, max_queue: int = 256, overflow: Overflow = "drop_oldest"
    ) -> Tap:
        """fakecloud as a viewer of the session's camera: its channel-0 (RTP) media datagrams."""
        session = self._table.session_of(allocation)
        if session is None:
            raise RelayError("that session has ended")
        tap = self._table.add_tap(session, max_queue, overflow)
        for channel in CHANNELS:
            self._handshake.invite_camera(session.stream, channel)
        return tap

    async def handle_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: object
    ) -> None:
        """A TCP-fallback connection the cloud front door recognised on a shared port."""
        await self._tcp_fallback.handle(reader, writer)

    # --- datagrams ----------------------------------------------------------------------------

    async def _sweep(self) -> None:
        interval = max(0.05, min(1.0, self._inactivity_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            self._table.end_silent(time.monotonic() - self._inactivity_timeout)

    def _on_udp(self, data: bytes, source: tuple[str, int]) -> None:
        if self._udp is None:
            return
        endpoint = self._endpoints.get(source)
        sink = endpoint.sink if endpoint else UdpSink(self._udp, source, self._udp_buffer_limit)
        self._on_datagram(data, source, Address(source[0], source[1]), sink)

    def _on_datagram(self, data: bytes, key: Hashable, public: Address, sink: Sink) -> None:
        if len(data) > self._max_datagram:
            self._accounting.drop("oversize", data, public)
            return
        endpoint = self._endpoints.get(key)
        if not is_sdnk(data):
            if endpoint is None:
                self._accounting.drop("unregistered", data, public)
            else:
                self._forwarder.forward(endpoint, data)
            return
        if endpoint is not None and endpoint.proof is not None:
            endpoint.proof.received(len(data))
        try:
            packet = decode(data)
        except SdnkError as error:
            self._accounting.drop("malformed", data, public, error=str(error))
            return
        if isinstance(packet, Register):
            self._rendezvous.register(packet, key, public, sink)
        elif endpoint is None:
            self._accounting.drop("unregistered", data, public)
        else:
            endpoint.heard(time.monotonic())
            self._handshake.answer(endpoint, packet, data)
