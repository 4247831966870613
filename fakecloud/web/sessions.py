"""Browser/app sessions for the Seedonk REST API (cookie SeedonkSession), kept in memory."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict


class WebSessions:
    """Security consideration: tokens are 256-bit random, expire, and the table is bounded so a
    login flood cannot grow memory; a restart logs everyone out, which is acceptable at home."""

    def __init__(self, lifetime: float = 7 * 24 * 3600, capacity: int = 10_000):
        self.lifetime = lifetime
        self.capacity = capacity
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def create(self, login: str) -> str:
        token = secrets.token_urlsafe(32)
        self._sessions[token] = (login, time.monotonic() + self.lifetime)
        while len(self._sessions) > self.capacity:
            self._sessions.popitem(last=False)
        return token

    def login_for(self, token: str) -> str | None:
        entry = self._sessions.get(token)
        if entry is None:
            return None
        login, expires = entry
        if time.monotonic() > expires:
            del self._sessions[token]
            return None
        return login

    def end(self, token: str) -> None:
        self._sessions.pop(token, None)

    def end_all_for(self, login: str) -> None:
        for token in [t for t, (owner, _) in self._sessions.items() if owner == login]:
            del self._sessions[token]
