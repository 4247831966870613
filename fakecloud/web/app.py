"""The one FastAPI app, served on the HTTP port and behind every cloud port's front door."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from fakecloud import __version__
from fakecloud.runtime import Runtime
from fakecloud.web import (
    api_docs,
    routes_account,
    routes_api,
    routes_ca,
    routes_cameras,
    routes_cxs,
    routes_doctor,
    routes_events,
    routes_health,
    routes_live,
    routes_llhls,
    routes_media,
    routes_mediamtx,
    routes_metrics,
    routes_onboard,
    routes_pages,
    routes_protocol,
    routes_recordings,
    routes_setup,
    routes_webrtc,
    routes_wemo,
)
from fakecloud.web.hosts import AllowedHosts, HostCheck
from fakecloud.web.limits import BodyLimit
from fakecloud.web.routes_unknown import UnknownRequests


def create_app(runtime: Runtime) -> FastAPI:
    # The API docs' scripts come from the package (fastapi-offline), not a CDN: they work offline
    # (ReDoc's page is api_docs', which also leaves out ReDoc's logo from the internet).
    app = FastAPIOffline(
        title="fakecloud",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        static_url="/api/docs-assets",
        favicon_url="/static/favicon.svg",
    )
    app.state.runtime = runtime
    app.state.live_listeners = routes_live.Listeners()
    app.state.camera_setup = asyncio.Lock()  # one camera setup at a time (routes_onboard)
    # Added first, so it runs inside BodyLimit: an oversized body is refused whatever its Host.
    app.add_middleware(
        HostCheck,
        allowed=AllowedHosts.for_settings(runtime.settings, runtime.catalogue),
        settings=runtime.settings,
    )
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_request_bytes)
    routes = (
        routes_health,
        routes_doctor,
        routes_api,
        routes_ca,
        routes_cxs,
        routes_media,
        routes_llhls,
        routes_webrtc,
        routes_mediamtx,
        routes_metrics,
        routes_recordings,
        routes_events,
        routes_wemo,
    )
    web_app = (
        routes_pages,
        routes_account,
        routes_cameras,
        routes_live,
        routes_protocol,
        routes_onboard,
    )
    for module in (*routes, *web_app, routes_setup, api_docs):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(packages=[("fakecloud.web", "static")]), name="static")
    # Last: whatever no route above serves is recorded in the capture log and answered 404.
    app.router.routes.append(UnknownRequests())
    return app
