"""Connection, descriptor and rate budgets shared by every TCP listener (issue 8, section 3).

Security consideration: a client that never logs in still costs a descriptor and some memory, so
the number of connections is bounded three ways: in total (below the process's descriptor
limit, so accept() never runs out), per client address (one host cannot fill a port and lock
everyone else out) and per listener. Connections that have not logged in take at most a share,
and a full budget makes room by closing one of them rather than refusing the newcomer. Frames
of a logged-in session are rate-limited by a token bucket. Everything here is pure
bookkeeping: the listeners own the sockets.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import logging
import resource
from collections import Counter
from collections.abc import Callable
from typing import Any

from fakecloud.core.netinfo import client_key
from fakecloud.core.rates import LogThrottle

log = logging.getLogger(__name__)

# Descriptors kept out of the connection budget: the store and its WAL, capture files, the DNS
# and relay sockets, listening sockets, certificates read at start, a child process or two.
DESCRIPTOR_RESERVE_MIN = 64
DESCRIPTOR_RESERVE_SHARE = 0.05
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


class Standing(enum.IntEnum):
    """How a connection stands when the budget needs room; lower is closed first."""

    IDLE = 0  # an HTTP connection between requests (keep-alive)
    PENDING = 1  # not logged in yet, or its request not complete yet
    SERVING = 2  # logged in, or a request being answered: never closed to make room


class Slot:
    """One admitted connection's place in a ConnectionBudget.

    `close` ends the connection when the budget takes the slot back to make room; until the
    owner calls `established()`, the connection counts as pre-login (`probe`, if given, says
    how it stands right now: an HTTP connection moves between requests)."""

    __slots__ = ("_budget", "_close", "_probe", "held", "key", "pre_login")

    def __init__(self, budget: ConnectionBudget, key: str, close: Callable[[], None]) -> None:
        self._budget = budget
        self._close = close
        self._probe: Callable[[], Standing] | None = None
        self.key = key
        self.held = True
        self.pre_login = True

    def standing(self) -> Standing:
        if not self.pre_login:
            return Standing.SERVING
        return self._probe() if self._probe is not None else Standing.PENDING

    def watch(self, probe: Callable[[], Standing]) -> None:
        """From now on `probe` says how the connection stands (an HTTP connection)."""
        self._probe = probe

    def established(self) -> None:
        """The connection logged in: it is never closed to make room."""
        if self.held and self.pre_login:
            self._budget._forget_pre_login(self)
        self.pre_login = False

    def release(self) -> None:
        """The connection closed; a slot taken back to make room is already free."""
        if self.held:
            self._budget._free(self)

    def evict(self) -> None:
        """Free the slot now and close its connection (whose release() then does nothing)."""
        self._budget._free(self)
        self._close()


class Slots:
    """The slots one connection holds: its listener's cap and the process's budget."""

    __slots__ = ("_slots",)

    def __init__(self, *slots: Slot) -> None:
        self._slots = slots

    def watch(self, probe: Callable[[], Standing]) -> None:
        for slot in self._slots:
            slot.watch(probe)

    def established(self) -> None:
        for slot in self._slots:
            slot.established()

    def release(self) -> None:
        for slot in self._slots:
            slot.release()


def admit_to_both(
    cap: ConnectionBudget, budget: ConnectionBudget, host: str, close: Callable[[], None]
) -> tuple[Slots | None, str]:
    """Slots for a new connection in a listener's `cap` and the process's `budget`, or None and
    the counter to raise ("rejected": the cap; "rejected_budget": the budget)."""
    mine = cap.acquire(host, close)
    if mine is None:
        return None, "rejected"
    shared = budget.acquire(host, close)
    if shared is None:
        mine.release()
        return None, "rejected_budget"
    return Slots(mine, shared), "accepted"


class ConnectionBudget:
    """Connection slots: `total` for the whole process, `per_address` for one client, and at
    most `pre_login_share` of the total for connections that have not logged in yet.

    Security consideration: connections that never log in (slowloris) cannot lock anyone out.
    When the budget, or the pre-login share of it, is full, a new connection makes room by
    closing a pre-login connection of the address holding the most of them (an address at its
    own cap: one of its own): an idle HTTP keep-alive one first, else its oldest. Logged-in
    sessions and requests being answered are never closed for room, and the share keeps room
    for them and for new clients."""

    def __init__(
        self,
        total: int,
        per_address: int,
        pre_login_share: float = 0.5,
        name: str = "connection budget",
    ) -> None:
        if total < 1 or per_address < 1:
            raise ValueError("connection budgets must be at least 1")
        if not 0 < pre_login_share <= 1:
            raise ValueError("the pre-login share must be above 0 and at most 1")
        self.name = name  # in log lines
        self.total = total
        self.per_address = per_address
        self.pre_login_cap = max(1, int(total * pre_login_share))
        self.active = 0
        self._by_client: Counter[str] = Counter()
        # per client, its pre-login slots, oldest first
        self._pre_login: dict[str, dict[Slot, None]] = {}
        self.pre_login = 0
        self.refused: Counter[str] = Counter()
        self.evicted: Counter[str] = Counter()
        self._reported = LogThrottle(ACCEPT_ERROR_LOG_INTERVAL)

    def acquire(self, host: str, close: Callable[[], None]) -> Slot | None:
        """A slot for a new connection from `host`, or None (logged, throttled) when there is no
        room; `close` ends that connection should its slot be taken back to make room."""
        key = client_key(host)
        if self._by_client[key] >= self.per_address:
            # an address at its cap makes room among its own pre-login connections only
            why = f"{key} holds {self.per_address} connections, its cap"
            if not self._make_room("per_address", why, key, self._candidate_of(key)):
                self._refuse("per_address", why)
                return None
        elif self.active >= self.total:
            why = f"{self.total} connections are open"
            if not self._make_room("total", why, key, self._eviction_candidate()):
                self._refuse("total", f"{why}, all the {self.name} allows")
                return None
        elif self.pre_login >= self.pre_login_cap:
            # when every pre-login connection is being answered, the newcomer still fits
            why = f"{self.pre_login} connections have not logged in, their share"
            self._make_room("pre_login_share", why, key, self._eviction_candidate())
        slot = Slot(self, key, close)
        self.active += 1
        self._by_client[key] += 1
        self._pre_login.setdefault(key, {})[slot] = None
        self.pre_login += 1
        return slot

    def _make_room(self, kind: str, why: str, newcomer: str, victim: Slot | None) -> bool:
        if victim is None:
            return False
        held = len(self._pre_login[victim.key])
        self.evicted[kind] += 1
        suppressed = self._reported.ready(f"evict-{kind}")
        if suppressed is not None:
            log.warning(
                "%s full: %s; closing a pre-login connection of %s (it holds %d) for one from "
                "%s (%d more not logged)",
                self.name,
                why,
                victim.key,
                held,
                newcomer,
                suppressed,
            )
        victim.evict()
        return True

    def _eviction_candidate(self) -> Slot | None:
        """An idle keep-alive, else the oldest pre-login connection, of the client holding the
        most pre-login connections (the next client when all of them are being answered)."""
        for key in sorted(self._pre_login, key=lambda k: len(self._pre_login[k]), reverse=True):
            if (victim := self._candidate_of(key)) is not None:
                return victim
        return None

    def _candidate_of(self, key: str) -> Slot | None:
        """`key`'s idle keep-alive connection, else its oldest pre-login one not being served."""
        oldest_pending = None
        for slot in self._pre_login.get(key, {}):
            standing = slot.standing()
            if standing is Standing.IDLE:
                return slot
            if standing is Standing.PENDING and oldest_pending is None:
                oldest_pending = slot
        return oldest_pending

    def _forget_pre_login(self, slot: Slot) -> None:
        mine = self._pre_login[slot.key]
        del mine[slot]
        if not mine:
            del self._pre_login[slot.key]
        self.pre_login -= 1

    def _free(self, slot: Slot) -> None:
        if slot.pre_login:
            self._forget_pre_login(slot)
        slot.held = False
        self.active -= 1
        self._by_client[slot.key] -= 1
        if self._by_client[slot.key] <= 0:
            del self._by_client[slot.key]

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
            "pre_login": self.pre_login,
            "pre_login_cap": self.pre_login_cap,
            "clients": len(self._by_client),
            "refused": dict(self.refused),
            "evicted": dict(self.evicted),
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
