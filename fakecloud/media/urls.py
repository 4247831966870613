"""Every URL a camera is watched at, and copy-ready configuration for players and NVRs.

Pure: built from the address and ports clients are told (the announce address, the HTTP and
RTSP ports), so `fakecloud camera urls` and `/api/cameras/{id}` print the same thing. The RTSP
and WebRTC (WHEP) URLs name outputs served by their own parts (issue 10 sections 1 and 2).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from urllib.parse import quote

from fakecloud.core.config import Settings


def http_paths(camera_id: int, prefix: str = "") -> dict[str, str]:
    """The HTTP outputs' paths on the server (what a page served by fakecloud links to), under
    the path prefix the browser sees the server at (Home Assistant's ingress)."""
    base = f"{prefix}/api/cameras/{camera_id}"
    return {
        "snapshot": f"{base}/snapshot.jpg",
        "mjpeg": f"{base}/stream.mjpeg",
        "hls": f"{base}/hls/index.m3u8",
        "llhls": f"{base}/hls/ll.m3u8",
        "flv": f"{prefix}/cxs/api/devices/{camera_id}/cam/liveStream?type=video/x-flv",
        "webrtc": f"{base}/webrtc",
    }


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@dataclass(frozen=True, slots=True)
class CameraUrls:
    snapshot: str
    mjpeg: str
    hls: str  # MPEG-TS segments, for every HLS player
    llhls: str  # fMP4 parts and blocking reload, for LL-HLS players
    flv: str
    rtsp: str
    rtsp_by_name: str | None  # the same stream at the camera's name, when it has one
    webrtc: str  # WHEP: POST an SDP offer, get the answer

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def camera_urls(
    address: str, http_port: int, rtsp_port: int, camera_id: int, name: str | None = None
) -> CameraUrls:
    http = f"http://{_host(address)}:{http_port}"
    rtsp = f"rtsp://{_host(address)}:{rtsp_port}"
    paths = {key: http + path for key, path in http_paths(camera_id).items()}
    return CameraUrls(
        **paths,
        rtsp=f"{rtsp}/{camera_id}",
        rtsp_by_name=f"{rtsp}/{quote(name, safe='')}" if name else None,
    )


def urls_for_settings(settings: Settings, camera_id: int, name: str | None = None) -> CameraUrls:
    return camera_urls(
        settings.effective_announce_address,
        settings.http_port,
        settings.rtsp_port,
        camera_id,
        name,
    )


def stream_key(camera_id: int, name: str | None) -> str:
    """A go2rtc/Frigate stream name: the camera's name in lower case, else netcam_<id>."""
    slug = re.sub(r"[^a-z0-9]+", "_", (name or "").lower()).strip("_")
    return slug or f"netcam_{camera_id}"


def snippets(urls: CameraUrls, key: str) -> dict[str, str]:
    """Configuration to paste, per product; the YAML ones parse as YAML."""
    return {
        "go2rtc": f"streams:\n  {key}:\n    - {urls.rtsp}\n",
        # Frigate's bundled go2rtc pulls the camera once; Frigate and its viewers read go2rtc's
        # restream on 127.0.0.1:8554 (Frigate's recommended setup).
        "frigate": (
            "go2rtc:\n"
            "  streams:\n"
            f"    {key}:\n"
            f"      - {urls.rtsp}\n"
            "cameras:\n"
            f"  {key}:\n"
            "    ffmpeg:\n"
            "      inputs:\n"
            f"        - path: rtsp://127.0.0.1:8554/{key}\n"
            "          input_args: preset-rtsp-restream\n"
            "          roles:\n"
            "            - record\n"
            "            - detect\n"
        ),
        # Generic Camera is set up in the UI (Settings > Devices & services); these are its
        # fields. The FLV source suits Home Assistant's built-in go2rtc better than HLS.
        "home_assistant": (
            "generic_camera:\n"
            f"  still_image_url: {urls.snapshot}\n"
            f"  stream_source: {urls.rtsp}\n"
            "  rtsp_transport: tcp\n"
            "generic_camera_without_rtsp:\n"
            f"  still_image_url: {urls.snapshot}\n"
            f'  stream_source: "{urls.flv}"\n'
        ),
        "blue_iris": (
            "Add new camera > Network IP > Make: Generic/ONVIF, "
            "Model: RTSP H.264/H.265/MJPG/MPEG4\n"
            f"Address: {urls.rtsp}\n"
        ),
        "vlc": f"vlc {urls.rtsp}\nvlc {urls.hls}\n",
    }
