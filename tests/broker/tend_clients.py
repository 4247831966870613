"""The two public Tend clients for the broker tests, behaving as PROTOCOL.md section 9 says and
as their source does (R: rfiorentino1/homebridge-myq, K: KyleBoyer/homebridge-myq-camera),
over the broker tests' plain loopback listener. The login packets, redirect rules and session
use are tests/interop's (written from the public clients, not from our codec); that package
adds TLS, DNS and media.

Both log in with the token alone: `CX_UNAME` empty, `CX_PASSWD=myQ.accessToken:<secret>`.
R: version 1 crypto 2, follows `1=host:port` to that host and port, or takes the session at once.
K: version 3 and result 2 everywhere, a `#timestamp` comment first in every properties block,
insists on a redirect, resolves its target by name only (an IP literal fails) and dials the
same port again.
"""

from __future__ import annotations

import asyncio

from tests.interop.clients import (
    CxLink,
    Dialer,
    LoginFailed,
    Resolve,
    Signalling,
    TendLogin,
    dns_only,
    k_login,
    lookup_resolver,
    r_login,
)
from tests.interop.wire import ZERO_BLOCK, CxFrame, FrameReader, PropertyMap, pack

__all__ = ["KClient", "RClient", "TendClient", "pack", "read_reply"]

RECEIVE_TIMEOUT = 5.0


async def read_reply(reader: asyncio.StreamReader) -> CxFrame:
    """One whole frame from a raw stream (for tests that write frames by hand)."""
    decoder = FrameReader()
    while True:
        data = await reader.read(4096)
        if not data:
            raise ConnectionError("the server closed the connection")
        frames = decoder.feed(data)
        if frames:
            return frames[0]


class TendClient:
    """`login` is the caller's note of whose token `secret` is: like the public clients, the
    wire carries only the token (bare or already in `<partner>.accessToken:` form)."""

    style = "?"

    def __init__(self, host: str, port: int, login: str, secret: str) -> None:
        self.host, self.port, self.login, self.secret = host, port, login, secret
        self.block = ZERO_BLOCK
        self.welcome = PropertyMap()
        self.redirected = False
        self._session: Signalling | None = None
        self._link: CxLink | None = None

    async def _to_broker(self, host: str) -> list[str]:
        """The broker tests have no DNS: every name is the broker under test."""
        return [self.host]

    def _resolve(self) -> Resolve:
        raise NotImplementedError

    async def _log_in(self, dialer: Dialer) -> TendLogin:
        raise NotImplementedError

    async def log_in(self) -> CxFrame:
        """The reply that ended the login: the session's, or the refusal."""
        await self.close()
        try:
            login = await self._log_in(Dialer(self._resolve(), tls=None))
        except LoginFailed as failed:
            if failed.reply is None:
                raise
            self._link = failed.link
            return failed.reply
        self._session, self._link = Signalling(self.style, login), login.link
        self.block, self.welcome = login.block, PropertyMap(login.welcome)
        self.redirected = login.redirects > 0
        return login.hops[-1][2]

    @property
    def _reader(self) -> asyncio.StreamReader | None:
        return self._link.reader if self._link else None

    def _signalling(self) -> Signalling:
        if self._session is None:
            raise ConnectionError("log in first")
        return self._session

    async def receive(self) -> CxFrame:
        if self._link is None:
            raise ConnectionError("log in first")
        return await self._link.next(RECEIVE_TIMEOUT)

    async def command(self, destination: str, command: str, correlation: str) -> None:
        await self._signalling().command(destination, command, correlation)

    async def keepalive(self) -> None:
        await self._signalling().keepalive()

    async def close(self) -> None:
        if self._link is not None:
            await self._link.close()
            self._link = self._session = None


class RClient(TendClient):
    style = "R"

    def _resolve(self) -> Resolve:
        return lookup_resolver(self._to_broker)

    async def _log_in(self, dialer: Dialer) -> TendLogin:
        return await r_login(dialer, self.host, self.port, self.secret)


class KClient(TendClient):
    style = "K"

    def _resolve(self) -> Resolve:
        return dns_only(self._to_broker)

    async def _log_in(self, dialer: Dialer) -> TendLogin:
        return await k_login(dialer, self.port, self.secret)
