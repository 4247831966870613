"""Which `Host` a request may name: fakecloud's own names and addresses only (docs/security.md).

Security consideration: a web page a browser on the server (or on the LAN) loads can point its
own name at 127.0.0.1 or at fakecloud's LAN address (DNS rebinding) and then read fakecloud's
answers as its own origin, with the trust loopback gets. Such a request still carries the
attacker's name in `Host`, so answering only for our own names closes the hole.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from fakecloud.catalogue import Catalogue, normalise
from fakecloud.core.config import Settings
from fakecloud.web.ingress import INGRESS_PATH_HEADER, trusted_prefix

# Probes (Docker's health check, load balancers) send whatever Host they like; the answer is a
# constant, so a rebinding page learns nothing from it.
UNCHECKED_PATHS = frozenset({"/healthz"})
LOCAL_NAMES = ("localhost", "localhost.localdomain")
MAX_HOST_LENGTH = 255


class BadHostError(ValueError):
    """A Host header that names no host at all."""


def host_of(header: str) -> str:
    """The host part of a Host header, lower case, without port, brackets or trailing dot."""
    text = header.strip()
    if not text or len(text) > MAX_HOST_LENGTH or not text.isascii():
        raise BadHostError("empty, over-long or non-ASCII Host")
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not _is_port_suffix(rest)):
            raise BadHostError(f"malformed IPv6 Host {header!r}")
        return _checked_address(address)
    if text.count(":") > 1:  # a bare IPv6 address, as some clients send it
        return _checked_address(text)
    name, colon, port = text.partition(":")
    if colon and not port.isdigit():
        raise BadHostError(f"malformed port in Host {header!r}")
    host = normalise(name)
    if not host or any(not label for label in host.split(".")):
        raise BadHostError(f"malformed Host {header!r}")
    return host


def _is_port_suffix(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit()


def _checked_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        raise BadHostError(f"{text!r} is not an IP address") from None


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AllowedHosts:
    """The policy: any IP address, localhost, this machine's name, the names fakecloud answers in
    DNS (catalogue, extra_hostnames, broker_hostname), the vendors' domains and the owner's
    `allowed_hosts`."""

    def __init__(self, catalogue: Catalogue, machine_names: Iterable[str] = ()):
        self._catalogue = catalogue
        self._names = frozenset(normalise(name) for name in (*LOCAL_NAMES, *machine_names))

    @classmethod
    def for_settings(cls, settings: Settings, catalogue: Catalogue) -> AllowedHosts:
        ours = catalogue.with_extra_names(
            [*settings.extra_hostnames, settings.broker_hostname, *settings.allowed_hosts]
        )
        return cls(ours, machine_names())

    def allows(self, host: str) -> bool:
        # Security consideration: an address in Host is safe whatever it is: a browser sends
        # the address it was asked to connect to, which a rebinding page cannot choose for us.
        # A vendor's domain (belkin.com...) passes too, so a camera's request for a name the
        # catalogue does not list yet still reaches the capture log; no attacker page lives there.
        return (
            is_address(host)
            or host in self._names
            or self._catalogue.should_redirect(host)
            or self._catalogue.is_vendor_name(host)
        )


def machine_names() -> list[str]:
    """This machine's own name, bare and as mDNS announces it (no lookup leaves the host)."""
    name = normalise(socket.gethostname())
    short = name.split(".", 1)[0]
    return list(dict.fromkeys(filter(None, [name, short, f"{short}.local"])))


class HostCheck:
    """ASGI middleware: 421 for a request naming a foreign Host, 400 for a malformed one."""

    def __init__(self, app: Any, allowed: AllowedHosts, settings: Settings):
        self.app = app
        self.allowed = allowed
        self.settings = settings

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        web = scope["type"] in ("http", "websocket")
        if not web or scope.get("path") in UNCHECKED_PATHS or self._through_ingress(scope):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(_header(scope, b"host"))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, line = refusal
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = (line + "\n").encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _through_ingress(self, scope: dict[str, Any]) -> bool:
        """Security consideration: Home Assistant's Supervisor passes on the Host the browser
        gave Home Assistant (its name, not ours). A rebinding page's request does not come from
        the Supervisor's address: reaching us through it takes a Home Assistant ingress session."""
        client = scope.get("client")
        header = _header(scope, INGRESS_PATH_HEADER.encode())
        return bool(trusted_prefix(self.settings, client[0] if client else None, header))

    def refusal(self, header: str | None) -> tuple[int, str] | None:
        """None when the request may go on; otherwise its status and the one line to answer.
        No Host at all (HTTP/1.0, which old firmware speaks) passes: browsers always send one."""
        if header is None:
            return None
        try:
            host = host_of(header)
        except BadHostError as error:
            return 400, f"bad Host header: {error}"
        if self.allowed.allows(host):
            return None
        return 421, (
            f"fakecloud does not answer for host {host!r}; if that name is yours (a reverse "
            "proxy, say), add it to FAKECLOUD_ALLOWED_HOSTS"
        )


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
