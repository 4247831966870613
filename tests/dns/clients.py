"""Real DNS clients (dig, dnspython, raw sockets) for the shim tests, and hostile packets."""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.asyncquery
import dns.message
from dnslib import DNSRecord

from fakecloud.dns import DnsPart

TIMEOUT = 2.0


async def dig(port: int, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "dig", "+time=2", "+tries=1", "-p", str(port), "@127.0.0.1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await asyncio.wait_for(process.communicate(), 10)
    return stdout.decode()


async def ask(
    part: DnsPart, name: str, rdtype: str = "A", *, tcp: bool = False
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    assert part.port is not None
    if tcp:
        return await dns.asyncquery.tcp(query, "127.0.0.1", timeout=TIMEOUT, port=part.port)
    return await dns.asyncquery.udp(query, "127.0.0.1", timeout=TIMEOUT, port=part.port)


def addresses(reply: dns.message.Message) -> list[str]:
    return [item.address for rrset in reply.answer for item in rrset]


def raw_exchange(port: int, packet: bytes, timeout: float = 0.5) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(timeout)
        client.sendto(packet, ("127.0.0.1", port))
        try:
            return client.recv(65535)
        except TimeoutError:
            return None


HEADER = struct.Struct("!HHHHHH")
GOOD_QUERY = DNSRecord.question("server.seedonk.com").pack()


HOSTILE_PACKETS = {
    "truncated header": (b"\x12\x34\x01", None),
    "truncated question": (GOOD_QUERY[:-3], 1),
    "pointer loop": (HEADER.pack(7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01", 1),
    "two pointer cycle": (
        HEADER.pack(7, 0x0100, 1, 0, 0, 0) + b"\x01a" * 218 + b"\xc1\xc1\xc0\x00\x01\x00\x01",
        1,
    ),
    "oversized": (GOOD_QUERY + b"\x00" * 5000, 1),
    "two questions": (HEADER.pack(7, 0x0100, 2, 0, 0, 0) + GOOD_QUERY[12:] * 2, 1),
    "no question": (HEADER.pack(7, 0x0100, 0, 0, 0, 0), 1),
    "notify opcode": (HEADER.pack(7, 0x2000, 1, 0, 0, 0) + GOOD_QUERY[12:], 4),
    "update opcode": (HEADER.pack(7, 0x2800, 1, 0, 0, 0) + GOOD_QUERY[12:], 4),
    "response sent to us": (HEADER.pack(7, 0x8180, 1, 0, 0, 0) + GOOD_QUERY[12:], None),
    "answer in a query": (HEADER.pack(7, 0x0100, 1, 1, 0, 0) + GOOD_QUERY[12:], 1),
}


TCP_SHARE_TIMEOUT = 5.0


async def tcp_query(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> DNSRecord:
    writer.write(struct.pack("!H", len(GOOD_QUERY)) + GOOD_QUERY)
    async with asyncio.timeout(TCP_SHARE_TIMEOUT):
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        return DNSRecord.parse(await reader.readexactly(length))


def edns_query(name: str, payload: int) -> dns.message.Message:
    return dns.message.make_query(name, "A", use_edns=0, payload=payload)
