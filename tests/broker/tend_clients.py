"""Two tiny CXNet clients written from the two public Tend readings, independent of our codec.

R (rfiorentino1/homebridge-myq): login version 1 crypto 2, commands version 3 crypto 0, plain
Properties, follows a `1=host:port` redirect or accepts the login directly.
K (KyleBoyer/homebridge-myq-camera): version 3 and crypto ("result") 2 everywhere, a `#timestamp`
comment first in every properties block, insists on a redirect before its real login.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from fakecloud.net.properties import Properties, parse_properties

ZERO_BLOCK = bytes(16)


@dataclass
class Reply:
    action: int
    block: bytes
    options: bytes
    body: bytes

    @property
    def properties(self) -> Properties:
        return parse_properties(self.body)


def pack(
    version: int, action: int, crypto: int, block: bytes, options: bytes, body: bytes
) -> bytes:
    total = 27 + len(block) + len(options)
    header = struct.pack("<BBHHBIHHH2sQ", 0x41, version, total, len(block), 0, len(body), 121,
                         action, crypto, b"**", 0)  # fmt: skip
    return header + block + options + body


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    header = await reader.readexactly(27)
    total, hlen = struct.unpack_from("<HH", header, 2)
    (body_len,) = struct.unpack_from("<I", header, 7)
    (action,) = struct.unpack_from("<H", header, 13)
    rest = await reader.readexactly(total - 27 + body_len)
    return Reply(action, rest[:hlen], rest[hlen : total - 27], rest[total - 27 :])


def r_properties(values: dict[str, str]) -> bytes:
    return "".join(f"{key}={value}\n" for key, value in values.items()).encode("latin-1")


def k_properties(values: dict[str, str]) -> bytes:
    lines = ["#Fri Mar 08 13:15:53 PST 2013", *(f"{k}={v}" for k, v in values.items())]
    return ("\n".join(lines) + "\n").encode("latin-1")


class TendClient:
    style = "?"

    def __init__(self, host: str, port: int, login: str, secret: str) -> None:
        self.host, self.port, self.login, self.secret = host, port, login, secret
        self.block = ZERO_BLOCK
        self.welcome = Properties()
        self.redirected = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self, host: str, port: int) -> None:
        await self.close()
        self._reader, self._writer = await asyncio.open_connection(host, port)

    async def _send(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def receive(self) -> Reply:
        assert self._reader is not None
        async with asyncio.timeout(5):
            return await read_reply(self._reader)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class RClient(TendClient):
    style = "R"

    def _login_frame(self) -> bytes:
        options = r_properties(
            {
                "CX_UNAME": self.login,
                "CX_PASSWD": self.secret,
                "os_name": "ANDROID",
                "os_version": "14",
                "partner-id": "myQ",
                "sdk-version": "5.310.0",
                "client_type": "homebridge-myq-tend/1.0",
            }
        )
        mode = r_properties({"CX_UNAME": "", "mode": "0"})
        return pack(1, 519, 2, ZERO_BLOCK, options, mode + mode)

    async def log_in(self) -> Reply:
        host, port = self.host, self.port
        for _ in range(2):
            await self._connect(host, port)
            await self._send(self._login_frame())
            reply = await self.receive()
            if reply.action != 519:
                return reply
            self.block = reply.block
            target = reply.properties.get("1")
            if not target:
                self.welcome = reply.properties
                return reply
            self.redirected = True
            host, _, port_text = target.rpartition(":")
            port = int(port_text)
        raise AssertionError("redirected twice")

    async def command(self, destination: str, command: str, correlation: str) -> None:
        options = r_properties({"CX_DSTID": destination, "CorrelationID": correlation})
        await self._send(pack(3, 411, 0, self.block, options, command.encode()))


class KClient(TendClient):
    style = "K"

    def _login_frame(self) -> bytes:
        source = k_properties(
            {
                "partner-id": "myQ",
                "CX_UNAME": self.login,
                "client_type": "Python myqcam",
                "sdk_version": "2.1.0.56",
                "CX_PASSWD": self.secret,
                "current_version": "5.243.1.73243",
                "os_name": "Python",
                "app-id": "com.chamberlain.android.liftmaster.myq",
                "os_version": "device-free",
            }
        )
        mode = k_properties({"CX_UNAME": "", "mode": "0"})
        return pack(3, 519, 2, ZERO_BLOCK, source, mode + mode)

    async def log_in(self) -> Reply:
        await self._connect(self.host, self.port)
        await self._send(self._login_frame())
        first = await self.receive()
        redirect = first.properties
        host = redirect.get("redirectHost")
        if not host:
            numbered = [value for key, value in redirect if key.isdigit()]
            if not numbered:
                return first  # K treats this as a failure: no broker named
            host = numbered[0].rpartition(":")[0]
        self.redirected = True
        await self._connect(host, self.port)  # K always uses its fixed login port
        await self._send(self._login_frame())
        for _ in range(5):
            reply = await self.receive()
            if reply.properties.get("sid") or reply.properties.get("session-id"):
                self.block = reply.block
                self.welcome = reply.properties
                return reply
        raise AssertionError("no session properties in five replies")

    async def keepalive(self) -> None:
        await self._send(pack(3, 526, 2, self.block, b"", b""))

    async def command(self, destination: str, command: str, correlation: str) -> None:
        source = k_properties({"CorrelationID": correlation, "CX_DSTID": destination})
        await self._send(pack(3, 411, 2, self.block, source, command.encode()))
