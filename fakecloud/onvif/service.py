"""One ONVIF request answered: parse, authorise, dispatch to the device or media service.

Policy: GetSystemDateAndTime is open to all (a client needs our clock to sign). Every other
operation needs a UsernameToken of the camera's owner; a request without one is served only
to a client on the trusted networks, as the other outputs do (fakecloud.web.deps)."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from fakecloud.core.config import address_in
from fakecloud.onvif import device_service, media_service
from fakecloud.onvif.auth import TokenChecker
from fakecloud.onvif.device import OnvifDevice, Operation
from fakecloud.onvif.soap import (
    NAMESPACES,
    SoapFault,
    SoapRequest,
    envelope,
    fault_envelope,
    not_authorized,
    parse_request,
)

log = logging.getLogger(__name__)

SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
# The service path of each endpoint, the namespace its operations are in, and its operations.
SERVICES: dict[str, tuple[str, dict[str, Operation]]] = {
    "device_service": (NAMESPACES["tds"], device_service.OPERATIONS),
    "media_service": (NAMESPACES["trt"], media_service.OPERATIONS),
}

Networks = list[ipaddress.IPv4Network | ipaddress.IPv6Network]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class OnvifService:
    def __init__(self, checker: TokenChecker, trusted_networks: Networks) -> None:
        self.checker = checker
        self.trusted_networks = trusted_networks

    async def answer(
        self, service: str, data: bytes, device: OnvifDevice | None, client: str | None
    ) -> Answer:
        try:
            return Answer(200, await self._answer(service, data, device, client))
        except SoapFault as fault:
            return Answer(fault.http_status, fault_envelope(fault))

    async def _answer(
        self, service: str, data: bytes, device: OnvifDevice | None, client: str | None
    ) -> bytes:
        request = parse_request(data)
        namespace, operations = SERVICES[service]
        operation = operations.get(request.operation)
        if request.namespace != namespace or operation is None:
            raise SoapFault(
                "Receiver", "ActionNotSupported", f"{request.operation} is not supported"
            )
        if device is None:  # the camera was forgotten since its listener started
            raise SoapFault("Receiver", "ActionNotSupported", "no such device")
        if request.operation not in device_service.UNAUTHENTICATED:
            await self._authorise(request, device, client)
        return envelope(operation(device, request))

    async def _authorise(
        self, request: SoapRequest, device: OnvifDevice, client: str | None
    ) -> None:
        if request.token is None:
            if client is not None and address_in(client, self.trusted_networks):
                return
            raise not_authorized()
        account = await self.checker.account_for(request.token, client)
        # Security consideration: an account sees its own cameras only, like everywhere else.
        if device.owner is None or account.login != device.owner:
            log.info("ONVIF: %s may not use camera %d", account.login, device.camera_id)
            raise not_authorized()
