"""A real broker behind a real loopback listener, over a real store."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from fakecloud.broker import Broker
from fakecloud.core.config import Settings
from fakecloud.frontdoor.connection_info import ConnectionInfo
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.store import AsyncStore, Store

OWNER = "alice"
OWNER_PASSWORD = "correct horse battery"
OTHER = "mallory"
OTHER_PASSWORD = "another password"
_ids = itertools.count(1)


class ListRecorder:
    """Keeps what the broker records (the capture log's Recorder contract)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        self.events.append({"kind": kind, "data": data, **fields})

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["kind"] == kind]


@dataclass
class BrokerServer:
    broker: Broker
    store: Any
    recorder: ListRecorder
    port: int = 0
    server: asyncio.Server | None = field(default=None, repr=False)

    async def listen(self) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            host, port = writer.get_extra_info("peername")[:2]
            local = writer.get_extra_info("sockname")[0]
            info = ConnectionInfo(f"t{next(_ids)}", (host, port), self.port, False, None, local)
            await self.broker.handle_connection(reader, writer, info)

        self.server = await asyncio.start_server(handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        await self.broker.start()

    async def shutdown(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.broker.stop()
            await self.server.wait_closed()
            self.server = None


def make_store(settings: Settings) -> AsyncStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_path)
    store.add_account(OWNER, OWNER_PASSWORD)
    store.add_account(OTHER, OTHER_PASSWORD)
    return AsyncStore(store)


@pytest.fixture
def broker_settings(settings: Settings) -> Settings:
    # No second-hop port: redirected clients come back to this one listener (the fallback path),
    # at a name the hosts file resolves, so no client here asks a DNS server off this machine.
    update = {
        "keepalive_timeout": 30.0,
        "max_request_bytes": 64 * 1024,
        "broker_port": 0,
        "broker_hostname": "localhost",
    }
    return settings.model_copy(update=update)


@pytest.fixture
async def served(broker_settings: Settings) -> AsyncIterator[BrokerServer]:
    recorder = ListRecorder()
    store = make_store(broker_settings)
    running = BrokerServer(Broker(broker_settings, store, recorder), store, recorder)
    await running.listen()
    try:
        yield running
    finally:
        await running.shutdown()
        await store.close()


async def wait_until(predicate: Any, within: float = 5.0) -> None:
    """Bounded polling on a store condition (the store has no change notifications)."""
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - nothing to await on a database row
            await asyncio.sleep(0.02)


async def no_camera_online(served: BrokerServer) -> bool:
    return not served.broker.online_camera_ids()


MAC = "00:11:22:33:44:55"


def camera_for(served: BrokerServer, mac: str = MAC, **options: Any) -> SimulatedCamera:
    settings = {"login": OWNER, "password": OWNER_PASSWORD, "first_backoff": 0.05}
    return SimulatedCamera("127.0.0.1", served.port, mac=mac, **(settings | options))


@pytest.fixture
async def online_camera(served: BrokerServer) -> AsyncIterator[SimulatedCamera]:
    camera = camera_for(served)
    task = asyncio.create_task(camera.run())
    async with asyncio.timeout(5):
        await camera.logged_in.wait()
    yield camera
    camera.stop()
    await task
