"""Home Assistant ingress: the web app under the path prefix the Supervisor proxies it at.

Home Assistant shows an add-on's web UI in an iframe at `/api/hassio_ingress/<token>/...` of its
own origin; the Supervisor forwards each request to the add-on with that prefix stripped, from
its own address (172.30.32.2), adding `X-Ingress-Path: /api/hassio_ingress/<token>` and passing
on Home Assistant's X-Forwarded-Host and X-Forwarded-Proto (docs/ha-addon.md, "Ingress").
Everything here answers one question, the external prefix of a request ("" when direct), and
what follows from it: the browser's origin and scheme, and whether the page may be framed.

Security consideration: any client can send these headers, and a prefix steers redirects and
cookie paths, so they count only on a connection from FAKECLOUD_INGRESS_PROXY (default: none)
and only in the shape the Supervisor sends. An untrusted or malformed header is ignored
outright: the request is answered as a direct one.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request

from fakecloud.core.config import Settings, address_in

INGRESS_PATH_HEADER = "x-ingress-path"
# What Home Assistant sends: its ingress view's path and a URL-safe token (no dots, no slashes);
# matched whole (fullmatch: not even a trailing newline).
INGRESS_PATH = re.compile(r"/api/hassio_ingress/[A-Za-z0-9_-]+")
_SCHEMES = frozenset({"http", "https"})


def trusted_prefix(settings: Settings, client: str | None, header: str | None) -> str:
    """The prefix `header` names, when the connection comes from an ingress proxy and the value
    is well-formed; "" otherwise. (The ASGI middleware has no Request, hence plain values.)"""
    if not header or not client or not settings.ingress_proxy:
        return ""
    if not address_in(client, settings.ingress_proxy_networks()):
        return ""
    return header if INGRESS_PATH.fullmatch(header) else ""


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.runtime.settings
    return settings


def external_prefix(request: Request) -> str:
    """The path the browser sees this app under, without a trailing slash: "" when direct."""
    client = request.client.host if request.client else None
    return trusted_prefix(_settings(request), client, request.headers.get(INGRESS_PATH_HEADER))


async def _prefix_of(request: Request) -> str:
    # async: FastAPI would run a plain function in its thread pool, a hop per request
    return external_prefix(request)


# A route's parameter: the external prefix of its request.
ExternalPrefix = Annotated[str, Depends(_prefix_of)]


def _first_forwarded(request: Request, name: str) -> str:
    # A proxy in front of Home Assistant may have set it already (Home Assistant keeps it);
    # after more than one, the first is the browser's.
    return request.headers.get(name, "").split(",", 1)[0].strip()


def external_scheme(request: Request) -> str:
    """http or https as the browser speaks it: behind ingress, Home Assistant's scheme."""
    forwarded = _first_forwarded(request, "x-forwarded-proto").lower()
    if forwarded in _SCHEMES and external_prefix(request):
        return forwarded
    return request.url.scheme


def external_origin(request: Request) -> str:
    """The origin the browser's pages have: behind ingress, Home Assistant's (Host may still
    name it too, but X-Forwarded-Host is what Home Assistant sets for the purpose)."""
    host = request.headers.get("host", "")
    if external_prefix(request):
        host = _first_forwarded(request, "x-forwarded-host") or host
    return f"{external_scheme(request)}://{host}"


def cookie_path(request: Request) -> str:
    """Where the browser sends our cookies back: behind ingress only under our prefix, so
    Home Assistant and the other add-ons on its origin never receive them."""
    return external_prefix(request) or "/"
