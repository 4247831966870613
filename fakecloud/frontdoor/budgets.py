"""Connection, descriptor and rate budgets shared by every TCP listener (issue 8, section 3).

Security consideration: a client that never logs in still costs a descriptor and some memory, so
the number of connections is bounded three ways: in total (below the process's descriptor
limit, so accept() never runs out), per client address (one host cannot fill a port and lock
everyone else out) and per listener. Frames of a logged-in session are rate-limited by a token
bucket. Everything here is pure bookkeeping: the listeners own the sockets.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import resource
from collections import Counter
from typing import Any

from fakecloud.core.rates import LogThrottle

log = logging.getLogger(__name__)

# Descriptors kept out of the connection budget: the store and its WAL, capture files, the DNS
# and relay sockets, listening sockets, certificates read at start, a child process or two.
DESCRIPTOR_RESERVE_MIN = 64
DESCRIPTOR_RESERVE_SHARE = 0.05
# IPv6 clients are counted per /64: one LAN host can pick any address of its prefix.
IPV6_CLIENT_PREFIX = 64
# Out-of-descriptor accept errors are logged at most once per this many seconds.
ACCEPT_ERROR_LOG_INTERVAL = 30.0
_ACCEPT_ERROR_MESSAGE = "socket.accept() out of system resource"
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def raise_descriptor_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return (before, now)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= soft:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as error:
        log.warning("could not raise the descriptor limit from %d to %d: %s", soft, hard, error)
        return soft, soft
    return soft, hard


def descriptor_budget(wanted: int, descriptor_limit: int | None = None) -> int:
    """`wanted` connections, or fewer so that connections never use up the descriptors."""
    if descriptor_limit is None:
        descriptor_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if descriptor_limit == resource.RLIM_INFINITY:
        return wanted
    reserve = max(DESCRIPTOR_RESERVE_MIN, int(descriptor_limit * DESCRIPTOR_RESERVE_SHARE))
    return max(1, min(wanted, descriptor_limit - reserve))


def client_key(host: str) -> str:
    """What the per-address cap counts: the IPv4 address, or the IPv6 /64 prefix."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


class ConnectionBudget:
    """Connection slots: `total` for the whole process, `per_address` for one client."""

    def __init__(self, total: int, per_address: int) -> None:
        if total < 1 or per_address < 1:
            raise ValueError("connection budgets must be at least 1")
        self.total = total
        self.per_address = per_address
        self.active = 0
        self._by_client: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._reported = LogThrottle(ACCEPT_ERROR_LOG_INTERVAL)

    def acquire(self, host: str) -> bool:
        """Take a slot for a connection from `host`; False (and logged, throttled) when full."""
        key = client_key(host)
        if self.active >= self.total:
            self._refuse("total", f"{self.total} connections are open, the total budget")
            return False
        if self._by_client[key] >= self.per_address:
            self._refuse("per_address", f"{key} holds {self.per_address} connections, its cap")
            return False
        self.active += 1
        self._by_client[key] += 1
        return True

    def release(self, host: str) -> None:
        key = client_key(host)
        self.active -= 1
        self._by_client[key] -= 1
        if self._by_client[key] <= 0:
            del self._by_client[key]

    def _refuse(self, kind: str, why: str) -> None:
        self.refused[kind] += 1
        suppressed = self._reported.ready(kind)
        if suppressed is not None:
            log.warning(
                "refusing new connections: %s (%d more refusals not logged)", why, suppressed
            )

    def status(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "per_address": self.per_address,
            "active": self.active,
            "clients": len(self._by_client),
            "refused": dict(self.refused),
        }


def throttle_accept_errors(
    loop: asyncio.AbstractEventLoop, interval: float = ACCEPT_ERROR_LOG_INTERVAL
) -> None:
    """Log asyncio's out-of-descriptor accept errors once per `interval`, not once per attempt.

    When accept() fails with EMFILE, asyncio reports it for every pending connection of the
    backlog (1024 here) on every retry, each with a traceback: hundreds of thousands of lines a
    minute. Each report also schedules a retry, and the retries still pending when a listener
    closes fail on its closed socket: those are logged at debug level. Every other loop error
    goes on to the previous handler."""
    previous = loop.get_exception_handler()
    throttle = LogThrottle(interval)

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if context.get("message") == _ACCEPT_ERROR_MESSAGE and (
            isinstance(error, OSError) and error.errno in _RESOURCE_ERRNOS
        ):
            suppressed = throttle.ready("accept")
            if suppressed is not None:
                log.error(
                    "cannot accept connections: %s (%d more not logged; raise the descriptor "
                    "limit or lower max_connections)",
                    error.strerror or error,
                    suppressed,
                )
            return
        if _is_stale_accept_retry(context):
            log.debug("accept retry after the listener closed: %s", error)
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


def _is_stale_accept_retry(context: dict[str, Any]) -> bool:
    """asyncio's own retry (`_start_serving`) failing because its listener has closed."""
    callback = getattr(context.get("handle"), "_callback", None)
    stale_socket = isinstance(context.get("exception"), ValueError | OSError)
    return stale_socket and getattr(callback, "__name__", "") == "_start_serving"
