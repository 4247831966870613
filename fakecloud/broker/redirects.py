"""When to answer a login with a redirect, where to send it, and how to tell the client's return.

Tend's front door answers a first login with a redirect to a broker; K's client insists on it.
fakecloud redirects to itself, so it must tell a client's *second* login (accept it) from a new
client's first (redirect it). docs/broker.md, "Redirects", explains the design; in short, a
login is a second hop, with no state at all, when it arrives

- on `broker_port` (the port the redirect names; clients that honour the port, like R),
- with TLS SNI equal to `broker_hostname` (clients that send the redirect host as SNI), or
- on `broker_address`, when that differs from the announce address (clients that ignore the
  port and keep a fixed SNI, like K, come back to whatever address DNS gave for the name).

Connections with none of those signals fall back to `RedirectMemory`: bounded, short-lived
memory of redirects handed out, keyed by peer address, a fingerprint of the credential and the
role. That memory is consulted only when no stateless return path exists for such clients
(`broker_address` equal to the announce address).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from fakecloud.broker.session import ConnectionInfoLike
from fakecloud.catalogue import normalise
from fakecloud.core.netinfo import same_address

# Clients come back within about 0.3 s. A redirect not followed within this is forgotten; it is
# shorter than K's 3 s retry delay, so a K client misled by a stale entry succeeds on its retry.
REDIRECT_WINDOW = 2.0
# With a broker port, clients that honour the port come back there; one that comes back to the
# login port ignored the port, and the only such client known (K) waits 250 ms after connecting
# before it logs in again. So there, logins of one key this soon after a redirect are taken for
# new clients "at the same moment", not for the return.
RETURN_HOLD_OFF = 0.1
MAX_REMEMBERED_KEYS = 4096
# Redirects remembered per key: a few clients of one account behind one address at once.
MAX_PER_KEY = 16

RedirectKey = tuple[str, bytes, str]


@dataclass(frozen=True, slots=True)
class ReturnPaths:
    """Where a redirect sends clients, and the signals that mark their return."""

    hostname: str  # normalised broker_hostname
    port: int  # broker_port; 0: the redirect names the port the client used
    address: str  # what a client that gave no name is sent to (broker_address)
    own_address: bool  # broker_address differs from the announce address

    def is_return(self, info: ConnectionInfoLike) -> bool:
        """A connection that can only be a redirected client's second hop."""
        if self.port and info.local_port == self.port:
            return True
        if info.sni is not None and normalise(info.sni) == self.hostname:
            return True
        return self.own_address and same_address(info.local_address, self.address) is True

    def target(self, info: ConnectionInfoLike) -> tuple[str, int]:
        """`(host, port)` for the redirect body: a name, unless the client connected with TLS
        but sent no SNI, i.e. it evidently asked by address; it then gets one."""
        port = self.port or info.local_port
        if info.tls and not info.sni:
            return self.address, port
        return self.hostname, port


class RedirectMemory:
    """Redirects handed out recently, per key; bounded in keys, entries per key and time."""

    def __init__(self, hold_off: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._hold_off = hold_off
        self._clock = clock
        self._sent: OrderedDict[RedirectKey, deque[float]] = OrderedDict()

    def remember(self, key: RedirectKey) -> None:
        self._expire()
        times = self._sent.get(key)
        if times is None:
            times = self._sent[key] = deque(maxlen=MAX_PER_KEY)
            while len(self._sent) > MAX_REMEMBERED_KEYS:
                self._sent.popitem(last=False)
        times.append(self._clock())
        self._sent.move_to_end(key)

    def claim(self, key: RedirectKey) -> bool:
        """Take the oldest redirect of this key that a returning client could be answering
        (sent at least `hold_off` seconds ago); False when there is none."""
        self._expire()
        times = self._sent.get(key)
        now = self._clock()
        while times and times[0] < now - REDIRECT_WINDOW:
            times.popleft()
        if not times or now - times[0] < self._hold_off:
            return False
        self.forget_one(key)
        return True

    def forget_one(self, key: RedirectKey) -> None:
        """A client of this key came back by a stateless path: one redirect is answered."""
        times = self._sent.get(key)
        if times:
            times.popleft()
            if not times:
                del self._sent[key]

    def __len__(self) -> int:
        return sum(len(times) for times in self._sent.values())

    def _expire(self) -> None:
        # Keys are in the order of their newest redirect, so whole keys expire from the front;
        # older entries of a key still in use are trimmed when that key is claimed.
        oldest_kept = self._clock() - REDIRECT_WINDOW
        while self._sent:
            key, times = next(iter(self._sent.items()))
            if times and times[-1] >= oldest_kept:
                return
            del self._sent[key]


class CredentialFingerprints:
    """Keys for RedirectMemory. Security consideration: an HMAC under a key made at process
    start and never stored, so the memory holds nothing that reveals or replays a secret."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def key(self, peer_host: str, role: str, *identity: str | None) -> RedirectKey:
        message = "\0".join(part or "" for part in identity).encode("utf-8", "surrogatepass")
        digest = hmac.digest(self._key, message, hashlib.sha256)[:16]
        return (peer_host, digest, role)
