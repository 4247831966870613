"""Fixtures for the front door: fakecloud's own CA, a collecting recorder, a tiny web app."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request

from fakecloud.certs import CertificateAuthority
from fakecloud.frontdoor.part import FrontDoorPart
from fakecloud.web.asgi import AsgiProtocolFactory

DEVICE_NAME = "server.seedonk.com"
APP_NAME = "netcam.belkin.com"


@dataclass(frozen=True)
class Pki:
    authority: CertificateAuthority

    def device_context(self) -> ssl.SSLContext:
        """What camera-facing ports serve: the device leaf, 2012-era TLS 1.0 clients welcome."""
        return self.authority.server_context("device")

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.authority.ca_pem_path))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    certs_dir = tmp_path_factory.mktemp("frontdoor") / "certs"
    return Pki(CertificateAuthority.ensure(certs_dir, [DEVICE_NAME, APP_NAME], "127.0.0.1"))


class ListRecorder:
    """A Recorder that keeps records in memory and lets a test wait for them."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        self.records.append({"kind": kind, "data": data, **fields})
        self._changed.set()

    async def wait_for(self, count: int = 1, within: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(within):
            while len(self.records) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.records


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, str]:
        return {"status": "ok", "scheme": request.url.scheme}

    return app


@pytest.fixture(scope="session")
def asgi() -> AsgiProtocolFactory:
    return AsgiProtocolFactory(make_app())


PartFactory = Callable[..., Awaitable[FrontDoorPart]]


@pytest.fixture
async def front_door(
    pki: Pki, recorder: ListRecorder, asgi: AsgiProtocolFactory
) -> AsyncIterator[PartFactory]:
    """Start a front door on 127.0.0.1 (kernel-chosen port unless `ports` is given)."""
    parts: list[FrontDoorPart] = []

    async def start(**overrides: Any) -> FrontDoorPart:
        arguments: dict[str, Any] = {
            "tls_context": pki.device_context(),
            "cxnet_handler": None,
            "asgi": asgi,
            "recorder": recorder,
            "first_bytes_timeout": 5.0,
            "idle_timeout": 30.0,
        }
        arguments.update(overrides)
        ports = arguments.pop("ports", [0])
        part = FrontDoorPart("127.0.0.1", ports, **arguments)
        parts.append(part)
        await part.start()
        return part

    yield start
    for part in parts:
        await part.stop()
