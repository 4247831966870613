"""Motion from the WeMo side of Wemo-branded NetCams: a `Part` (name "wemo") that subscribes to
each configured sensor's `basicevent` service over UPnP eventing and publishes `Motion` when its
`BinaryState` changes.

The owner names each sensor (FAKECLOUD_WEMO_SENSORS=`<camera id>=http://<camera ip>:<port>`);
fakecloud gives it a callback on its own HTTP port (`NOTIFY /wemo/notify/<token>`,
fakecloud/web/routes_wemo.py), renews the subscription at half its timeout and subscribes
again, with backoff, when the sensor forgets it or is away.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from fakecloud.core.errors import UserError
from fakecloud.core.events import EventBus, Motion
from fakecloud.wemo.gena import (
    EVENT_PATH,
    GenaError,
    motion_state,
    notified_properties,
    parse_subscription,
    renew_headers,
    subscribe_headers,
)

log = logging.getLogger(__name__)

REQUEST_SECONDS = 5.0
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 60.0


def parse_sensor(entry: str) -> tuple[int, str]:
    """`<camera id>=http://host:port` → (camera id, the sensor's event URL)."""
    camera, _, url = entry.partition("=")
    parts = urlsplit(url.strip())
    if not camera.strip().isdigit() or parts.scheme != "http" or not parts.hostname:
        raise UserError(f"FAKECLOUD_WEMO_SENSORS: {entry!r} is not <camera id>=http://host:port")
    return int(camera), f"http://{parts.netloc}{parts.path.rstrip('/') or EVENT_PATH}"


@dataclass
class _Sensor:
    camera_id: int
    url: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    sid: str | None = None
    moving: bool | None = None
    failures: int = 0


class WemoPart:
    name = "wemo"

    def __init__(self, sensors: list[str], bus: EventBus, callback_base: Callable[[], str]):
        """`callback_base()` is fakecloud's HTTP address as the sensor reaches it, read once the
        HTTP port is bound (`http://<announce address>:<port>`)."""
        self._bus = bus
        self._callback_base = callback_base
        self._sensors = {s.token: s for s in (_Sensor(*parse_sensor(e)) for e in sensors)}
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self.counters = {"notifications": 0, "refused": 0, "subscribed": 0}

    async def start(self) -> None:
        if not self._sensors:
            return
        self._client = httpx.AsyncClient(timeout=REQUEST_SECONDS)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_subscribed(s), name=f"wemo-{s.camera_id}")
            for s in self._sensors.values()
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def status(self) -> dict[str, Any]:
        sensors = {
            str(s.camera_id): {"subscribed": s.sid is not None, "moving": s.moving}
            for s in self._sensors.values()
        }
        return {"sensors": sensors, **self.counters}

    def notify(self, token: str, sid: str | None, body: bytes) -> bool:
        """A NOTIFY reached our callback; False (answered 412) when it is not a subscription of
        ours. Security consideration: the token in the path and the SID must both match."""
        sensor = self._sensors.get(token)
        if sensor is None or sensor.sid is None or sid != sensor.sid:
            self.counters["refused"] += 1
            return False
        self.counters["notifications"] += 1
        try:
            moving = motion_state(notified_properties(body))
        except GenaError as error:
            log.debug("camera %s: WeMo notification ignored: %s", sensor.camera_id, error)
            return True
        if moving is not None and moving != sensor.moving:
            was_known = sensor.moving is not None
            sensor.moving = moving
            # The first notification tells the current state: "no motion" then is no event.
            if moving or was_known:
                state = "start" if moving else "end"
                self._bus.publish(Motion(sensor.camera_id, {"state": state, "source": "wemo"}))
        return True

    async def _keep_subscribed(self, sensor: _Sensor) -> None:
        while True:
            try:
                seconds = await self._subscribe(sensor)
                sensor.failures = 0
                await asyncio.sleep(seconds / 2)  # renewal period, not synchronisation
            except (httpx.HTTPError, GenaError) as error:
                sensor.sid = None
                sensor.failures += 1
                if sensor.failures == 1:
                    log.warning(
                        "camera %s: WeMo sensor %s: %s", sensor.camera_id, sensor.url, error
                    )
                backoff = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (sensor.failures - 1))
                await asyncio.sleep(backoff)  # backoff, not synchronisation

    async def _subscribe(self, sensor: _Sensor) -> int:
        assert self._client is not None
        if sensor.sid is not None:
            answer = await self._client.request(
                "SUBSCRIBE", sensor.url, headers=renew_headers(sensor.sid)
            )
            if answer.status_code == 200:
                return parse_subscription(sensor.sid, answer.headers.get("timeout")).seconds
            sensor.sid = None  # the sensor forgot us (it restarted): subscribe afresh
        callback = f"{self._callback_base()}/wemo/notify/{sensor.token}"
        answer = await self._client.request(
            "SUBSCRIBE", sensor.url, headers=subscribe_headers(callback)
        )
        if answer.status_code != 200:
            raise GenaError(f"SUBSCRIBE answered {answer.status_code}")
        subscription = parse_subscription(answer.headers.get("sid"), answer.headers.get("timeout"))
        sensor.sid = subscription.sid
        self.counters["subscribed"] += 1
        log.info("camera %s: subscribed to the WeMo sensor at %s", sensor.camera_id, sensor.url)
        return subscription.seconds
