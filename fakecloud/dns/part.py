"""The DNS shim: vendor names answer with fakecloud's address, everything else is forwarded."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
from dataclasses import asdict
from typing import Any

from fakecloud.catalogue import Catalogue
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.core.recording import Recorder
from fakecloud.dns.responder import Network, Responder
from fakecloud.dns.tcp import TcpServer
from fakecloud.dns.udp import UdpServer
from fakecloud.dns.upstream import Upstream, default_upstreams, parse_upstream
from fakecloud.frontdoor.connection_info import format_address
from fakecloud.frontdoor.part import describe_bind_error

log = logging.getLogger(__name__)

_BIND_ATTEMPTS = 5


def bind_error_fix(error: OSError, bind: str) -> str:
    """What a user can do when the DNS port cannot be bound, for this cause."""
    alternatives = (
        "point the router's DNS at fakecloud instead (see `fakecloud dns-config`), "
        "or set FAKECLOUD_DNS_ENABLED=false"
    )
    if error.errno == errno.EACCES:
        return (
            "give fakecloud the privilege (run as root, `setcap cap_net_bind_service=+ep` on the "
            f"Python binary, or Docker `cap_add: [NET_BIND_SERVICE]`), {alternatives}"
        )
    if error.errno == errno.EADDRINUSE:
        lan_hint = (
            "set FAKECLOUD_BIND_ADDRESS to this machine's LAN address (a local resolver such as "
            "systemd-resolved listens on 127.0.0.53 only), "
            if ipaddress.ip_address(bind).is_unspecified
            else ""
        )
        return (
            "another DNS server (systemd-resolved, Pi-hole, AdGuard, dnsmasq) has it: "
            f"{lan_hint}{alternatives}"
        )
    return alternatives


class DnsPart:
    """DNS over UDP and TCP on Settings.bind_address:Settings.dns_port.

    `allowed_networks` and `upstreams` default to the settings (and /etc/resolv.conf); tests
    inject them to exercise refusal without leaving loopback.
    """

    name = "dns"

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        recorder: Recorder | None = None,
        *,
        allowed_networks: list[Network] | None = None,
        upstreams: list[Upstream] | None = None,
        cache_entries: int = 1024,
        max_pending_forwards: int = 256,
        max_tcp_connections: int = 64,
        max_tcp_per_client: int | None = None,
        tcp_idle_timeout: float = 10.0,
        error_replies_per_second: int = 100,
    ) -> None:
        self._settings = settings
        self._configured_upstreams = upstreams
        self._responder = Responder(
            settings,
            catalogue,
            recorder,
            allowed_networks=(
                allowed_networks if allowed_networks is not None else settings.allowed_networks()
            ),
            cache_entries=cache_entries,
            error_replies_per_second=error_replies_per_second,
        )
        self.counters = self._responder.counters
        self._udp = UdpServer(self._responder, max_pending_forwards=max_pending_forwards)
        self._tcp = TcpServer(
            self._responder,
            max_connections=max_tcp_connections,
            max_per_client=max_tcp_per_client,
            idle_timeout=tcp_idle_timeout,
            connection_seconds=settings.dns_tcp_connection_seconds,
        )
        self._port: int | None = None
        # Why the shim could not listen, and the fix: shown in the log and /api/status.
        self._not_running: dict[str, str] | None = None

    # --- Part protocol -------------------------------------------------------------------

    async def start(self) -> None:
        bind = self._settings.bind_address
        self._bind_checked(bind)
        upstreams = self._configured_upstreams
        if upstreams is None and self._settings.dns_upstreams:
            upstreams = self._settings_upstreams()
        self._not_running = None
        for _ in range(_BIND_ATTEMPTS):
            try:
                await self._listen(bind, self._settings.dns_port)
                break
            except OSError as error:
                await self.stop()
                self._port = None
                # With port 0 the kernel's UDP choice may be taken for TCP: pick another.
                if self._settings.dns_port != 0 or error.errno != errno.EADDRINUSE:
                    self._report_not_running(error)
                    return
        else:
            raise UserError(f"cannot find a free DNS port on {bind}")
        if upstreams is None:
            upstreams = default_upstreams(bind, self._port or 0)
        self._responder.forwarder.upstreams = upstreams
        if not upstreams:
            log.warning("DNS: no upstream resolvers; names fakecloud does not own get SERVFAIL")
        log.info(
            "DNS shim listening on %s, answering vendor names with %s, forwarding the rest to %s",
            self.address,
            self._settings.effective_announce_address,
            ", ".join(str(upstream) for upstream in upstreams) or "nobody",
        )

    async def stop(self) -> None:
        await asyncio.gather(self._udp.close(), self._tcp.close())

    def status(self) -> dict[str, Any]:
        responder = self._responder
        return {
            "running": self._port is not None,
            **(self._not_running or {}),
            "address": self.address,
            "port": self._port,
            "announce_address": self._settings.effective_announce_address,
            "upstreams": [str(upstream) for upstream in responder.forwarder.upstreams],
            "counters": asdict(self.counters) | asdict(responder.forwarder.counters),
            "cache_entries": len(responder.cache),
            "discovered": sorted(responder.discovered),
            "asked": [
                {"at": at, "client": client, "name": name, "redirected": redirected}
                for at, client, name, redirected in responder.askers
            ],
        }

    @property
    def failure(self) -> str | None:
        """Why the shim is not listening and how to fix it, after a start that could not bind."""
        if self._not_running is None:
            return None
        return f"{self._not_running['error']}. Fix: {self._not_running['fix']}"

    @property
    def port(self) -> int | None:
        """The port actually bound (useful when the settings asked for port 0)."""
        return self._port

    @property
    def address(self) -> str | None:
        if self._port is None:
            return None
        return format_address(self._settings.bind_address, self._port)

    # --- listeners -------------------------------------------------------------------------

    def _report_not_running(self, error: OSError) -> None:
        """Port 53 is often taken (systemd-resolved, Pi-hole, AdGuard) or privileged: the rest of
        fakecloud still serves, and the log and /api/status say why and what to do."""
        bind, port = self._settings.bind_address, self._settings.dns_port
        self._not_running = {
            "error": describe_bind_error(error, bind),
            "fix": bind_error_fix(error, bind),
        }
        log.error(
            "the DNS shim is NOT running: cannot listen on %s port %d: %s. "
            "Everything else keeps serving.",
            bind,
            port,
            self.failure,
        )

    @staticmethod
    def _bind_checked(bind: str) -> None:
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            raise UserError(f"bind_address {bind!r} is not an IP address") from None

    def _settings_upstreams(self) -> list[Upstream]:
        try:
            return [parse_upstream(text) for text in self._settings.dns_upstreams]
        except ValueError as error:
            raise UserError(f"dns_upstreams: {error}") from None

    async def _listen(self, bind: str, port: int) -> None:
        # TCP shares the port UDP got (which matters when `port` is 0).
        self._port = self._udp.open(bind, port)
        await self._tcp.open(bind, self._port)
