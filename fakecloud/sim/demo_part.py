"""`fakecloud serve --demo`: a demo account and a few simulated cameras inside the server."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
from typing import Any

from fakecloud.frontdoor.connection import format_address
from fakecloud.runtime import Runtime
from fakecloud.sim.demo import run_demo

log = logging.getLogger(__name__)

DEMO_LOGIN = "demo"


def loopback_for(bind_address: str) -> str:
    """Where a client on this machine reaches a listener bound to `bind_address`."""
    address = ipaddress.ip_address(bind_address)
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return bind_address


class DemoPart:
    """Starts last, once the front door listens; stops first."""

    name = "demo"

    def __init__(self, runtime: Runtime, count: int = 3) -> None:
        self.runtime = runtime
        self.count = count
        self._task: asyncio.Task[None] | None = None
        self._port: int | None = None

    async def start(self) -> None:
        frontdoor = self.runtime.part("frontdoor")
        ports = list(getattr(frontdoor, "bound_ports", {}).values())
        if not ports:
            log.error("demo: the cloud front door listens on no port, so no camera can log in")
            return
        # Security consideration: a fresh random password on every demo start, never a default
        # one; it is printed once, on this machine's console only.
        password = secrets.token_urlsafe(12)
        store = self.runtime.services["store"]
        if await store.get_account(DEMO_LOGIN) is None:
            await store.add_account(DEMO_LOGIN, password)
        else:
            await store.set_password(DEMO_LOGIN, password)
        self._port = ports[0]
        host = loopback_for(self.runtime.settings.bind_address)
        self._task = asyncio.create_task(
            run_demo(host, self._port, DEMO_LOGIN, password, self.count, relay_host=host),
            name="demo cameras",
        )
        http_port = getattr(self.runtime.part("http"), "port", self.runtime.settings.http_port)
        log.warning(
            "demo: %d simulated cameras log in to port %d as account %r, password %s "
            "(the dashboard is http://%s/)",
            self.count,
            self._port,
            DEMO_LOGIN,
            password,
            format_address(host, http_port),
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def status(self) -> dict[str, Any]:
        return {
            "account": DEMO_LOGIN,
            "cameras": self.count,
            "port": self._port,
            "running": self._task is not None and not self._task.done(),
        }
