"""Every device-service answer is valid against the ONVIF device WSDL's schema, for requests as
zeep (the SOAP library of python-onvif-zeep) builds them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fakecloud.onvif import device_service
from fakecloud.onvif.soap import NAMESPACES, parse_request
from tests.onvif.devices import DEVICE
from tests.onvif.requests import request
from tests.onvif.schemas import assert_valid

TDS, TT = NAMESPACES["tds"], NAMESPACES["tt"]
ARGUMENTS = {"GetCapabilities": {"Category": "All"}, "GetServices": {"IncludeCapability": False}}


@pytest.mark.parametrize("operation", sorted(device_service.OPERATIONS))
def test_every_answer_is_schema_valid(operation: str) -> None:
    parsed = parse_request(request("device", operation, **ARGUMENTS.get(operation, {})))
    assert_valid(parsed.body)  # what the client sent
    assert_valid(device_service.OPERATIONS[operation](DEVICE, parsed))


def answer(operation: str) -> object:
    parsed = parse_request(request("device", operation, **ARGUMENTS.get(operation, {})))
    return device_service.OPERATIONS[operation](DEVICE, parsed)


def test_the_clock_is_utc_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    utc = answer("GetSystemDateAndTime").find(f".//{{{TT}}}UTCDateTime")  # type: ignore[attr-defined]
    date, time = utc.find(f"{{{TT}}}Date"), utc.find(f"{{{TT}}}Time")
    told = datetime(
        *(int(date.findtext(f"{{{TT}}}{name}")) for name in ("Year", "Month", "Day")),
        *(int(time.findtext(f"{{{TT}}}{name}")) for name in ("Hour", "Minute", "Second")),
        tzinfo=UTC,
    )
    assert before <= told <= datetime.now(UTC)


def test_capabilities_and_services_name_our_xaddrs() -> None:
    capabilities = answer("GetCapabilities")
    xaddrs = [element.text for element in capabilities.iter(f"{{{TT}}}XAddr")]  # type: ignore[attr-defined]
    assert xaddrs == [DEVICE.device_xaddr, DEVICE.media_xaddr]
    services = answer("GetServices")
    found = {
        service.findtext(f"{{{TDS}}}Namespace"): service.findtext(f"{{{TDS}}}XAddr")
        for service in services.iter(f"{{{TDS}}}Service")  # type: ignore[attr-defined]
    }
    assert found == {TDS: DEVICE.device_xaddr, NAMESPACES["trt"]: DEVICE.media_xaddr}


def test_identity_carries_the_mac() -> None:
    info = answer("GetDeviceInformation")
    assert info.findtext(f"{{{TDS}}}SerialNumber") == "94103E000001"  # type: ignore[attr-defined]
    interfaces = answer("GetNetworkInterfaces")
    assert interfaces.findtext(f".//{{{TT}}}HwAddress") == "94:10:3e:00:00:01"  # type: ignore[attr-defined]


def test_scopes_name_the_camera_without_spaces() -> None:
    assert "onvif://www.onvif.org/name/Porch__front_" in device_service.scopes(DEVICE)
    assert "onvif://www.onvif.org/Profile/Streaming" in device_service.scopes(DEVICE)
