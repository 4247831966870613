"""The one FastAPI app, served on the HTTP port and behind every cloud port's front door."""

from __future__ import annotations

from fastapi import FastAPI

from fakecloud import __version__
from fakecloud.runtime import Runtime
from fakecloud.web import routes_health


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="fakecloud", version=__version__, docs_url="/api/docs", redoc_url=None)
    app.state.runtime = runtime
    app.include_router(routes_health.router)
    return app
