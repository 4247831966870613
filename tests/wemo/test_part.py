"""WeMo motion end to end: a sensor on loopback speaking UPnP eventing over real HTTP (a
Starlette app on a real socket); fakecloud subscribes and turns its notifications into Motion."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakecloud.core.config import Settings
from fakecloud.core.events import Motion
from fakecloud.wemo.gena import EVENT_PATH
from fakecloud.wemo.part import WemoPart
from tests.media.test_viewer_e2e import WITHIN, running_cloud
from tests.wemo.test_gena import propertyset

CAMERA_ID = 42
SID = "uuid:sensor-subscription-1"


@dataclass
class Sensor:
    """A WeMo sensor's eventing side: takes one subscriber, notifies it on demand."""

    port: int = 0
    callback: str | None = None
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    async def subscribe(self, request: Request) -> Response:
        self.callback = request.headers["callback"].strip("<>")
        assert request.headers["nt"] == "upnp:event"
        self.subscribed.set()
        return Response(headers={"SID": SID, "TIMEOUT": "Second-600"})

    async def notify(self, state: str, sid: str = SID) -> int:
        assert self.callback is not None
        async with httpx.AsyncClient(timeout=WITHIN) as client:
            answer = await client.request(
                "NOTIFY",
                self.callback,
                headers={"SID": sid, "NT": "upnp:event", "NTS": "upnp:propchange", "SEQ": "0"},
                content=propertyset(state),
            )
        return answer.status_code


@contextlib.asynccontextmanager
async def running_sensor() -> AsyncIterator[Sensor]:
    # Imported here: importing fakecloud.web.asgi before fakecloud.frontdoor is circular.
    from fakecloud.web.asgi import AsgiProtocolFactory

    sensor = Sensor()
    app = Starlette(routes=[Route(EVENT_PATH, sensor.subscribe, methods=["SUBSCRIBE"])])
    protocols = AsgiProtocolFactory(app)
    server = await asyncio.get_running_loop().create_server(protocols, "127.0.0.1", 0)
    sensor.port = server.sockets[0].getsockname()[1]
    try:
        yield sensor
    finally:
        server.close()
        await protocols.close_connections()
        await server.wait_closed()


async def next_motion(events: object) -> dict[str, object]:
    async with asyncio.timeout(WITHIN):
        event = await events.get()  # type: ignore[attr-defined]
    assert isinstance(event, Motion) and event.camera_id == CAMERA_ID
    return event.detail


async def test_wemo_notifications_become_motion_events(settings: Settings) -> None:
    async with running_sensor() as sensor:
        sensors = [f"{CAMERA_ID}=http://127.0.0.1:{sensor.port}"]
        async with running_cloud(settings, wemo_sensors=sensors) as cloud:
            events = cloud.runtime.services.bus.subscribe("test", Motion)
            async with asyncio.timeout(WITHIN):
                await sensor.subscribed.wait()
            assert await sensor.notify("0") == 200  # the initial state: no event
            assert await sensor.notify("1") == 200
            assert await next_motion(events) == {"state": "start", "source": "wemo"}
            assert await sensor.notify("1|5|0") == 200  # still moving: no second start
            assert await sensor.notify("0") == 200
            assert await next_motion(events) == {"state": "end", "source": "wemo"}
            assert await sensor.notify("1", sid="uuid:someone-else") == 412
            assert events.status()["queued"] == 0
            part = cloud.runtime.part("wemo")
            assert isinstance(part, WemoPart)
            assert part.status()["sensors"] == {
                str(CAMERA_ID): {"subscribed": True, "moving": False}
            }
            assert part.status()["refused"] == 1
