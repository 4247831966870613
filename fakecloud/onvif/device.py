"""What one camera's ONVIF device tells clients: identity, addresses and its one video profile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from fakecloud.onvif.soap import SoapRequest
from fakecloud.store.models import Camera

MANUFACTURER = "fakecloud"
# Assumption (docs/onvif.md): the NetCam HD models send H.264 at 1280x720; nothing is asked of
# a camera until someone watches, so the profile states this rather than a measured size.
DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS = 1280, 720, 15
PROFILE_TOKEN = "profile_1"
VIDEO_SOURCE_TOKEN = "video_source_1"


@dataclass(frozen=True)
class OnvifDevice:
    camera_id: int
    owner: str | None
    name: str
    mac: str
    firmware: str
    host: str  # the announce address clients reach us on
    port: int  # this device's own ONVIF port
    rtsp_port: int
    http_port: int
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    fps: int = DEFAULT_FPS

    @classmethod
    def for_camera(
        cls, camera: Camera, *, host: str, port: int, rtsp_port: int, http_port: int
    ) -> OnvifDevice:
        return cls(
            camera_id=camera.id,
            owner=camera.owner,
            name=camera.name or f"NetCam {camera.mac}",
            mac=camera.mac,
            firmware=camera.firmware or "unknown",
            host=host,
            port=port,
            rtsp_port=rtsp_port,
            http_port=http_port,
        )

    @property
    def _authority(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def base_url(self) -> str:
        return f"http://{self._authority}:{self.port}/onvif"

    @property
    def device_xaddr(self) -> str:
        return f"{self.base_url}/device_service"

    @property
    def media_xaddr(self) -> str:
        return f"{self.base_url}/media_service"

    @property
    def rtsp_url(self) -> str:
        return f"rtsp://{self._authority}:{self.rtsp_port}/{self.camera_id}"

    @property
    def snapshot_url(self) -> str:
        return (
            f"http://{self._authority}:{self.http_port}/api/cameras/{self.camera_id}/snapshot.jpg"
        )

    @property
    def hardware_address(self) -> str:
        """The MAC as aa:bb:cc:dd:ee:ff (Home Assistant keys an ONVIF device by it)."""
        digits = "".join(ch for ch in self.mac.lower() if ch in "0123456789abcdef")
        if len(digits) != 12:
            return self.mac
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))

    @property
    def endpoint_uuid(self) -> str:
        """A stable WS-Discovery endpoint reference for this camera."""
        digits = "".join(ch for ch in self.mac.lower() if ch in "0123456789abcdef")
        tail = (digits + "0" * 12)[:12]
        return f"urn:uuid:fa4ec10d-0000-4000-8000-{tail}"

    @property
    def model(self) -> str:
        return "NetCam (fakecloud)"


# One operation of a service: the device and the parsed request in, the response element out.
Operation = Callable[[OnvifDevice, SoapRequest], etree._Element]
