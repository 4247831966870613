"""The ONVIF part: one device per owned camera, each on a port of its own, and WS-Discovery.

Why a port per camera: ONVIF clients find a device's services from its device service, whose
address they build as http://HOST:PORT/onvif/device_service (python-onvif-zeep, which Home
Assistant uses, hard-codes that path), and NVRs key a device by host and port. So each camera
gets a port of its own from FAKECLOUD_ONVIF_PORT_BASE up, and keeps it (fakecloud.onvif.ports)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.core.events import CameraEvent, CameraOnline, EventBus, consume
from fakecloud.frontdoor.budgets import ConnectionBudget
from fakecloud.onvif.app import create_onvif_app
from fakecloud.onvif.auth import TokenChecker, load_key
from fakecloud.onvif.device import OnvifDevice
from fakecloud.onvif.device_service import scopes
from fakecloud.onvif.discovery import DiscoveryResponder, open_responder
from fakecloud.onvif.discovery_codec import Endpoint
from fakecloud.onvif.ports import PortBook
from fakecloud.onvif.service import OnvifService
from fakecloud.store.models import Camera
from fakecloud.store.protocol import CameraStore
from fakecloud.web.asgi import AsgiProtocolFactory
from fakecloud.web.http_part import HttpPart

log = logging.getLogger(__name__)

# Security consideration: an NVR holds one or two connections to a device; each camera's port
# takes this many at once (within the process-wide connection budget).
CONNECTIONS_PER_DEVICE = 16
MAX_HEADER_BYTES = 16 * 1024
WILDCARD_V4 = "0.0.0.0"


class OnvifPart:
    name = "onvif"

    def __init__(
        self,
        settings: Settings,
        store: CameraStore,
        bus: EventBus,
        *,
        budget: ConnectionBudget | None = None,
        http_port: Callable[[], int] | None = None,
        rtsp_port: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus
        self.budget = budget
        # The ports as bound (a setting of 0 means "any"): the URLs a device gives name them.
        self.http_port = http_port or (lambda: settings.http_port)
        self.rtsp_port = rtsp_port or (lambda: settings.rtsp_port)
        self.ports = PortBook(settings.data_dir, settings.onvif_port_base)
        self.listeners: dict[int, HttpPart] = {}  # camera id -> its listener
        self.devices: dict[int, OnvifDevice] = {}  # camera id -> as last read
        self._camera_at_port: dict[int, int] = {}
        self._protocols: AsgiProtocolFactory | None = None
        self._presence: asyncio.Task[None] | None = None
        self._discovery: asyncio.DatagramTransport | None = None
        self.responder: DiscoveryResponder | None = None
        self._lock = asyncio.Lock()
        self._served = asyncio.Condition()  # told whenever a camera's device starts

    async def start(self) -> None:
        checker = TokenChecker(self.store, load_key(self.settings.data_dir))
        service = OnvifService(checker, self.settings.trusted_http_networks())
        app = create_onvif_app(service, self.device_at)
        self._protocols = AsgiProtocolFactory(app, max_header_bytes=MAX_HEADER_BYTES)
        # Subscribed before the first listing, so a camera paired in between is not missed.
        presence = self.bus.subscribe("onvif", CameraOnline, limit=64)
        for camera in await self.store.list_cameras():
            await self._serve(camera)
        self._presence = asyncio.get_running_loop().create_task(
            consume(presence, self._heard), name="onvif-presence"
        )
        if self.settings.onvif_discovery_port:
            self._discovery, self.responder = await open_responder(
                WILDCARD_V4,
                self.settings.onvif_discovery_port,
                self.endpoints,
                self.settings.allowed_networks(),
            )
            self.responder.announce(self._discovery, self.settings.onvif_discovery_port)

    async def stop(self) -> None:
        if self._presence is not None:
            self._presence.cancel()
            await asyncio.gather(self._presence, return_exceptions=True)
            self._presence = None
        if self._discovery is not None:
            self._discovery.close()
            self._discovery = None
        for listener in self.listeners.values():
            await listener.stop()
        self.listeners.clear()
        self._camera_at_port.clear()

    def status(self) -> dict[str, Any]:
        return {
            "devices": {
                str(camera_id): device.device_xaddr for camera_id, device in self.devices.items()
            },
            "discovery": dict(self.responder.counters) if self.responder else None,
        }

    async def _heard(self, event: CameraEvent) -> None:
        assert isinstance(event, CameraOnline)
        camera = await self.store.get_camera(event.camera_id)
        if camera is not None:
            await self._serve(camera)

    def _device(self, camera: Camera, port: int) -> OnvifDevice:
        return OnvifDevice.for_camera(
            camera,
            host=self.settings.effective_announce_address,
            port=port,
            rtsp_port=self.rtsp_port(),
            http_port=self.http_port(),
        )

    async def _serve(self, camera: Camera) -> None:
        """Open the camera's ONVIF port, once it has an owner (a pending camera has none)."""
        async with self._lock:
            if camera.owner is None or camera.id in self.listeners or self._protocols is None:
                return
            port = self.ports.port_for(camera.id) if self.settings.onvif_port_base else 0
            if port is None:
                log.warning("ONVIF: no free port left for camera %d; not served", camera.id)
                return
            listener = HttpPart(
                self._protocols,
                self.settings.bind_address,
                port,
                max_connections=CONNECTIONS_PER_DEVICE,
                budget=self.budget,
                serves=f"ONVIF device of camera {camera.id}",
            )
            listener.name = f"onvif-{camera.id}"
            try:
                await listener.start()
            except UserError as error:  # one busy port leaves the other cameras served
                log.warning("ONVIF: camera %d not served: %s", camera.id, error)
                return
            self.listeners[camera.id] = listener
            self._camera_at_port[listener.port] = camera.id
            self.devices[camera.id] = self._device(camera, listener.port)
        async with self._served:
            self._served.notify_all()

    async def serving(self, camera_id: int) -> OnvifDevice:
        """The camera's device, once it is served (wrap in a timeout)."""
        async with self._served:
            await self._served.wait_for(lambda: camera_id in self.devices)
        return self.devices[camera_id]

    async def device_at(self, port: int) -> OnvifDevice | None:
        """The device a local port serves, read afresh (its owner or name may have changed)."""
        camera_id = self._camera_at_port.get(port)
        camera = await self.store.get_camera(camera_id) if camera_id is not None else None
        if camera is None:
            return None
        device = self.devices[camera.id] = self._device(camera, port)
        return device

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(device.endpoint_uuid, (device.device_xaddr,), tuple(scopes(device)))
            for device in self.devices.values()
        ]
