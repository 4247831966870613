"""The ASGI app every camera's ONVIF port serves; which camera is told by the local port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakecloud.onvif.device import OnvifDevice
from fakecloud.onvif.service import SERVICES, SOAP_CONTENT_TYPE, OnvifService
from fakecloud.onvif.soap import MAX_REQUEST_BYTES
from fakecloud.web.limits import BodyLimit

# The device at a local port, or None (a camera forgotten since its listener started).
DeviceAtPort = Callable[[int], Awaitable[OnvifDevice | None]]
Endpoint = Callable[[Request], Awaitable[Response]]


def create_onvif_app(service: OnvifService, device_at: DeviceAtPort) -> BodyLimit:
    def endpoint_for(name: str) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            port = int((request.scope.get("server") or ("", 0))[1] or 0)
            client = request.client.host if request.client else None
            device = await device_at(port)
            answer = await service.answer(name, await request.body(), device, client)
            return Response(answer.body, answer.status, media_type=SOAP_CONTENT_TYPE)

        return endpoint

    routes = [Route(f"/onvif/{name}", endpoint_for(name), methods=["POST"]) for name in SERVICES]
    return BodyLimit(Starlette(routes=routes), MAX_REQUEST_BYTES)
