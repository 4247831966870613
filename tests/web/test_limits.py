"""Request limits on a real listener: body size, slow senders, idle connections."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.runtime import Runtime
from fakecloud.web.app import create_app
from fakecloud.web.asgi import AsgiProtocolFactory
from fakecloud.web.http_part import HttpPart
from fakecloud.web.limits import BodyLimit, head_size

PERIOD = 0.3  # the watchdog's period in these tests
CLOSE_WITHIN = 10 * PERIOD  # a stalled connection must be closed well within this


async def _serve(app: FastAPI) -> AsyncIterator[int]:
    part = HttpPart(AsgiProtocolFactory(app, progress_period=PERIOD), "127.0.0.1", 0)
    await part.start()
    try:
        yield part.port
    finally:
        await part.stop()


@pytest.fixture
async def fakecloud_port(settings: Settings) -> AsyncIterator[int]:
    async for port in _serve(create_app(Runtime(settings, load_catalogue()))):
        yield port


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    async with asyncio.timeout(CLOSE_WITHIN):
        answer = await reader.read()
    writer.close()
    return answer


async def _closed_by_server(port: int, sent: bytes) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(sent)
    try:
        async with asyncio.timeout(CLOSE_WITHIN):
            return await reader.read() == b""
    finally:
        writer.close()


async def test_oversized_body_is_refused_before_it_is_sent(
    fakecloud_port: int, settings: Settings
) -> None:
    too_big = settings.max_request_bytes + 1
    answer = await _exchange(
        fakecloud_port,
        b"POST /cxs/api/auth/login HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Length: {too_big}\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 413")


async def test_chunked_body_is_refused(fakecloud_port: int) -> None:
    answer = await _exchange(
        fakecloud_port,
        b"POST /cxs/api/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 411")


@pytest.mark.parametrize(
    "stalled",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",  # the head never ends (slowloris)
        b"",  # connects and says nothing
        # the body never ends (the unknown-request recorder reads every body it is sent)
        b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nlogin=",
    ],
    ids=["slow-head", "silent", "slow-body"],
)
async def test_a_stalled_connection_is_closed_and_others_are_served(
    fakecloud_port: int, stalled: bytes
) -> None:
    stalled_task = asyncio.create_task(_closed_by_server(fakecloud_port, stalled))
    healthy = await _exchange(
        fakecloud_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert healthy.startswith(b"HTTP/1.1 200")
    assert await stalled_task


def _slow_app(gate: Callable[[], asyncio.Event]) -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodyLimit, max_bytes=1024)

    @app.get("/wait")
    async def wait() -> dict[str, bool]:
        # The app itself takes several watchdog periods (as a snapshot waiting for video does).
        await gate().wait()
        return {"ok": True}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"x" * 10
                await asyncio.sleep(PERIOD)  # the server's own pace, not test synchronisation

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    return app


async def test_waiting_on_the_app_and_streaming_are_progress() -> None:
    released = asyncio.Event()
    async for port in _serve(_slow_app(lambda: released)):
        waiting = asyncio.create_task(
            _exchange(port, b"GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        )
        streamed = await _exchange(
            port, b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert streamed.startswith(b"HTTP/1.1 200")
        assert streamed.count(b"x" * 10) == 4
        assert not waiting.done()  # three periods later, still waiting, still open
        released.set()
        assert (await waiting).startswith(b"HTTP/1.1 200")


@given(st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=20)), max_size=6))
def test_body_limit_never_fails_on_any_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """Whatever the headers, the request either reaches the app or gets a clear refusal."""
    reached: list[bool] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        reached.append(True)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    limit = BodyLimit(app, max_bytes=1024)
    scope = {"type": "http", "headers": [(k.lower(), v) for k, v in headers]}
    asyncio.run(limit(scope, None, send))
    assert reached or sent[0]["status"] in (411, 413)


@pytest.mark.parametrize("header_bytes", [100_000, 65 * 1024])
async def test_a_head_over_64_kib_is_refused_with_431_and_closed(
    fakecloud_port: int, header_bytes: int
) -> None:
    request = (
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * header_bytes + b"\r\n\r\n"
    )
    answer = await _exchange(fakecloud_port, request)  # returns once the server has closed
    assert answer.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400"))  # 400: h11 saw it arrive
    assert b"200 OK" not in answer


async def test_a_head_under_the_limit_is_served(fakecloud_port: int) -> None:
    request = (
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: "
        + b"a" * 60_000
        + b"\r\n\r\n"
    )
    assert (await _exchange(fakecloud_port, request)).startswith(b"HTTP/1.1 200")


def test_head_size_counts_what_was_sent() -> None:
    scope = {
        "method": "GET",
        "raw_path": b"/a",
        "query_string": b"",
        "headers": [(b"host", b"x")],
    }
    sent = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n"
    assert abs(head_size(scope) - len(sent)) <= 2


async def test_the_http_port_caps_its_connections() -> None:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    part = HttpPart(AsgiProtocolFactory(app), "127.0.0.1", 0, max_connections=2)
    await part.start()
    try:
        held = [await asyncio.open_connection("127.0.0.1", part.port) for _ in range(2)]
        async with asyncio.timeout(CLOSE_WITHIN):
            while part.status()["active_connections"] < 2:  # noqa: ASYNC110 - accepting
                await asyncio.sleep(0.01)
        # a full cap makes room by closing the oldest connection that sent no request
        answer = await _exchange(
            part.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 200")
        async with asyncio.timeout(CLOSE_WITHIN):
            try:
                assert await held[0][0].read() == b""
            except ConnectionResetError:
                pass
        assert part.status()["connections"]["evicted"] == 1
        held[0][1].close()
        async with asyncio.timeout(CLOSE_WITHIN):
            while part.status()["active_connections"] > 1:  # noqa: ASYNC110 - closing
                await asyncio.sleep(0.01)
        answer = await _exchange(
            part.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 200")
        held[1][1].close()
    finally:
        await part.stop()


def test_the_protocol_layer_imports_before_the_front_door() -> None:
    # A fresh interpreter: here the front door is already imported. The web app's protocol layer
    # uses the front door's budgets, and the front door's part uses the web app.
    subprocess.run([sys.executable, "-c", "import fakecloud.web.asgi"], check=True, timeout=60)
