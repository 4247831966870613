"""The one FastAPI app, served on the HTTP port and behind every cloud port's front door."""

from __future__ import annotations

from fastapi import FastAPI

from fakecloud import __version__
from fakecloud.runtime import Runtime
from fakecloud.web import (
    routes_api,
    routes_ca,
    routes_cxs,
    routes_events,
    routes_health,
    routes_llhls,
    routes_media,
    routes_recordings,
    routes_setup,
    routes_webrtc,
    routes_wemo,
)
from fakecloud.web.hosts import AllowedHosts, HostCheck
from fakecloud.web.limits import BodyLimit
from fakecloud.web.routes_unknown import UnknownRequests


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="fakecloud", version=__version__, docs_url="/api/docs", redoc_url=None)
    app.state.runtime = runtime
    # Added first, so it runs inside BodyLimit: an oversized body is refused whatever its Host.
    app.add_middleware(
        HostCheck, allowed=AllowedHosts.for_settings(runtime.settings, runtime.catalogue)
    )
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_request_bytes)
    routes = (
        routes_health,
        routes_api,
        routes_ca,
        routes_cxs,
        routes_media,
        routes_llhls,
        routes_webrtc,
        routes_recordings,
        routes_events,
        routes_wemo,
    )
    for module in (*routes, routes_setup):
        app.include_router(module.router)
    # Last: whatever no route above serves is recorded in the capture log and answered 404.
    app.router.routes.append(UnknownRequests())
    return app
