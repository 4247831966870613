"""A tiny upstream resolver on loopback with known answers and selectable misbehaviour."""

from __future__ import annotations

import asyncio
import errno
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

from dnslib import QTYPE, RR, A, DNSRecord

Behaviour = Literal["answer", "truncate", "silent", "wrong_id", "wrong_question"]
KNOWN = {
    "example.test.": "192.0.2.1",
    "big.example.test.": "192.0.2.2",
    "huge.example.test.": "192.0.2.3",
}
BIG_ANSWER_RECORDS = 60  # 60 A records: well over 512 bytes, under the 1232-byte EDNS clamp
HUGE_ANSWER_RECORDS = 200  # 200 A records: over 3 KiB, past the clamp
_BIND_ATTEMPTS = 5


def answer_for(query: DNSRecord, ttl: int) -> DNSRecord:
    reply = query.reply()
    name = str(query.q.qname).lower()
    if name not in KNOWN:
        reply.header.rcode = 3  # NXDOMAIN
        return reply
    if query.q.qtype == QTYPE.A:
        count = {"big.": BIG_ANSWER_RECORDS, "huge": HUGE_ANSWER_RECORDS}.get(name[:4], 1)
        for index in range(count):
            address = KNOWN[name] if index == 0 else f"198.51.100.{index}"
            reply.add_answer(RR(query.q.qname, QTYPE.A, ttl=ttl, rdata=A(address)))
    return reply


@dataclass
class StubResolver:
    behaviour: Behaviour = "answer"
    ttl: int = 300
    port: int = 0
    udp_queries: int = 0
    tcp_queries: int = 0
    seen: list[DNSRecord] = field(default_factory=list)
    _udp: asyncio.DatagramTransport | None = None
    _tcp: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> StubResolver:
        loop = asyncio.get_running_loop()
        # The kernel's UDP port may be in use for TCP (other tests' client sockets): try again.
        for _ in range(_BIND_ATTEMPTS):
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _StubUdp(self), local_addr=("127.0.0.1", 0)
            )
            self.port = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", self.port)
            except OSError as error:
                self._udp.close()
                if error.errno != errno.EADDRINUSE:
                    raise
                continue
            return self
        raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")

    async def stop(self) -> None:
        if self._udp:
            self._udp.close()
        if self._tcp:
            self._tcp.close()
            await self._tcp.wait_closed()

    def reply_udp(self, data: bytes) -> bytes | None:
        self.udp_queries += 1
        query = DNSRecord.parse(data)
        self.seen.append(query)
        if self.behaviour == "silent":
            return None
        reply = answer_for(query, self.ttl)
        if self.behaviour == "truncate":
            reply = query.reply()
            reply.header.tc = 1
        elif self.behaviour == "wrong_id":
            reply.header.id = (query.header.id + 1) % 0x10000
        elif self.behaviour == "wrong_question":
            reply.q.qname = "other.test."
        return reply.pack()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            query = DNSRecord.parse(await reader.readexactly(length))
            self.tcp_queries += 1
            packed = answer_for(query, self.ttl).pack()
            writer.write(struct.pack("!H", len(packed)) + packed)
            await writer.drain()
        finally:
            writer.close()


class _StubUdp(asyncio.DatagramProtocol):
    def __init__(self, stub: StubResolver) -> None:
        self._stub = stub
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        reply = self._stub.reply_udp(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
