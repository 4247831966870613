"""A device as the services see it, for the pure-function tests."""

from __future__ import annotations

from fakecloud.onvif.device import OnvifDevice

DEVICE = OnvifDevice(
    camera_id=775753189167,
    owner="alice",
    name="Porch <front>",
    mac="94103E000001",
    firmware="2.4.3",
    host="192.168.1.20",
    port=8900,
    rtsp_port=8554,
    http_port=8000,
)
