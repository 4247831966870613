"""CXNet and REST clients that behave like the public Tend clients (PROTOCOL.md section 9).

R (rfiorentino1/homebridge-myq): TLS ≤ 1.2 without verification, SNI = the login host on every
hop, follows `1=host:port` to that host AND port, reads `alias` from the session reply.
K (KyleBoyer/homebridge-myq-camera): verifies the certificate for the login host, resolves
every host with DNS only (an IP literal fails), always dials the cloud port, insists on a
redirect first, logs in again 250 ms after connecting and wants `sid`/`session-id`.

`Dialer` says how a client reaches a name: the resolver (fakecloud's DNS shim on loopback, or
the system resolver inside a network namespace), the TLS context (or none, for the broker
tests' plain listener) and the fixed SNI name.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.exception
import httpx

from tests.interop.wire import (
    LOGIN_HOST,
    Action,
    CxFrame,
    FrameReader,
    KCamera,
    WireError,
    k_cameras,
    k_command,
    k_keepalive,
    k_login_frame,
    k_redirect,
    r_command,
    r_login_frame,
    r_redirect,
)

READ_CHUNK = 64 * 1024
KEEPALIVE_SECONDS = 20.0  # K's TendConnectionManager interval
K_SECOND_LOGIN_DELAY = 0.25  # K waits this long after connecting before its second login
MAX_HOPS = 5  # R's redirect loop bound

Resolve = Callable[[str], Awaitable[list[str]]]


class LoginFailed(Exception):
    """The login did not end in a session the way the public client needs. `reply` is the
    frame that ended it, if any; `link` the connection R leaves open after an error reply."""

    def __init__(
        self, reason: str, reply: CxFrame | None = None, link: CxLink | None = None
    ) -> None:
        super().__init__(reason)
        self.reply, self.link = reply, link


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def dns_only(query: Resolve) -> Resolve:
    """K's `dns.resolve4`: names only. An IP literal is refused without a query (resolve4
    would ask DNS for it as a name and find nothing)."""

    async def resolve4(host: str) -> list[str]:
        if is_ip_literal(host):
            raise LoginFailed(f"{host} is an IP literal; resolve4 finds no A record for it")
        return sorted(await query(host))

    return resolve4


def dns_resolver(nameserver: str | None = None, port: int = 53) -> Resolve:
    """A records from DNS: `nameserver` (fakecloud's shim on loopback) or, with none, the
    system's (/etc/resolv.conf; inside `ip netns exec` that is /etc/netns/<name>/resolv.conf)."""
    resolver = dns.asyncresolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers, resolver.port = [nameserver], port
    resolver.lifetime = 5.0

    async def query(host: str) -> list[str]:
        try:
            answer = await resolver.resolve(host, "A")
        except dns.exception.DNSException as error:
            raise LoginFailed(f"CXS hostname did not resolve: {host} ({error})") from None
        return [record.address for record in answer]

    return dns_only(query)


def lookup_resolver(fallback: Resolve | None = None) -> Resolve:
    """R's (Node's default) lookup: an IP literal as it is, a name through `fallback` when
    given (a test's DNS shim on loopback), else the system's getaddrinfo."""

    async def lookup(host: str) -> list[str]:
        if is_ip_literal(host):
            return [host]
        if fallback is not None:
            return await fallback(host)
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, None, family=socket.AF_INET, type=socket.SOCK_STREAM
        )
        return [str(info[4][0]) for info in infos]

    return lookup


def r_tls_context() -> ssl.SSLContext:
    # Security consideration: R itself does not verify (`rejectUnauthorized: false`); this is
    # its behaviour reproduced, pointed at a test server only.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def k_tls_context(ca_file: Path) -> ssl.SSLContext:
    """K's `rejectUnauthorized: true`, with fakecloud's CA as the trust store."""
    return ssl.create_default_context(cafile=str(ca_file))


@dataclass
class Dialer:
    """`sni` is the name sent in TLS on every connection; "" sends none (asyncio's convention;
    only with a context that does not check the host name, as R's)."""

    resolve: Resolve
    tls: ssl.SSLContext | None
    sni: str = LOGIN_HOST
    connect_timeout: float = 10.0

    async def open(self, host: str, port: int, address_index: int = 0) -> CxLink:
        addresses = await self.resolve(host)
        if not addresses:
            raise LoginFailed(f"CXS hostname did not resolve: {host}")
        address = addresses[address_index % len(addresses)]
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(
                address, port, ssl=self.tls, server_hostname=self.sni if self.tls else None
            )
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # K's setNoDelay
        return CxLink(reader, writer, address)


