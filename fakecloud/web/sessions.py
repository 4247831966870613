"""Sign-in sessions for browsers: the web app and the Seedonk portal's REST calls share one
cookie (SeedonkSession, the portal's name), kept hashed in the store so they survive a restart."""

from __future__ import annotations

from fastapi import HTTPException, Request, Response, status

from fakecloud.store.protocol import CameraStore
from fakecloud.web.ingress import cookie_path, external_scheme

SESSION_COOKIE = "SeedonkSession"  # the Seedonk portal's cookie name (docs/protocol.md section 2)
ANTI_CSRF_HEADER = "AntiCSRF"  # the Seedonk portal sent it on every state-changing call
SESSION_LIFETIME = 30 * 24 * 3600.0  # seconds; signing in again starts a new one
# A cookie value is 43 characters (32 random bytes); anything far longer is not ours.
MAX_COOKIE_CHARS = 128


def require_anti_csrf(request: Request) -> None:
    """Security consideration: a cross-site form or image cannot set a custom header, so its
    presence proves the request came from a script of the page's own origin (the portal's
    convention), which is all that login and logout need against cross-site requests."""
    if ANTI_CSRF_HEADER not in request.headers:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing {ANTI_CSRF_HEADER} header")


def session_cookie(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return token if token and len(token) <= MAX_COOKIE_CHARS else None


async def session_login(request: Request, store: CameraStore) -> str | None:
    """The account the request's session cookie signs in, if any."""
    token = session_cookie(request)
    account = await store.web_session_account(token) if token else None
    return account.login if account else None


async def start_session(
    request: Request, response: Response, store: CameraStore, login: str
) -> None:
    """Sign the browser in. Security consideration: the cookie is HttpOnly (no script reads
    it), SameSite=Lax (other sites' forms do not carry it), and `Secure` under TLS, so the
    browser never sends it over plain HTTP where anyone on the LAN could read it. Behind Home
    Assistant's ingress its path is our prefix: Home Assistant and other add-ons on the same
    origin never receive it."""
    token = await store.start_web_session(login, SESSION_LIFETIME)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME),
        httponly=True,
        samesite="lax",
        secure=under_tls(request),
        path=cookie_path(request),
    )


async def end_session(request: Request, response: Response, store: CameraStore) -> None:
    """Sign the browser out: its session is deleted, so the old cookie no longer works."""
    token = session_cookie(request)
    if token:
        await store.end_web_session(token)
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="lax",
        secure=under_tls(request),
        path=cookie_path(request),
    )


def under_tls(request: Request) -> bool:
    """The browser speaks TLS to us, or (behind ingress) to Home Assistant."""
    return external_scheme(request) == "https"
