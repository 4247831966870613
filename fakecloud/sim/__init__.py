"""Simulated CXNet clients (a NetCam under our login hypothesis, and a Tend-style app).

`CxnetLink` is the framed connection both use.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from fakecloud.net.cxnet import DEFAULT_MAX_BODY, Frame, FrameDecoder, encode_frame

READ_CHUNK = 64 * 1024


def parse_server(text: str) -> tuple[str, int]:
    """'HOST:PORT' or '[v6]:PORT' -> (host, port); ValueError on anything else."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def client_tls_context() -> ssl.SSLContext:
    # Security consideration: like the public Tend clients, the simulators do not verify the
    # broker's certificate; they are test tools pointed at a server their user chose.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class CxnetLink:
    """One CXNet connection: send frames, receive them one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = FrameDecoder(max_body=DEFAULT_MAX_BODY)
        self._ready: list[Frame] = []

    @classmethod
    async def open(
        cls, host: str, port: int, *, tls: bool = False, connect_timeout: float = 10.0
    ) -> CxnetLink:
        async with asyncio.timeout(connect_timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=client_tls_context() if tls else None
            )
        return cls(reader, writer)

    async def send(self, frame: Frame) -> None:
        self._writer.write(encode_frame(frame))
        await self._writer.drain()

    async def receive(self) -> Frame:
        """The next frame; ConnectionError when the server closes (CXNetError on garbage)."""
        while not self._ready:
            data = await self._reader.read(READ_CHUNK)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._ready.extend(self._decoder.feed(data))
        return self._ready.pop(0)

    def abort(self) -> None:
        self._writer.transport.abort()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            await self._writer.wait_closed()
