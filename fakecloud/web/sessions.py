"""Browser/app sessions for the Seedonk REST API (cookie SeedonkSession), kept in memory."""

from __future__ import annotations

import secrets
import time
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request, Response, status

if TYPE_CHECKING:  # the runtime holds the session table, so it imports this module
    from fakecloud.runtime import Runtime

SESSION_COOKIE = "SeedonkSession"  # the Seedonk portal's cookie name (docs/protocol.md section 2)
ANTI_CSRF_HEADER = "AntiCSRF"  # the Seedonk portal sent it on every state-changing call


class WebSessions:
    """Security consideration: tokens are 256-bit random, expire, and the table is bounded so a
    login flood cannot grow memory; a restart logs everyone out, which is acceptable at home."""

    def __init__(self, lifetime: float = 7 * 24 * 3600, capacity: int = 10_000):
        self.lifetime = lifetime
        self.capacity = capacity
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()
        # REST logins (POST /auth/login) by result, ok or refused, for fakecloud_logins_total.
        self.logins: Counter[str] = Counter()

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


def require_anti_csrf(request: Request) -> None:
    """Security consideration: a cross-site form or image cannot set a custom header, so its
    presence proves the request came from a script of the page's own origin (the portal's
    convention), which is all that login and logout need against cross-site requests."""
    if ANTI_CSRF_HEADER not in request.headers:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing {ANTI_CSRF_HEADER} header")


def start_session(request: Request, response: Response, login: str) -> None:
    """Log the browser in. Security consideration: under TLS the cookie is `Secure`, so the
    browser never sends it over plain HTTP where anyone on the LAN could read it."""
    token = _sessions(request).create(login)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_under_tls(request)
    )


def end_session(request: Request, response: Response) -> None:
    """Log the browser out; only a request passing the AntiCSRF check may."""
    require_anti_csrf(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        _sessions(request).end(token)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=_under_tls(request)
    )


def _sessions(request: Request) -> WebSessions:
    runtime: Runtime = request.app.state.runtime
    return runtime.services.web_sessions


def _under_tls(request: Request) -> bool:
    return request.url.scheme == "https"
