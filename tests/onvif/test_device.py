"""A camera's ONVIF addresses and identity."""

from __future__ import annotations

from dataclasses import replace

from tests.onvif.devices import DEVICE


def test_addresses() -> None:
    assert DEVICE.device_xaddr == "http://192.168.1.20:8900/onvif/device_service"
    assert DEVICE.media_xaddr == "http://192.168.1.20:8900/onvif/media_service"
    assert DEVICE.rtsp_url == "rtsp://192.168.1.20:8554/775753189167"


def test_ipv6_hosts_are_bracketed() -> None:
    device = replace(DEVICE, host="fd00::5")
    assert device.device_xaddr == "http://[fd00::5]:8900/onvif/device_service"
    assert device.rtsp_url.startswith("rtsp://[fd00::5]:8554/")


def test_mac_forms() -> None:
    assert DEVICE.hardware_address == "94:10:3e:00:00:01"
    assert DEVICE.endpoint_uuid == "urn:uuid:fa4ec10d-0000-4000-8000-94103e000001"
    odd = replace(DEVICE, mac="not-a-mac")
    assert odd.hardware_address == "not-a-mac"
    assert odd.endpoint_uuid.startswith("urn:uuid:fa4ec10d-")
