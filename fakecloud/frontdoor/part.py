"""The front door: one listener per cloud port, each sniffing what its clients speak."""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fakecloud.core.recording import Recorder
from fakecloud.frontdoor.budgets import ConnectionBudget
from fakecloud.frontdoor.connection import Connection
from fakecloud.frontdoor.connection_info import StreamHandler, format_address
from fakecloud.frontdoor.shared import Destinations, Limits, ListenerState
from fakecloud.web.asgi import AsgiProtocolFactory

log = logging.getLogger(__name__)

# Decisions need 8 bytes and a TLS ClientHello usually fits in 2 KiB; less than this would
# make ordinary clients look like garbage.
MIN_SNIFF_BYTES = 4096
_STOP_GRACE_SECONDS = 5.0
# asyncio's default of 100 pending connections lets a burst of clients overflow the kernel's
# accept queue, and a camera whose SYN is dropped retries only after a second or more.
ACCEPT_BACKLOG = 1024


def describe_bind_error(error: OSError, host: str) -> str:
    """The one-line reason a listener could not bind, in terms a user can act on."""
    if error.errno == errno.EACCES:
        return "permission denied (needs root or CAP_NET_BIND_SERVICE)"
    if error.errno == errno.EADDRINUSE:
        return "address already in use (another program listens there)"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"address {host} is not an address of this machine"
    return error.strerror or str(error)


@dataclass
class _Listener:
    port: int
    servers: list[asyncio.Server]
    state: ListenerState


class FrontDoorPart:
    """Accepts TCP on every cloud port and routes each connection by its first bytes."""

    name = "frontdoor"

    def __init__(
        self,
        host: str,
        ports: Sequence[int],
        *,
        tls_context: ssl.SSLContext | None,
        cxnet_handler: StreamHandler | None,
        asgi: AsgiProtocolFactory | None,
        recorder: Recorder | None,
        relay_handler: StreamHandler | None = None,
        first_bytes_timeout: float = 10.0,
        idle_timeout: float = 300.0,
        login_timeout: float = 30.0,
        max_sniff_bytes: int = 64 * 1024,
        max_connections: int = 4096,
        budget: ConnectionBudget | None = None,
        extra_hosts: Sequence[str] = (),
    ):
        if min(first_bytes_timeout, idle_timeout, login_timeout) <= 0:
            raise ValueError("timeouts must be positive")
        if max_sniff_bytes < MIN_SNIFF_BYTES:
            raise ValueError(f"max_sniff_bytes must be at least {MIN_SNIFF_BYTES}")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.host = host
        # Addresses served on the same ports as `host` (the broker's own address, when the bind
        # address does not already cover it).
        self.extra_hosts = [extra for extra in dict.fromkeys(extra_hosts) if extra != host]
        self.ports = list(dict.fromkeys(ports))
        self.max_connections = max_connections
        # The process-wide budget (server.py shares one with the HTTP port); a front door on its
        # own (tests) gets one as large as its listeners allow.
        self.budget = budget or ConnectionBudget(
            total=max_connections * len(self.ports or [0]),
            per_address=max_connections,
            pre_login_share=1.0,
        )
        self.bound_ports: dict[int, int] = {}
        self._destinations = Destinations(
            tls_context=tls_context,
            cxnet_handler=cxnet_handler,
            asgi=asgi,
            recorder=recorder,
            relay_handler=relay_handler,
            budget=self.budget,
            limits=Limits(
                first_bytes_timeout=first_bytes_timeout,
                idle_timeout=idle_timeout,
                login_timeout=login_timeout,
                max_sniff_bytes=max_sniff_bytes,
            ),
        )
        self._listeners: dict[int, _Listener] = {}
        self._failed: dict[int, str] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._failed.clear()
        for port in self.ports:
            state = ListenerState(max_connections=self.max_connections, name=f"port {port}")
            servers: list[asyncio.Server] = []
            bound = port
            try:
                # Every address shares the first one's port (which matters when `port` is 0).
                for host in (self.host, *self.extra_hosts):
                    server = await loop.create_server(
                        functools.partial(Connection, self._destinations, state),
                        host,
                        bound,
                        backlog=ACCEPT_BACKLOG,
                    )
                    servers.append(server)
                    bound = server.sockets[0].getsockname()[1]
            except OSError as error:
                for server in servers:
                    server.close()
                reason = describe_bind_error(error, host)
                self._failed[port] = reason
                log.error("cannot listen on port %d: %s", port, reason)
                continue
            self._listeners[port] = _Listener(port=bound, servers=servers, state=state)
            self.bound_ports[port] = bound
        if self._listeners:
            log.info(
                "cloud front door listening on %s port %s",
                ", ".join((self.host, *self.extra_hosts)),
                ", ".join(str(port) for port in self.bound_ports.values()),
            )
        elif self.ports:
            # Serving goes on (DNS, dashboard, relay still help), but nothing can reach the broker.
            log.critical(
                "the cloud front door could not listen on ANY port (%s): cameras and apps "
                "cannot reach fakecloud until this is fixed",
                "; ".join(f"{port}: {reason}" for port, reason in self._failed.items()),
            )
        else:
            log.info("no cloud ports configured; the front door is off")

    async def stop(self) -> None:
        listeners = list(self._listeners.values())
        self._listeners.clear()
        self.bound_ports.clear()
        for listener in listeners:
            for server in listener.servers:
                server.close()
        for listener in listeners:
            for connection in list(listener.state.active):
                connection.shut_down()
        tasks = list(self._destinations.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_STOP_GRACE_SECONDS)
        for listener in listeners:
            for server in listener.servers:
                await server.wait_closed()

    def status(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "extra_hosts": self.extra_hosts,
            "budget": self.budget.status(),
            "listening": [
                {
                    "port": configured,
                    "address": format_address(self.host, listener.port),
                    "active_connections": len(listener.state.active),
                    "connections": dict(listener.state.counters),
                }
                for configured, listener in self._listeners.items()
            ],
            "failed": [{"port": port, "error": reason} for port, reason in self._failed.items()],
        }
