"""ONVIF requests as a real client builds them: zeep, from the WSDL onvif-zeep-async ships, with
its WS-UsernameToken (PasswordDigest or PasswordText) signer. Built offline; nothing is sent."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from zeep import Client
from zeep.wsse.username import UsernameToken

from tests.onvif.schemas import WSDL_DIR

SERVICES = {
    "device": ("devicemgmt.wsdl", "{http://www.onvif.org/ver10/device/wsdl}DeviceBinding"),
    "media": ("media.wsdl", "{http://www.onvif.org/ver10/media/wsdl}MediaBinding"),
}
ADDRESS = "http://127.0.0.1:1/onvif/device_service"


@functools.cache
def _client(service: str) -> Client:
    return Client(str(WSDL_DIR / SERVICES[service][0]))


def request(
    service: str,
    operation: str,
    *,
    login: str | None = None,
    password: str = "",
    digest: bool = True,
    created: datetime | None = None,
    **arguments: Any,
) -> bytes:
    """The SOAP envelope a zeep ONVIF client posts for `operation`."""
    client = _client(service)
    if login is not None:
        client.wsse = UsernameToken(
            login, password, use_digest=digest, created=created or datetime.now(UTC)
        )
    else:
        client.wsse = None
    proxy = client.create_service(SERVICES[service][1], ADDRESS)
    message = client.create_message(proxy, operation, **arguments)
    return bytes(etree.tostring(message))
