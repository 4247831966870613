"""Clients and a stand-in broker for the front-door tests, on real loopback sockets."""

from __future__ import annotations

import asyncio
import ssl
import struct

from fakecloud.frontdoor import ConnectionInfo

HOST = "127.0.0.1"
IO_TIMEOUT = 5.0


def cxnet_header(version: int = 1, action: int = 519) -> bytes:
    # marker, version, total_len, hlen, direction, data_len, service, action, crypto, server_id, to
    return struct.pack("<BBHHBIHHHHQ", 0x41, version, 43, 16, 0, 0, 121, action, 2, 0, 7)


class CxnetEcho:
    """A stand-in broker: answers every 27-byte header with b'ok' + the header."""

    def __init__(self) -> None:
        self.seen: asyncio.Queue[tuple[bytes, ConnectionInfo]] = asyncio.Queue()

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: ConnectionInfo
    ) -> None:
        while header := await reader.read(27):
            header += await reader.readexactly(27 - len(header))
            await self.seen.put((header, info))
            if header[1] == 2:
                raise RuntimeError("this test handler fails on version 2")
            writer.write(b"ok" + header)
            await writer.drain()


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes (a reset counts as closed)."""
    received = b""
    async with asyncio.timeout(IO_TIMEOUT):
        try:
            while chunk := await reader.read(65536):
                received += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
    return received


async def cxnet_round_trip(port: int, header: bytes, **tls: object) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port, **tls)  # type: ignore[arg-type]
    try:
        writer.write(header)
        async with asyncio.timeout(IO_TIMEOUT):
            return await reader.readexactly(2 + len(header))
    finally:
        writer.close()
