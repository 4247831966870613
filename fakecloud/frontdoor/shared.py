"""What the front door's connections share: limits and destinations for the whole process, and
each listening port's cap, counters and set of open connections."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fakecloud.core.recording import Recorder
from fakecloud.frontdoor.budgets import ConnectionBudget, Slots, admit_to_both
from fakecloud.frontdoor.connection_info import StreamHandler
from fakecloud.web.asgi import AsgiProtocolFactory

if TYPE_CHECKING:
    from fakecloud.frontdoor.connection import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """Security consideration: every phase of a connection has a clock and a size bound, so
    silent, slow or endless clients cost a bounded amount of memory and time each."""

    # decide (and finish a TLS handshake) within this; also the silence allowed while
    # fakecloud only listens (sniffing or capturing)
    first_bytes_timeout: float
    # silence (no byte either way) allowed once handed off; also the longest a capture lasts
    idle_timeout: float
    # most bytes held while sniffing, and the most a capture keeps
    max_sniff_bytes: int
    # the broker's login deadline: a CXNet connection still open this long after its hand-off
    # has logged in (the broker closes the others), even if the broker never said so
    login_timeout: float = 30.0


@dataclass
class Destinations:
    """Where recognised traffic goes; None means 'not available here', so it is captured."""

    tls_context: ssl.SSLContext | None
    cxnet_handler: StreamHandler | None
    asgi: AsgiProtocolFactory | None
    recorder: Recorder | None
    limits: Limits
    # shared with every listener of the process (the HTTP port too)
    budget: ConnectionBudget
    relay_handler: StreamHandler | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass
class ListenerState:
    """What the connections of one listening port share."""

    max_connections: int
    name: str = "port"  # in log lines
    active: set[Connection] = field(default_factory=set)
    counters: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        # Security consideration: a per-port cap keeps a flood from exhausting file
        # descriptors; like the process's budget, a full cap makes room by closing a pre-login
        # connection, and refused connections cost one accept and one close.
        self.cap = ConnectionBudget(
            self.max_connections, self.max_connections, pre_login_share=1.0, name=self.name
        )

    def admit(self, connection: Connection, budget: ConnectionBudget, host: str) -> Slots | None:
        """Count `connection` in and return its slots, or None when the port or the budget is
        full and nothing can make room (either may close another connection to make room)."""
        slots, outcome = admit_to_both(self.cap, budget, host, connection.evict)
        self.counters[outcome] += 1
        if slots is not None:
            self.active.add(connection)
        return slots

    def release(self, connection: Connection, slots: Slots) -> None:
        """Give back what admit() took for a connection that has closed."""
        self.active.discard(connection)
        slots.release()
