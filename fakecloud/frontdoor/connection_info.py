"""What a handler learns about a connection the front door hands it, and how addresses print."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConnectionInfo:
    id: str  # short unique id, also used in capture records and logs
    peer: tuple[str, int]
    local_port: int
    tls: bool
    sni: str | None
    # The address the client reached (a host may have several): the broker tells a redirected
    # client's return by it (docs/broker.md, "Redirects").
    local_address: str = ""
    # What the front door does when the handler says the client proved who it is (a CXNet
    # login): the connection budget never closes that connection to make room (budgets.py).
    on_authenticated: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)

    def mark_authenticated(self) -> None:
        """Handlers call this once a client has logged in."""
        self.on_authenticated()


StreamHandler = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, ConnectionInfo], Awaitable[None]
]


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
