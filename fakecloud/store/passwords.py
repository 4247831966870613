"""Password hashing (stdlib scrypt) and the cache that keeps repeated logins cheap."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

_SCHEME = "scrypt"


class PasswordHashError(ValueError):
    """A stored password hash that cannot be read."""


@dataclass(frozen=True, slots=True)
class PasswordHasher:
    """scrypt with per-password salt; the parameters travel inside every stored hash so they can
    be raised later without invalidating old passwords."""

    n: int = 2**14
    r: int = 8
    p: int = 1
    salt_bytes: int = 16
    key_bytes: int = 32

    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(self.salt_bytes)
        digest = self._derive(password, salt, self.n, self.r, self.p, self.key_bytes)
        return "$".join((_SCHEME, str(self.n), str(self.r), str(self.p), _b64(salt), _b64(digest)))

    def verify(self, password: str, stored: str) -> bool:
        """Constant-time comparison; False for a wrong password or an unreadable hash."""
        try:
            n, r, p, salt, expected = _parse(stored)
        except PasswordHashError:
            return False
        try:
            candidate = self._derive(password, salt, n, r, p, len(expected))
        except ValueError:  # parameters beyond the memory limit
            return False
        return hmac.compare_digest(candidate, expected)

    def dummy_hash(self) -> str:
        """A hash of nothing anyone knows, verified against for unknown logins so that they
        cost the same as a wrong password."""
        return self.hash(secrets.token_urlsafe(16))

    @staticmethod
    def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
        return hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            dklen=length,
            maxmem=256 * 1024 * 1024,
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise PasswordHashError("not an scrypt hash")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except ValueError as error:
        raise PasswordHashError(str(error)) from None
    if n < 2 or n & (n - 1) or not 0 < r <= 64 or not 0 < p <= 16 or not expected:
        raise PasswordHashError("scrypt parameters out of range")
    return n, r, p, salt, expected


class VerificationCache:
    """Recent successful (login, password) checks, so a camera that logs in again does not pay
    for scrypt again (2,000 cameras reconnecting would otherwise cost minutes of CPU).

    Security consideration: entries are HMACs of login+password under a random key made at
    process start and never stored, so the cache holds nothing that reveals or replays a
    password outside this process. It only remembers *successful* checks, so it cannot speed up
    guessing; entries expire after `ttl` seconds, count only against the stored hash they were
    checked with (a password changed by another process, e.g. the CLI, ends them at the next
    login), are dropped when the password changes or the account is removed here, and the cache
    is bounded to `capacity` entries.
    """

    def __init__(self, capacity: int = 4096, ttl: float = 600.0) -> None:
        self._key = secrets.token_bytes(32)
        self._capacity = capacity
        self._ttl = ttl
        self._entries: OrderedDict[bytes, tuple[str, float, str]] = OrderedDict()
        self._lock = threading.Lock()
        # Bumped by every forget(): a check that read a hash before a password change must not
        # remember its (now stale) success after it.
        self._generation = 0

    def fingerprint(self, login: str, password: str) -> bytes:
        """An HMAC of the pair under this process's key: names it without revealing it."""
        message = login.casefold().encode() + b"\0" + password.encode("utf-8", "surrogatepass")
        return hmac.digest(self._key, message, "sha256")

    def hit(self, login: str, password: str, stored_hash: str) -> bool:
        """Whether this pair verified recently against `stored_hash`, the account's hash now."""
        fingerprint = self.fingerprint(login, password)
        with self._lock:
            entry = self._entries.get(fingerprint)
            if entry is None:
                return False
            if entry[1] < time.monotonic() or not hmac.compare_digest(entry[2], stored_hash):
                del self._entries[fingerprint]
                return False
            self._entries.move_to_end(fingerprint)
            return True

    @property
    def generation(self) -> int:
        return self._generation

    def remember(
        self, login: str, password: str, *, stored_hash: str, generation: int | None = None
    ) -> None:
        """Note a success against `stored_hash`; skipped when `generation` (read before the
        check) is out of date."""
        fingerprint = self.fingerprint(login, password)
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            expiry = time.monotonic() + self._ttl
            self._entries[fingerprint] = (login.casefold(), expiry, stored_hash)
            self._entries.move_to_end(fingerprint)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def forget(self, login: str) -> None:
        folded = login.casefold()
        with self._lock:
            self._generation += 1
            for fingerprint in [k for k, (who, *_) in self._entries.items() if who == folded]:
                del self._entries[fingerprint]

    def __len__(self) -> int:
        return len(self._entries)
