"""RTSP end to end: the real server in-process, simulated cameras through the relay and viewer
into the hub, and the real ffprobe and ffmpeg reading rtsp:// over TCP and UDP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fakecloud.core.config import Settings
from fakecloud.media.rtsp.server import RtspPart
from tests.media.outputs.conftest import ffprobe
from tests.media.test_viewer_e2e import OWNER, PASSWORD, WITHIN, Cloud, cloud, online, running_cloud

__all__ = ["cloud"]  # the fixture

VIDEO = "codec_name,width,height,r_frame_rate"


def rtsp_url(cloud: Cloud, camera: int | str, credentials: str = "") -> str:
    part = cloud.runtime.part("rtsp")
    assert isinstance(part, RtspPart)
    return f"rtsp://{credentials}127.0.0.1:{part.port}/{camera}"


async def probe(url: str, transport: str) -> dict[str, Any]:
    return await ffprobe(url, "-rtsp_transport", transport, entries=VIDEO)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_ffprobe_reads_h264_over_rtsp(cloud: Cloud, transport: str) -> None:
    async with online(cloud.camera(0)) as camera:
        stream = await probe(rtsp_url(cloud, camera.camera_id or 0), transport)
    assert stream == {"codec_name": "h264", "width": 1280, "height": 720, "r_frame_rate": "15/1"}
