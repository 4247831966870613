"""Cross-site request forgery protection for what the web app's pages change.

Double submit: every page sets a random `fakecloud_csrf` cookie that scripts may read; the
page's scripts send it back in the X-CSRF-Token header. Another site can make the browser send
the cookie, but cannot read it nor add a header without a CORS preflight, which fakecloud never
grants. On top, a request whose Origin (or Sec-Fetch-Site) says it came from another site is
refused outright. A program that signs its own requests (Bearer or Basic, no browser headers)
cannot be forged from a page, so it needs no token.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request, Response, status

from fakecloud.web.ingress import cookie_path, external_origin
from fakecloud.web.sessions import SESSION_COOKIE, under_tls

CSRF_COOKIE = "fakecloud_csrf"
CSRF_HEADER = "X-CSRF-Token"
_TOKEN_CHARS = 43  # secrets.token_urlsafe(32)
_OTHER_SITES = frozenset({"cross-site", "same-site"})


def give_csrf_cookie(request: Request, response: Response) -> None:
    """Set the page's token unless the browser has a well-formed one already."""
    if len(request.cookies.get(CSRF_COOKIE, "")) == _TOKEN_CHARS:
        return
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(32),
        httponly=False,  # the page's scripts read it: that is the point
        samesite="strict",
        secure=under_tls(request),
        path=cookie_path(request),
    )


def require_csrf(request: Request) -> None:
    """The dependency every state-changing route of the web app declares. Security
    consideration: behind Home Assistant's ingress the pages' origin is Home Assistant's, which
    is accepted only on a connection from the ingress proxy (fakecloud.web.ingress)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != external_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "requests from other sites are refused")
    if request.headers.get("sec-fetch-site") in _OTHER_SITES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "requests from other sites are refused")
    from_program = (
        "authorization" in request.headers
        and SESSION_COOKIE not in request.cookies
        and "sec-fetch-mode" not in request.headers
    )
    if from_program:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"missing or wrong {CSRF_HEADER} header (reload the page)"
        )
