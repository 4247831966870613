"""Assemble and run every configured part of fakecloud."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.runtime import Runtime
from fakecloud.web.app import create_app
from fakecloud.web.asgi import AsgiProtocolFactory
from fakecloud.web.http_part import HttpPart

log = logging.getLogger(__name__)


def build_runtime(settings: Settings) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(settings, load_catalogue(settings.extra_hostnames))
    app = create_app(runtime)
    http = AsgiProtocolFactory(app, max_header_bytes=64 * 1024)
    runtime.services["asgi"] = http
    runtime.parts.append(HttpPart(http, settings.bind_address, settings.http_port))
    return runtime


async def start_parts(runtime: Runtime) -> None:
    """Start parts in order; if one cannot start, stop the ones already running and re-raise."""
    started = []
    try:
        for part in runtime.parts:
            await part.start()
            started.append(part)
    except BaseException:
        for part in reversed(started):
            await part.stop()
        raise


async def stop_parts(runtime: Runtime) -> None:
    for part in reversed(runtime.parts):
        try:
            await part.stop()
        except Exception:
            log.exception("stopping %s failed", part.name)


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or until `stop` is set)."""
    runtime = build_runtime(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await start_parts(runtime)
    log.info(
        "fakecloud is running; cameras should be pointed at %s",
        settings.effective_announce_address,
    )
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await stop_parts(runtime)


def run(settings: Settings) -> None:
    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    except UserError:
        raise
