"""The web app's pages: one HTML shell per page name, its scripts and styles from static/.

No build step and nothing from the internet: the pages are plain HTML, CSS and ES modules
shipped in the package (docs/web.md)."""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fakecloud.web.csrf import give_csrf_cookie
from fakecloud.web.deps import DatabaseId, StoreDep, authenticate
from fakecloud.web.ingress import external_prefix

router = APIRouter(include_in_schema=False)

# Security consideration: the pages run only their own scripts (no inline script, nothing from
# another origin), cannot be framed (clickjacking), and send no Referer elsewhere. `<base>` may
# name only this origin: it is what makes the pages' relative URLs work under a path prefix.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:;"
        " script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none';"
        " base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Home Assistant shows an ingress panel in an iframe of its own pages, which share the origin of
# the ingress URL: behind ingress (only), pages of that origin may frame ours.
INGRESS_PAGE_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
}


@cache
def _shell() -> str:
    return files("fakecloud.web").joinpath("static/page.html").read_text()


def page(request: Request, name: str, title: str) -> Response:
    """The shell for page `name` (static/<name>.js draws it), its relative URLs resolved
    against the external prefix (`<base href>`)."""
    prefix = external_prefix(request)
    html = (
        _shell()
        .replace("{{root}}", escape(f"{prefix}/"))
        .replace("{{page}}", name)
        .replace("{{title}}", title)
    )
    response = HTMLResponse(html, headers=INGRESS_PAGE_HEADERS if prefix else PAGE_HEADERS)
    give_csrf_cookie(request, response)
    return response


async def _signed_in_page(request: Request, store: StoreDep, name: str, title: str) -> Response:
    """The page for someone signed in; anyone else goes to /login and comes back after (`next`
    is the path below the prefix, which the sign-in page resolves against `<base href>`)."""
    if await authenticate(request, store) is None:
        where = f"{external_prefix(request)}/login?next={quote(request.url.path)}"
        return RedirectResponse(where, status_code=303)
    return page(request, name, title)


@router.get("/cameras/{camera_id}")
async def camera(camera_id: DatabaseId, request: Request, store: StoreDep) -> Response:
    return await _signed_in_page(request, store, "camera", "Camera")


def _add_signed_in_page(path: str, name: str, title: str) -> None:
    async def serve(request: Request, store: StoreDep) -> Response:
        return await _signed_in_page(request, store, name, title)

    router.add_api_route(path, serve, methods=["GET"], name=f"{name}_page")


# The pages without a parameter: path, page name (static/<name>.js), title.
for _path, _name, _title in (
    ("/", "home", "Cameras"),
    ("/account", "account", "Account"),
    ("/setup", "setup", "Setup"),
    ("/status", "status", "Status"),
    ("/protocol", "protocol", "Protocol"),
):
    _add_signed_in_page(_path, _name, _title)


@router.get("/login")
async def login(request: Request) -> Response:
    return page(request, "login", "Sign in")
