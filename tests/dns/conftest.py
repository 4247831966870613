"""Fixtures for the DNS tests: loopback upstream stubs and a running shim."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings
from fakecloud.dns import DnsPart
from fakecloud.dns.upstream import Upstream
from tests.dns.stub import Behaviour, StubResolver


class ListRecorder:
    """A Recorder that keeps events in memory (the capture package has its own tests)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        self.events.append({"kind": kind, "data": data, **fields})


StubFactory = Callable[..., Awaitable[StubResolver]]
ShimFactory = Callable[..., Awaitable[DnsPart]]


@pytest.fixture
async def make_stub() -> AsyncIterator[StubFactory]:
    stubs: list[StubResolver] = []

    async def make(behaviour: Behaviour = "answer", ttl: int = 300) -> StubResolver:
        stub = await StubResolver(behaviour, ttl).start()
        stubs.append(stub)
        return stub

    yield make
    for stub in stubs:
        await stub.stop()


@pytest.fixture
async def make_shim(settings: Settings) -> AsyncIterator[ShimFactory]:
    parts: list[DnsPart] = []

    async def make(
        *stubs: StubResolver, settings_changes: dict[str, Any] | None = None, **options: Any
    ) -> DnsPart:
        upstreams = [Upstream("127.0.0.1", stub.port) for stub in stubs]
        shim_settings = settings.model_copy(
            update={"dns_upstream_timeout": 0.3, **(settings_changes or {})}
        )
        part = DnsPart(shim_settings, load_catalogue(), upstreams=upstreams, **options)
        await part.start()
        parts.append(part)
        return part

    yield make
    for part in parts:
        await part.stop()
