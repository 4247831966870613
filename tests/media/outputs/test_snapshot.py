"""Snapshots over real HTTP: decoded with PyAV, the test pattern's counter advances."""

from __future__ import annotations

import asyncio
import io

import av
import httpx

from fakecloud.core.events import StreamStopped
from fakecloud.media.testpattern import read_counter
from tests.media.outputs.conftest import H264_CAMERA, JPEG_CAMERA, MediaServer


def counter_of(jpeg: bytes) -> tuple[int, tuple[int, int]]:
    with av.open(io.BytesIO(jpeg), format="image2pipe") as container:
        picture = next(container.decode(video=0))
    luma = picture.reformat(format="gray").to_ndarray()
    return read_counter(luma), (picture.width, picture.height)


async def test_h264_snapshot_shows_the_latest_frame(media_server: MediaServer) -> None:
    camera = media_server.cameras[H264_CAMERA]
    async with (
        httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client,
        media_server.hub.subscribe(H264_CAMERA),  # another viewer keeps the stream going
    ):
        first = await client.get(f"/api/cameras/{H264_CAMERA}/snapshot.jpg")
        assert first.status_code == 200, first.text
        assert first.headers["content-type"] == "image/jpeg"
        counter, size = counter_of(first.content)
        assert size == (1280, 720)
        await camera.wait_for_frames(10)
        second = await client.get(f"/cxs/api/devices/{H264_CAMERA}/cam/recentImage.jpg")
        assert second.status_code == 200, second.text
        later, _ = counter_of(second.content)
        assert later >= counter + 10
        assert later < len(camera.published)


async def test_jpeg_snapshot_is_the_camera_picture(media_server: MediaServer) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client:
        response = await client.get(f"/api/cameras/{JPEG_CAMERA}/snapshot.jpg")
    assert response.status_code == 200, response.text
    assert response.content in {f.data for f in media_server.cameras[JPEG_CAMERA].published}
    counter, size = counter_of(response.content)
    assert size == (320, 240) and counter >= 0


async def test_snapshot_stream_is_released_after_linger(media_server: MediaServer) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client:
        response = await client.get(f"/api/cameras/{H264_CAMERA}/snapshot.jpg")
    assert response.status_code == 200
    assert await media_server.released.get() == H264_CAMERA
    assert media_server.hub.active_cameras() == []


async def test_a_stopped_stream_closes_its_snapshot_decoder(media_server: MediaServer) -> None:
    outputs = media_server.outputs
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=20) as client:
        response = await client.get(f"/api/cameras/{H264_CAMERA}/snapshot.jpg")
    assert response.status_code == 200
    assert outputs.status()["snapshots"] == {"decoders": 1}
    assert await media_server.released.get() == H264_CAMERA
    assert outputs.status()["snapshots"] == {"decoders": 1}  # kept until the stream stops

    outputs.bus.publish(StreamStopped(JPEG_CAMERA, "released"))  # another camera's: kept
    outputs.bus.publish(StreamStopped(H264_CAMERA, "released"))
    async with asyncio.timeout(20):
        while outputs.status()["snapshots"]["decoders"]:  # noqa: ASYNC110 - its own count
            await asyncio.sleep(0.01)
    events = outputs.bus.status()["subscribers"]["media-outputs"]
    assert events == {"queued": 0, "delivered": 2, "dropped": 0}