class CxLink:
    """One CXNet connection. Frames are read on demand; `received` keeps every frame seen."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str
    ) -> None:
        self.reader, self.writer, self.address = reader, writer, address
        self._decoder = FrameReader()
        self._ready: list[CxFrame] = []
        self.received: list[CxFrame] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def next(self, timeout: float) -> CxFrame:  # noqa: ASYNC109 - each client's own limit
        async with asyncio.timeout(timeout):
            while not self._ready:
                data = await self.reader.read(READ_CHUNK)
                if not data:
                    raise ConnectionError("CXS connection closed")
                self._ready += self._decoder.feed(data)
        frame = self._ready.pop(0)
        self.received.append(frame)
        return frame

    async def wait_for(
        self,
        wanted: Callable[[CxFrame], bool],
        timeout: float,  # noqa: ASYNC109
    ) -> CxFrame:
        """The first frame `wanted` accepts (R also returns on an error frame); the frames
        skipped on the way stay in `received`."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.next(max(0.0, deadline - time.monotonic()))
            if wanted(frame) or frame.action == Action.ERROR:
                return frame

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            await self.writer.wait_closed()


@dataclass
class TendLogin:
    """What a finished login leaves: the link, the session block, the reply and the hops."""

    link: CxLink
    block: bytes
    welcome: dict[str, str]
    hops: list[tuple[str, int, CxFrame]] = field(default_factory=list)

    @property
    def redirects(self) -> int:
        return len(self.hops) - 1

    @property
    def redirect_replies(self) -> list[dict[str, str]]:
        """The properties of every reply that sent the client on (all hops but the last)."""
        return [reply.properties.as_dict() for _, _, reply in self.hops[:-1]]


async def r_login(dialer: Dialer, host: str, port: int, token: str) -> TendLogin:
    """tend-stream.ts start(): up to five hops; a 519 reply with `1` redirects, another 519
    is the session; anything else (or no reply in 20 s) fails. The alias must be there."""
    frame = r_login_frame(token)
    hops: list[tuple[str, int, CxFrame]] = []
    for _ in range(MAX_HOPS):
        link = await dialer.open(host, port)
        await link.send(frame)
        try:
            reply = await link.next(20.0)
        except (TimeoutError, ConnectionError) as error:
            await link.close()
            raise LoginFailed(f"CXNet login failed: {error or 'TIMEOUT'}") from None
        hops.append((host, port, reply))
        if reply.action != Action.LOGIN:
            reason = f"CXNet login failed: ERROR {reply.properties.as_dict()}"
            raise LoginFailed(reason, reply, link)
        properties = reply.properties
        target = r_redirect(properties)
        if target is None:
            if not properties.get("alias"):
                await link.close()
                raise LoginFailed("CXNet sign-in returned no alias")
            return TendLogin(link, reply.block, properties, hops)
        await link.close()
        host, port = target
    raise LoginFailed(f"more than {MAX_HOPS} redirects")


async def k_front_door(dialer: Dialer, port: int, frame: bytes) -> tuple[str, CxFrame]:
    """K's first hop: the login host, whose reply must name a broker; then K hangs up."""
    link = await dialer.open(dialer.sni, port)
    try:
        await link.send(frame)
        reply = await link.next(5.0)
    except (TimeoutError, ConnectionError) as error:
        raise LoginFailed(f"CXS front-door login failed: {error or 'timeout'}") from None
    finally:
        await link.close()
    try:
        return k_redirect(reply.properties), reply
    except WireError as error:
        raise LoginFailed(str(error), reply) from None


async def k_login(dialer: Dialer, port: int, token: str) -> TendLogin:
    """cxs.ts login(): the front door, then the broker it named on the SAME port, the
    identical packet 250 ms after connecting, up to five replies until one has a session."""
    frame = k_login_frame(token)
    broker, reply = await k_front_door(dialer, port, frame)
    hops = [(dialer.sni, port, reply)]
    link = await dialer.open(broker, port)
    await asyncio.sleep(K_SECOND_LOGIN_DELAY)  # K's own pacing, not synchronisation
    await link.send(frame)
    for _ in range(5):
        try:
            answer = await link.next(5.0)
        except (TimeoutError, ConnectionError) as error:
            await link.close()
            raise LoginFailed(f"CXS broker login failed: {error or 'timeout'}") from None
        properties = answer.properties
        if properties.get("sid") or properties.get("session-id"):
            hops.append((broker, port, answer))
            return TendLogin(link, answer.block, properties, hops)
    await link.close()
    raise LoginFailed("Tend broker login did not return session properties")


