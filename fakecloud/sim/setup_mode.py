"""A NetCam in setup mode: its own HTTP API (docs/protocol.md section 5), Basic admin:admin,
the same pages and answers, so `fakecloud setup-camera` is tested end to end on loopback.

After joining Wi-Fi the simulated camera checks what a real one checks [C]: it resolves
server.seedonk.com (with dnspython, at a resolver the test names: fakecloud's DNS shim) and
pings the address it got (a real ICMP echo). How a real camera makes its account calls to the
cloud is [U]; here `account_check` decides, and by default every non-empty login succeeds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import dns.asyncquery
import dns.exception
import dns.message
import dns.rdatatype
from fastapi import FastAPI, Request, Response

from fakecloud.core.ping import ping
from fakecloud.frontdoor.budgets import ConnectionBudget
from fakecloud.net.setup_answers import NO_SUCH_ACCOUNT, UNSETUP_WORD, Site, format_sites
from fakecloud.web.asgi import AsgiProtocolFactory
from fakecloud.web.http_part import HttpPart
from fakecloud.web.limits import BodyLimit

log = logging.getLogger(__name__)

SETUP_ADDRESS = "10.68.68.22"  # where a real camera sits in setup mode [C]
SERVER_NAME = "server.seedonk.com"
MAX_FORM_BYTES = 16 << 10
MAX_FORM_FIELDS = 32
MAX_CONNECTIONS = 16  # one app or tool talks to a camera in setup mode
CHECK_TIMEOUT_SECONDS = 2.0
# (login, password) -> None for success or an error number (docs/protocol.md section 5).
AccountCheck = Callable[[str, str], Awaitable[int | None]]


async def _anyone(login: str, password: str) -> int | None:
    return None if login and password else 0


@dataclass
class SetupModeCamera:
    """The state a camera in setup mode keeps; the HTTP layer is `setup_mode_app`."""

    networks: dict[str, tuple[Site, str]]  # SSID -> (what the scan shows, its password)
    resolver: tuple[str, int] | None = None  # None: no DNS on this network ('fail to dns')
    mac: str = "94:10:3e:00:00:01"
    firmware: str = "2.4.8.5-sim"
    user: str = "admin"
    password: str = "admin"
    pending_polls: int = 1  # verifyApcliMode answers "connecting" this often first
    account_check: AccountCheck = _anyone
    # What the app and the tool told the camera, for tests to read.
    server_host: str | None = None
    joined: dict[str, str] = field(default_factory=dict)
    owner: tuple[str, str] | None = None
    name: str | None = None
    left_setup: asyncio.Event = field(default_factory=asyncio.Event)
    secret: str = field(default_factory=lambda: secrets.token_hex(8))
    _polls: int = field(default=0, init=False, repr=False)
    _verdict: str | None = field(default=None, init=False, repr=False)

    def authorised(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        try:
            given = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.user}:{self.password}"
        return scheme.lower() == "basic" and hmac.compare_digest(given, expected)

    def join(self, form: dict[str, str]) -> None:
        self.joined = form
        self._polls, self._verdict = 0, None

    async def verify(self) -> str:
        """'connecting' for the first polls, then the outcome of the real camera's checks."""
        if not self.joined:
            return "fail to get ip"
        self._polls += 1
        if self._polls <= self.pending_polls:
            return "connecting"
        if self._verdict is None:
            self._verdict = await self._check_network()
        return self._verdict

    async def _check_network(self) -> str:
        known = self.networks.get(self.joined.get("apcli_ssid", ""))
        if known is None or known[1] != self.joined.get("apcli_wpapsk", ""):
            return "fail to get ip"  # a wrong key: the router never hands out an address
        address = await self._resolve()
        if address is None:
            return "fail to dns"
        try:
            answered = await asyncio.to_thread(ping, address, CHECK_TIMEOUT_SECONDS)
        except PermissionError:
            log.warning("the simulator may not send ICMP; assuming %s answers ping", address)
            answered = True
        return "success" if answered else "fail to ping"

    async def _resolve(self) -> str | None:
        if self.resolver is None:
            return None
        query = dns.message.make_query(SERVER_NAME, dns.rdatatype.A)
        host, port = self.resolver
        try:
            answer = await dns.asyncquery.udp(query, host, timeout=CHECK_TIMEOUT_SECONDS, port=port)
        except (dns.exception.DNSException, OSError):
            return None
        addresses = [item.to_text() for rrset in answer.answer for item in rrset]
        return addresses[0] if addresses else None

    def system_settings(self) -> str:
        # [U] the real layout; key=value lines are what fakecloud's parser reads first.
        return f"MacAddress={self.mac}\r\nFirmwareVersion={self.firmware}\r\nModel=F7D7601\r\n"

    def leave_setup(self) -> str:
        self.left_setup.set()
        login, password = self.owner or ("", "")
        # [C] UnsetupMode followed by secrets; their layout here is the simulator's own.
        return (
            f"{UNSETUP_WORD}\r\nseedonk_login={login}\r\nseedonk_passwd={password}\r\n"
            f"secret={self.secret}\r\n"
        )


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    pairs = parse_qsl(body.decode("latin-1"), max_num_fields=MAX_FORM_FIELDS)
    return dict(pairs)


