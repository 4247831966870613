"""A simulated Tend-style app: logs in (following a redirect), lists cameras, sends commands."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections import deque
from dataclasses import dataclass

from fakecloud.net.commands import parse_plus_fields
from fakecloud.net.cxnet import Action, Frame
from fakecloud.net.properties import Properties, encode_properties, parse_properties
from fakecloud.sim import CxnetLink
from fakecloud.sim.camera import LoginRefused

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
RECENT_FRAMES = 64
# The login's body, as the Tend SDK writes it: the same block twice.
LOGIN_BODY_BLOCK = encode_properties({"CX_UNAME": "", "mode": "0"})
TOKEN_MARKER = ".accessToken:"
DEFAULT_PARTNER = "myQ"


def token_password(token: str) -> str:
    """CX_PASSWD for an access token: kept when already `<partner>.accessToken:<token>`."""
    return token if TOKEN_MARKER in token else f"{DEFAULT_PARTNER}{TOKEN_MARKER}{token}"


@dataclass(frozen=True, slots=True)
class CameraEntry:
    """One line of the login reply's device-info-list."""

    device_id: int
    mac: str
    destination: str  # CX_DSTID form `<id>:<mac>`
    online: bool
    fields: dict[str, str]


def read_device_info_list(text: str) -> list[CameraEntry]:
    entries = []
    for line in text.splitlines():
        destination, _, rest = line.partition(",")
        device_id, _, mac = destination.partition(":")
        if not device_id.isdigit():
            continue
        fields = parse_plus_fields(rest)
        online = fields.get("PWR_SLEEP_MODE") != "DEEP"
        entries.append(CameraEntry(int(device_id), mac, destination, online, fields))
    return entries


class SimulatedApp:
    """One app session; `login()` first, then `cameras` and `command()`.

    With a `token` it logs in as every public Tend client does (docs/protocol.md section 9):
    `CX_UNAME` empty and `CX_PASSWD=myQ.accessToken:<token>`, the account found by the token.
    Otherwise with `login` and `password`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        login: str = "",
        password: str = "",
        token: str | None = None,
        tls: bool = False,
    ) -> None:
        if token is None and not login:
            raise ValueError("give a token, or a login and password")
        self.host = host
        self.port = port
        self.login_name = "" if token is not None else login
        self.password = token_password(token) if token is not None else password
        self.tls = tls
        self.welcome = Properties()
        self.redirects = 0
        # Frames that arrived while a command waited for its answer (offers, events), newest last.
        self.other_frames: deque[Frame] = deque(maxlen=RECENT_FRAMES)
        self._link: CxnetLink | None = None
        self._session = bytes(16)

    @property
    def cameras(self) -> list[CameraEntry]:
        return read_device_info_list(self.welcome.get("device-info-list", "") or "")

    async def login(self, timeout: float = 10.0) -> Properties:  # noqa: ASYNC109 - per step
        host, port = self.host, self.port
        for _ in range(MAX_REDIRECTS + 1):
            try:
                link = await CxnetLink.open(host, port, tls=self.tls, connect_timeout=timeout)
            except socket.gaierror:
                if host == self.host:
                    raise
                # The redirect names fakecloud's broker host, which only its DNS shim knows.
                log.info(
                    "%s does not resolve here (is this machine's DNS fakecloud's shim?); "
                    "dialling %s instead",
                    host,
                    self.host,
                )
                host = self.host
                link = await CxnetLink.open(host, port, tls=self.tls, connect_timeout=timeout)
            await link.send(self._login_frame())
            async with asyncio.timeout(timeout):
                reply = await link.receive()
            answer = parse_properties(reply.body)
            if reply.action == Action.ERROR:
                await link.close()
                raise LoginRefused(answer.get("reason") or "login refused")
            if answer.get("sid") or answer.get("session-id"):
                self._link, self._session, self.welcome = link, reply.session, answer
                return answer
            await link.close()
            host, port = self._redirect_target(answer, host, port)
            self.redirects += 1
        raise LoginRefused(f"more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _redirect_target(answer: Properties, host: str, port: int) -> tuple[str, int]:
        numbered = answer.get("1")
        if numbered:
            target_host, _, target_port = numbered.rpartition(":")
            if target_port.isdigit():
                return target_host, int(target_port)
        redirect_host = answer.get("redirectHost")
        if redirect_host:
            return redirect_host, port
        raise LoginRefused("login reply has neither a session nor a redirect")

    def _login_frame(self) -> Frame:
        options = encode_properties(
            {
                "CX_UNAME": self.login_name,
                "CX_PASSWD": self.password,
                "partner-id": "Belkin",
                "client_type": "fakecloud-sim-app",
                "sdk-version": "0",
                "os_name": "Python",
            }
        )
        return Frame(
            action=Action.LOGIN, version=1, crypto=2, options=options, body=LOGIN_BODY_BLOCK * 2
        )

    async def command(
        self,
        destination: str,
        command: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - matches Broker.send_command
    ) -> Frame:
        """Send a command and return the first frame that answers it (or an error frame)."""
        if self._link is None:
            raise ConnectionError("log in first")
        correlation = f"SIM-{secrets.token_hex(6)}"
        options = encode_properties({"CX_DSTID": destination, "CorrelationID": correlation})
        await self._link.send(
            Frame(
                action=Action.COMMAND, session=self._session, options=options, body=command.encode()
            )
        )
        async with asyncio.timeout(timeout):
            while True:
                reply = await self._link.receive()
                if parse_properties(reply.options).get("CorrelationID") == correlation:
                    return reply
                self.other_frames.append(reply)

    async def keepalive(self, timeout: float = 10.0) -> Frame:  # noqa: ASYNC109
        if self._link is None:
            raise ConnectionError("log in first")
        await self._link.send(Frame(action=Action.KEEPALIVE, session=self._session))
        async with asyncio.timeout(timeout):
            return await self._link.receive()

    async def close(self) -> None:
        if self._link is not None:
            await self._link.close()
            self._link = None
