"""One front-door connection: sniff the first bytes, unwrap TLS, sniff again, hand off or capture.

The socket transport's protocol is a Connection for the connection's whole life; the protocols
above it (sniffer, TLS layer, handler) sit on a PassThroughTransport (see passthrough.py).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import ssl
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from fakecloud.frontdoor.clienthello import ClientHelloError, server_name
from fakecloud.frontdoor.connection_info import ConnectionInfo, StreamHandler, format_address
from fakecloud.frontdoor.handoff import hand_to_http, open_stream, serve_stream
from fakecloud.frontdoor.passthrough import PassThroughTransport
from fakecloud.frontdoor.shared import Destinations, ListenerState
from fakecloud.frontdoor.sniff import Traffic, route_verdict
from fakecloud.web.asgi import request_standing

log = logging.getLogger(__name__)


class Phase(enum.Enum):
    SNIFFING = "sniffing"
    UPGRADING = "upgrading"  # TLS handshake in progress
    CAPTURING = "capturing"
    HANDED_OFF = "handed_off"
    CLOSED = "closed"


class _Sniffer(asyncio.Protocol):
    """Collects a stream's first bytes until its connection knows where the stream goes."""

    def __init__(self, connection: Connection, *, tls: bool):
        self.connection = connection
        self.tls = tls
        self.buffer = bytearray()
        # Behind TLS, decrypted bytes can arrive before start_tls() has returned the transport.
        self.transport: asyncio.Transport | None = None

    def attach(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.connection.on_sniffed(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.connection.on_sniffed(self)

    def eof_received(self) -> bool:
        self.connection.on_sniff_eof(self)
        return False


class Connection(asyncio.Protocol):
    """The socket transport's protocol for the whole life of one accepted connection."""

    def __init__(self, destinations: Destinations, listener: ListenerState):
        self.destinations = destinations
        self.limits = destinations.limits
        self.listener = listener
        self.phase = Phase.SNIFFING
        self._rejected = False
        self._recorded = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._silence_limit = self.limits.first_bytes_timeout
        self._sniffer: _Sniffer | None = None
        self._traffic_guess = "undecided"

    # socket transport callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._socket = transport
        self._loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername") or ("?", 0)
        local = transport.get_extra_info("sockname") or ("?", 0)
        self.info = ConnectionInfo(
            id=secrets.token_hex(4),
            peer=(str(peer[0]), int(peer[1])),
            local_port=int(local[1]),
            tls=False,
            sni=None,
            local_address=str(local[0]),
            on_authenticated=self._logged_in,
        )
        slots = self.listener.admit(self, self.destinations.budget, self.info.peer[0])
        if slots is None:
            self._rejected = True
            transport.abort()
            return
        self._slots = slots
        self._pipe = PassThroughTransport(transport, on_write=self.touch)
        self.touch()
        log.debug("connection %s from %s", self.info.id, self._peer_text)
        sniffer = _Sniffer(self, tls=False)
        self._pipe.set_protocol(sniffer)
        self._start_sniffing(sniffer, self._pipe)

    def data_received(self, data: bytes) -> None:
        self.touch()
        self._pipe.deliver(data)

    def eof_received(self) -> bool | None:
        protocol = self._pipe.get_protocol()
        if isinstance(protocol, asyncio.Protocol | asyncio.BufferedProtocol):
            return protocol.eof_received()
        return None

    def pause_writing(self) -> None:
        self._pipe.get_protocol().pause_writing()

    def resume_writing(self) -> None:
        self._pipe.get_protocol().resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._rejected:
            return
        for timer in self._timers.values():
            timer.cancel()
        if self.phase in (Phase.SNIFFING, Phase.CAPTURING):
            self._record_capture("peer_closed")
        self.phase = Phase.CLOSED
        self.listener.release(self, self._slots)
        self._pipe.get_protocol().connection_lost(exc)

    # limits

    def touch(self) -> None:
        self._last_activity = self._loop.time()

    def _limit_silence(self, seconds: float) -> None:
        self._silence_limit = seconds
        if timer := self._timers.get("silence"):
            timer.cancel()
        self._timers["silence"] = self._loop.call_later(
            max(0.0, self._last_activity + seconds - self._loop.time()), self._check_silence
        )

    def _check_silence(self) -> None:
        remaining = self._last_activity + self._silence_limit - self._loop.time()
        if remaining > 0:
            self._timers["silence"] = self._loop.call_later(remaining, self._check_silence)
        elif self.phase is Phase.SNIFFING:
            self._sniff_expired()
        elif self.phase is Phase.CAPTURING:
            self._end_capture("idle")
        else:
            log.debug("closing connection %s: idle for %.0f s", self.info.id, self._silence_limit)
            # abort, not close: an idle peer that stopped reading would keep close() waiting
            self._socket.abort()

    def _sniff_expired(self) -> None:
        if self.phase is Phase.SNIFFING:
            has_bytes = self._sniffer is not None and self._sniffer.buffer
            self._end_capture("too_slow" if has_bytes else "silent")

    def evict(self) -> None:
        """A budget took this connection's slot back to make room (budgets.py)."""
        if self.phase is not Phase.CLOSED:
            self.listener.counters["evicted"] += 1
        log.debug("connection %s from %s closed to make room", self.info.id, self._peer_text)
        # what it sent is worth keeping; an empty record per held connection is not
        if (
            self.phase in (Phase.SNIFFING, Phase.CAPTURING)
            and self._sniffer
            and self._sniffer.buffer
        ):
            self._record_capture("evicted")
        self.phase = Phase.CLOSED
        self._socket.abort()

    def _logged_in(self) -> None:
        if not self._rejected and self.phase is not Phase.CLOSED:
            self._slots.established()

    def shut_down(self) -> None:
        """Server stopping: keep what was captured and drop the connection at once."""
        if self.phase in (Phase.SNIFFING, Phase.CAPTURING):
            self._record_capture("stopping")
        self._socket.abort()

    # sniffing and routing

    def _start_sniffing(self, sniffer: _Sniffer, transport: asyncio.Transport) -> None:
        self.phase = Phase.SNIFFING
        self._limit_silence(self.limits.first_bytes_timeout)
        self._sniffer = sniffer
        self._timers["sniff"] = self._loop.call_later(
            self.limits.first_bytes_timeout, self._sniff_expired
        )
        sniffer.attach(transport)

    def on_sniffed(self, sniffer: _Sniffer) -> None:
        if self.phase is Phase.CAPTURING:
            if len(sniffer.buffer) >= self.limits.max_sniff_bytes:
                self._end_capture("size_cap")
            return
        if self.phase is not Phase.SNIFFING or sniffer.transport is None:
            return
        verdict = route_verdict(
            sniffer.buffer, inside_tls=sniffer.tls, max_bytes=self.limits.max_sniff_bytes
        )
        if verdict is None:
            return
        self._timers.pop("sniff").cancel()
        self._route(verdict, sniffer, sniffer.transport)

    def on_sniff_eof(self, sniffer: _Sniffer) -> None:
        if self.phase in (Phase.SNIFFING, Phase.CAPTURING):
            self._end_capture("peer_closed")

    def _route(self, verdict: Traffic, sniffer: _Sniffer, transport: asyncio.Transport) -> None:
        destinations = self.destinations
        data = bytes(sniffer.buffer)
        if verdict is Traffic.TLS and destinations.tls_context is not None:
            self._upgrade(destinations.tls_context, data)
        elif verdict is Traffic.CXNET and destinations.cxnet_handler is not None:
            self._hand_to_stream("cxnet", destinations.cxnet_handler, transport, data)
        elif verdict is Traffic.RELAY and destinations.relay_handler is not None:
            self._hand_to_stream("relay", destinations.relay_handler, transport, data)
        elif verdict is Traffic.HTTP and destinations.asgi is not None:
            self._hand_off("http")
            protocol = hand_to_http(destinations.asgi, transport, data)
            self._slots.watch(lambda: request_standing(protocol))
        else:
            self._begin_capture(verdict, sniffer)

    def _hand_off(self, kind: str) -> None:
        self.phase = Phase.HANDED_OFF
        self._limit_silence(self.limits.idle_timeout)
        self.listener.counters[kind] += 1
        log.debug("connection %s from %s: %s", self.info.id, self._peer_text, kind)

    def _hand_to_stream(
        self, kind: str, handler: StreamHandler, transport: asyncio.Transport, data: bytes
    ) -> None:
        self._hand_off(kind)
        if kind == "cxnet":
            # The broker closes a connection that has not logged in by its login deadline, so
            # one still open then has logged in, whether or not the broker said so.
            deadline = min(self.limits.login_timeout, self.limits.idle_timeout)
            self._timers["login"] = self._loop.call_later(deadline, self._logged_in)
        reader, writer = open_stream(transport, data, self._loop)
        self._spawn(serve_stream(kind, handler, reader, writer, self.info, self.listener.counters))

    def _upgrade(self, context: ssl.SSLContext, hello: bytes) -> None:
        self.phase = Phase.UPGRADING
        try:
            sni = server_name(hello)
        except ClientHelloError as error:
            log.debug("connection %s: unreadable ClientHello (%s)", self.info.id, error)
            sni = None
        self.info = replace(self.info, sni=sni)
        # start_tls() pauses, installs its TLS protocol and resumes: the ClientHello we already
        # read waits in the pass-through transport until then.
        self._pipe.pause_reading()
        self._pipe.deliver(hello)
        self._spawn(self._complete_tls(context, hello))

    async def _complete_tls(self, context: ssl.SSLContext, hello: bytes) -> None:
        sniffer = _Sniffer(self, tls=True)
        try:
            transport = await self._loop.start_tls(
                self._pipe,
                sniffer,
                context,
                server_side=True,
                ssl_handshake_timeout=self.limits.first_bytes_timeout,
                ssl_shutdown_timeout=self.limits.first_bytes_timeout,
            )
        except OSError as error:  # SSLError, resets and the handshake timeout are all OSErrors
            self.listener.counters["tls_failed"] += 1
            reason = str(error) or type(error).__name__
            log.info(
                "TLS handshake with %s on port %d (SNI %s) failed: %s",
                self._peer_text,
                self.info.local_port,
                self.info.sni or "none",
                reason,
            )
            self._record(hello, reason="tls_failed", protocol="tls", error=reason)
            self.phase = Phase.CLOSED
            self._socket.abort()
            return
        # start_tls() returns None only when the loop is closing mid-handshake.
        assert transport is not None, "start_tls() returned no transport"
        self.info = replace(self.info, tls=True)
        self.listener.counters["tls"] += 1
        self._start_sniffing(sniffer, transport)

    def _begin_capture(self, verdict: Traffic, sniffer: _Sniffer) -> None:
        self.phase = Phase.CAPTURING
        self._traffic_guess = verdict.value
        self._timers["capture"] = self._loop.call_later(
            self.limits.idle_timeout, self._end_capture, "time_cap"
        )
        self.on_sniffed(sniffer)

    def _end_capture(self, reason: str) -> None:
        if self.phase not in (Phase.SNIFFING, Phase.CAPTURING):
            return
        self._record_capture(reason)
        self.phase = Phase.CLOSED
        self._socket.close()

    # recording

    def _record_capture(self, reason: str) -> None:
        if self._recorded:
            return
        data = bytes(self._sniffer.buffer) if self._sniffer else b""
        data = data[: self.limits.max_sniff_bytes]
        self.listener.counters["captured"] += 1
        log.info(
            "captured %d bytes of %s traffic from %s on port %d%s (connection %s, %s)",
            len(data),
            self._traffic_guess,
            self._peer_text,
            self.info.local_port,
            " inside TLS" if self.info.tls else "",
            self.info.id,
            reason,
        )
        self._record(data, reason=reason, protocol=self._traffic_guess)

    def _record(self, data: bytes, **fields: str) -> None:
        self._recorded = True
        recorder = self.destinations.recorder
        if recorder is None:
            return
        try:
            recorder.record(
                "connection",
                data=data,
                peer=self._peer_text,
                local_port=self.info.local_port,
                tls=self.info.tls,
                sni=self.info.sni,
                direction="in",
                connection=self.info.id,
                **fields,
            )
        except Exception:
            log.exception("could not record connection %s", self.info.id)

    # helpers

    @property
    def _peer_text(self) -> str:
        return format_address(*self.info.peer)

    # Any: a coroutine's send and yield types, which nothing here uses.
    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coroutine)
        self.destinations.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.destinations.tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("internal error on connection %s; closing it", self.info.id, exc_info=error)
            self._socket.abort()
