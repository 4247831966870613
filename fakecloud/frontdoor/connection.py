"""One front-door connection: sniff the first bytes, unwrap TLS, sniff again, hand off or capture.

Layers of one connection, from the socket up:

    socket transport ─▶ Connection (limits, activity) ─▶ PassThroughTransport ─▶ protocol
                                                         protocol = sniffer, TLS layer, CXNet
                                                         stream or uvicorn; behind a TLS layer
                                                         the same choice is made again

The pass-through transport exists so that bytes already read while sniffing can be replayed to
the next protocol (asyncio's start_tls cannot be given bytes it did not read itself) and so that
writes count as activity for the idle limit.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from fakecloud.core.recording import Recorder
from fakecloud.frontdoor.budgets import ConnectionBudget
from fakecloud.frontdoor.clienthello import ClientHelloError, server_name
from fakecloud.frontdoor.sniff import Traffic, classify, tls_record_length
from fakecloud.web.asgi import AsgiProtocolFactory

log = logging.getLogger(__name__)

# classify() always decides within this many bytes ("OPTIONS " is the longest start it knows).
_DECISION_BYTES = 8
# A stream handler's reader pauses the socket once twice this much waits unread (asyncio's
# default, 64 KiB, would let a connection whose handler is busy, e.g. checking a password, hold
# 128 KiB); reads of any size still work.
STREAM_READER_LIMIT = 16 * 1024


@dataclass(frozen=True)
class ConnectionInfo:
    id: str  # short unique id, also used in capture records and logs
    peer: tuple[str, int]
    local_port: int
    tls: bool
    sni: str | None
    # The address the client reached (a host may have several): the broker tells a redirected
    # client's return by it (docs/broker.md, "Redirects").
    local_address: str = ""


StreamHandler = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, ConnectionInfo], Awaitable[None]
]


@dataclass(frozen=True)
class Limits:
    """Security consideration: every phase of a connection has a clock and a size bound, so
    silent, slow or endless clients cost a bounded amount of memory and time each."""

    # decide (and finish a TLS handshake) within this; also the silence allowed while
    # fakecloud only listens (sniffing or capturing)
    first_bytes_timeout: float
    # silence (no byte either way) allowed once handed off; also the longest a capture lasts
    idle_timeout: float
    # most bytes held while sniffing, and the most a capture keeps
    max_sniff_bytes: int


@dataclass
class Destinations:
    """Where recognised traffic goes; None means 'not available here', so it is captured."""

    tls_context: ssl.SSLContext | None
    cxnet_handler: StreamHandler | None
    asgi: AsgiProtocolFactory | None
    recorder: Recorder | None
    limits: Limits
    # shared with every listener of the process (the HTTP port too)
    budget: ConnectionBudget
    relay_handler: StreamHandler | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass
class ListenerState:
    """What the connections of one listening port share."""

    max_connections: int
    active: set[Connection] = field(default_factory=set)
    counters: Counter[str] = field(default_factory=Counter)
    full_reported: bool = False


class Phase(enum.Enum):
    SNIFFING = "sniffing"
    UPGRADING = "upgrading"  # TLS handshake in progress
    CAPTURING = "capturing"
    HANDED_OFF = "handed_off"
    CLOSED = "closed"


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _feed(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    if not data:
        return
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = protocol.get_buffer(len(view))
            count = min(len(buffer), len(view))
            buffer[:count] = view[:count]
            protocol.buffer_updated(count)
            view = view[count:]
    elif isinstance(protocol, asyncio.Protocol):
        protocol.data_received(data)


class PassThroughTransport(asyncio.Transport):
    """The transport the protocols above the socket see; see the module docstring."""

    # loop.start_tls() accepts any transport that carries this flag.
    _start_tls_compatible = True

    def __init__(self, connection: Connection, socket_transport: asyncio.Transport):
        super().__init__()
        self._connection = connection
        self._socket = socket_transport
        self._protocol: asyncio.BaseProtocol | None = None
        self._paused = False
        self._held = bytearray()

    def deliver(self, data: bytes) -> None:
        """Pass received bytes up, or hold them while reading is paused."""
        if self._paused or self._protocol is None:
            self._held += data
        else:
            _feed(self._protocol, data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._socket.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._socket.is_closing()

    def close(self) -> None:
        self._socket.close()

    def abort(self) -> None:
        self._socket.abort()

    def _force_close(self, exc: BaseException | None) -> None:
        # asyncio's TLS layer calls this private name on the transport beneath it.
        self._socket.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None, "a protocol is set as soon as the connection is made"
        return self._protocol

    def is_reading(self) -> bool:
        return not self._paused

    def pause_reading(self) -> None:
        self._paused = True
        self._socket.pause_reading()

    def resume_reading(self) -> None:
        self._paused = False
        self._socket.resume_reading()
        if self._held and self._protocol is not None:
            held = bytes(self._held)
            self._held.clear()
            _feed(self._protocol, held)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._connection.touch()
        self._socket.write(data)

    def write_eof(self) -> None:
        self._socket.write_eof()

    def can_write_eof(self) -> bool:
        return self._socket.can_write_eof()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._socket.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._socket.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._socket.get_write_buffer_limits()


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
        )
        counters = self.listener.counters
        if len(self.listener.active) >= self.listener.max_connections:
            # Security consideration: a per-port cap keeps a flood from exhausting file
            # descriptors; refused connections cost one accept and one close.
            self._rejected = True
            counters["rejected"] += 1
            if not self.listener.full_reported:
                self.listener.full_reported = True
                log.warning(
                    "port %d has %d open connections, its limit; refusing new ones until some "
                    "close",
                    self.info.local_port,
                    self.listener.max_connections,
                )
            transport.abort()
            return
        if not self.destinations.budget.acquire(self.info.peer[0]):
            self._rejected = True
            counters["rejected_budget"] += 1
            transport.abort()
            return
        counters["accepted"] += 1
        self.listener.active.add(self)
        self._pipe = PassThroughTransport(self, transport)
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
        self.listener.active.discard(self)
        self.destinations.budget.release(self.info.peer[0])
        if len(self.listener.active) < self.listener.max_connections:
            self.listener.full_reported = False
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
        buffered = len(sniffer.buffer)
        if self.phase is Phase.CAPTURING:
            if buffered >= self.limits.max_sniff_bytes:
                self._end_capture("size_cap")
            return
        if self.phase is not Phase.SNIFFING or sniffer.transport is None:
            return
        head = bytes(sniffer.buffer[:_DECISION_BYTES])
        verdict = classify(head)
        if verdict is None:
            return
        if verdict is Traffic.TLS:
            if sniffer.tls:
                verdict = Traffic.UNKNOWN  # TLS inside TLS is nothing a camera does
            else:
                record_length = tls_record_length(head)
                if record_length is None or buffered < min(
                    record_length, self.limits.max_sniff_bytes
                ):
                    return  # the whole ClientHello first, for its server name
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
            self._hand_to_http(destinations.asgi, transport, data)
        else:
            self._begin_capture(verdict, sniffer)

    def _hand_off(self, kind: str) -> None:
        self.phase = Phase.HANDED_OFF
        self._limit_silence(self.limits.idle_timeout)
        self.listener.counters[kind] += 1
        log.debug("connection %s from %s: %s", self.info.id, self._peer_text, kind)

    def _hand_to_http(
        self, asgi: AsgiProtocolFactory, transport: asyncio.Transport, data: bytes
    ) -> None:
        self._hand_off("http")
        protocol = asgi()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    def _hand_to_stream(
        self, kind: str, handler: StreamHandler, transport: asyncio.Transport, data: bytes
    ) -> None:
        self._hand_off(kind)
        reader = asyncio.StreamReader(limit=STREAM_READER_LIMIT)
        protocol = asyncio.StreamReaderProtocol(reader)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        writer = asyncio.StreamWriter(transport, protocol, reader, self._loop)
        protocol.data_received(data)
        self._spawn(self._run_stream(kind, handler, reader, writer))

    async def _run_stream(
        self,
        kind: str,
        handler: StreamHandler,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            await handler(reader, writer, self.info)
        except Exception:
            self.listener.counters["handler_errors"] += 1
            log.exception(
                "%s handler failed on connection %s from %s; closing that connection",
                kind,
                self.info.id,
                self._peer_text,
            )
        finally:
            writer.close()

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

    def _record(self, data: bytes, **fields: Any) -> None:
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

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coroutine)
        self.destinations.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.destinations.tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("internal error on connection %s; closing it", self.info.id, exc_info=error)
            self._socket.abort()
