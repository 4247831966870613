"""DNS over UDP: a non-blocking socket drained in batches, forwarded queries in bounded tasks."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from fakecloud.dns.responder import MAX_QUERY_BYTES, Forward, Responder
from fakecloud.dns.wire import parse_message, truncated_copy

log = logging.getLogger(__name__)

_DATAGRAMS_PER_WAKEUP = 64
# Any: a socket address is (host, port) for IPv4 and (host, port, flowinfo, scope_id) for IPv6.
Address = tuple[Any, ...]


class UdpServer:
    """Answers datagrams with what the Responder decides."""

    def __init__(self, responder: Responder, *, max_pending_forwards: int) -> None:
        self._responder = responder
        self._counters = responder.counters
        self._max_pending_forwards = max_pending_forwards
        self._socket: socket.socket | None = None
        self._forwards: set[asyncio.Task[None]] = set()

    def open(self, bind: str, port: int) -> int:
        """Listen on bind:port; return the port bound (the kernel's choice for port 0)."""
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.setblocking(False)
            udp.bind((bind, port))
        except OSError:
            udp.close()
            raise
        self._socket = udp
        asyncio.get_running_loop().add_reader(udp, self._on_readable)
        bound: int = udp.getsockname()[1]
        return bound

    async def close(self) -> None:
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket)
            self._socket.close()
            self._socket = None
        for task in self._forwards:
            task.cancel()
        await asyncio.gather(*self._forwards, return_exceptions=True)

    def _on_readable(self) -> None:
        """Drain a bounded batch of datagrams per wake-up.

        asyncio's datagram transport reads one datagram per event-loop turn; reading a batch
        roughly doubles throughput under load, and the bound keeps TCP clients and forwarded
        answers served in between.
        """
        udp = self._socket
        if udp is None:
            return
        for _ in range(_DATAGRAMS_PER_WAKEUP):
            try:
                # One byte more than any acceptable query, so an oversized one is still noticed.
                data, addr = udp.recvfrom(MAX_QUERY_BYTES + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                # ICMP errors for earlier replies (client gone): the socket stays usable.
                log.debug("DNS UDP socket reported %s", error)
                continue
            self._handle_datagram(data, addr)

    def _handle_datagram(self, data: bytes, addr: Address) -> None:
        peer = str(addr[0])
        reply, forward = self._responder.decide(data, peer, "udp")
        if reply is not None:
            self._send(reply, addr)
        elif forward is not None:
            if len(self._forwards) >= self._max_pending_forwards:
                # Security consideration: a flood of uncached names must not open unbounded
                # upstream sockets; the client will retry.
                self._counters.overloaded += 1
                return
            task = asyncio.create_task(self._forward(data, forward, addr))
            self._forwards.add(task)
            task.add_done_callback(self._forwards.discard)

    def _send(self, reply: bytes, addr: Address) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(reply, addr)
        except (BlockingIOError, InterruptedError):
            # The send buffer is full: drop, as a router would; the client retries.
            self._counters.dropped += 1
        except OSError as error:
            log.debug("DNS UDP reply to %s failed: %s", addr[0], error)

    async def _forward(self, data: bytes, forward: Forward, addr: Address) -> None:
        message, _ = forward
        reply = await self._responder.forward(data, *forward)
        if len(reply) > message.reply_size_limit:
            reply = truncated_copy(reply, parse_message(reply))
        self._send(reply, addr)