def setup_mode_app(camera: SetupModeCamera) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def basic_auth(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not camera.authorised(request.headers.get("authorization")):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="NetCam"'})
        return await call_next(request)

    @app.get("/apcam/for-android/CamPreview.asp")
    async def preview(request: Request) -> Response:
        camera.server_host = request.query_params.get("SeedonkServerIp")
        page = "<html><script>setServerIpAndLanguageId(QUERY_STRING);</script></html>"
        return Response(page, media_type="text/html")

    @app.api_route("/goform/getSystemSettings", methods=["GET", "POST"])
    async def system_settings() -> Response:
        return Response(camera.system_settings(), media_type="text/plain")

    @app.post("/goform/getApSitesInfo")
    async def sites() -> Response:
        listed = [site for site, _ in camera.networks.values()]
        return Response(format_sites(listed), media_type="text/plain")

    @app.post("/goform/wirelessAplist")
    async def choose(request: Request) -> Response:
        camera.join(await _form(request))
        return Response("success", media_type="text/plain")

    @app.post("/goform/verifyApcliMode")
    async def verify() -> Response:
        return Response(await camera.verify(), media_type="text/plain")

    async def account(login: str, password: str, create: bool) -> Response:
        error = await camera.account_check(login, password)
        if create and error == NO_SUCH_ACCOUNT:
            error = None  # the cloud creates it
        if error is None:
            camera.owner = (login, password)
            return Response("success", media_type="text/plain")
        return Response(str(error), media_type="text/plain")

    @app.post("/goform/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        return await account(form.get("owner_name", ""), form.get("owner_password", ""), False)

    @app.post("/goform/createAccount")
    async def create(request: Request) -> Response:
        form = await _form(request)
        return await account(form.get("seedonk_login", ""), form.get("seedonk_passwd", ""), True)

    @app.post("/goform/camRegister")
    async def register(request: Request) -> Response:
        if camera.owner is None:
            return Response("3", media_type="text/plain")
        camera.name = (await _form(request)).get("cameraname") or None
        return Response("success", media_type="text/plain")

    @app.post("/goform/apcamMode")
    async def leave() -> Response:
        return Response(camera.leave_setup(), media_type="text/plain")

    return app


def setup_mode_server(camera: SetupModeCamera, host: str = "127.0.0.1", port: int = 0) -> HttpPart:
    """A listener for the camera's API (start() it; `.port` is the bound port), with the same
    head, body and connection limits as fakecloud's own HTTP port."""
    app = BodyLimit(setup_mode_app(camera), MAX_FORM_BYTES)
    return HttpPart(
        AsgiProtocolFactory(app),
        host,
        port,
        max_connections=MAX_CONNECTIONS,
        budget=ConnectionBudget(MAX_CONNECTIONS, MAX_CONNECTIONS, pre_login_share=1.0),
        serves="setup-mode camera",
    )