def correlation_id(style: str) -> str:
    """R: 16 random bytes in hex; K: `LOG-` and a UUID without dashes."""
    return secrets.token_hex(16) if style == "R" else f"LOG-{uuid.uuid4().hex}"


@dataclass
class Signalling:
    """A logged-in session as a client uses it: commands, keepalive, the frames that came."""

    style: str  # "R" or "K"
    login: TendLogin

    @property
    def link(self) -> CxLink:
        return self.login.link

    @property
    def alias(self) -> str:
        return self.login.welcome.get("alias", "")

    def cameras(self) -> list[KCamera]:
        return k_cameras(self.login.welcome)

    async def command(self, destination: str, command: str, correlation: str | None = None) -> str:
        correlation = correlation or correlation_id(self.style)
        encode = r_command if self.style == "R" else k_command
        await self.link.send(encode(self.login.block, destination, command, correlation))
        return correlation

    async def keepalive(self) -> None:
        await self.link.send(k_keepalive(self.login.block))

    async def keep_alive_forever(self, interval: float = KEEPALIVE_SECONDS) -> None:
        """K's keepalive timer: a 526 with the login reply's block every `interval` seconds."""
        while True:
            await asyncio.sleep(interval)  # the client's own cadence
            await self.keepalive()

    async def drain(self) -> None:
        """Read (and keep in `link.received`) whatever arrives while streaming."""
        while True:
            await self.link.next(3600.0)

    async def close(self) -> None:
        await self.link.close()


# --- REST (R's tend-api.ts) ---------------------------------------------------------------------

REST_HOST = "media.hubs.tend-us.tendplatform.com"
USER_AGENT = "myQ/310.0.63387 CFNetwork/3860.600.12 Darwin/25.5.0"
APP_VERSION = "5.310.0.63387"


@dataclass(frozen=True)
class RestCamera:
    """tend-types.ts TendCameraInfo, the fields the stream needs."""

    id: str
    serial_number: str
    alias: str  # `<account alias>:<MAC>`: R's CX_DSTID
    mac: str
    name: str
    account_alias: str
    aes_key: str


def rest_camera(device: dict[str, Any], account_alias: str) -> RestCamera | None:
    """buildCameraInfo: id, serialNumber and alias are required; the MAC is the alias's last
    six colon-separated fields; the AES key is settings.p2pKey."""
    device_id, serial, alias = device.get("id"), device.get("serialNumber"), device.get("alias")
    if not device_id or not serial or not isinstance(alias, str) or not alias:
        return None
    settings = device.get("settings") if isinstance(device.get("settings"), dict) else {}
    name = settings.get("displayName") or f"myQ Camera {device_id}"
    mac = ":".join(alias.split(":")[-6:])
    return RestCamera(
        str(device_id), str(serial), alias, mac, str(name), account_alias,
        str(settings.get("p2pKey") or ""),
    )  # fmt: skip


@dataclass
class TendApi:
    """listCameras(): `GET /cxs/api/devices` with Bearer + AntiCSRF, `items` of type cam, each
    fetched again in full. `address`/`port` say where REST_HOST is reached; the certificate
    is checked for REST_HOST (Node's fetch verifies) against `verify`."""

    token: str
    address: str
    port: int
    verify: ssl.SSLContext | None  # None: plain HTTP (the HTTP port)

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "AntiCSRF": "AntiCSRF",
            "User-Agent": USER_AGENT,
            "App-Version": APP_VERSION,
            "Host": REST_HOST,
        }

    async def _get(self, client: httpx.AsyncClient, path: str) -> httpx.Response:
        scheme = "https" if self.verify else "http"
        extensions = {"sni_hostname": REST_HOST} if self.verify else {}
        return await client.get(
            f"{scheme}://{self.address}:{self.port}{path}",
            headers=self._headers(),
            extensions=extensions,
        )

    async def list_cameras(self) -> list[RestCamera]:
        async with httpx.AsyncClient(verify=self.verify or False, timeout=10.0) as client:
            listing = await self._get(client, "/cxs/api/devices")
            if listing.status_code != 200:
                return []
            cameras = []
            for item in listing.json().get("items") or []:
                if not isinstance(item, dict) or item.get("type") != "cam":
                    continue
                full = await self._get(client, f"/cxs/api/devices/{item.get('id')}")
                if full.status_code != 200:
                    continue
                ownership = item.get("ownership") if isinstance(item.get("ownership"), dict) else {}
                camera = rest_camera(full.json(), str(ownership.get("ownerAlias") or ""))
                if camera is not None:
                    cameras.append(camera)
            return cameras
