"""Camera video for browsers, players and the old web portal: snapshot, MJPEG, HLS and FLV."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response, StreamingResponse

from fakecloud.media.hub import HubFullError
from fakecloud.media.outputs.flv import CONTENT_TYPE as FLV_TYPE
from fakecloud.media.outputs.hls import PLAYLIST_TYPE, SEGMENT_TYPE
from fakecloud.media.outputs.mjpeg import CONTENT_TYPE as MJPEG_TYPE
from fakecloud.media.outputs.pictures import PictureError
from fakecloud.media.outputs.streaming import NoVideoError, UnsupportedCodecError
from fakecloud.web.deps import (
    DatabaseId,
    MediaHubDep,
    MediaOutputsDep,
    current_viewer,
    visible_camera,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["media"])

NO_CACHE = {"Cache-Control": "no-store"}


async def camera_access(camera_id: DatabaseId, request: Request, hub: MediaHubDep) -> int:
    """The camera a request may watch. Security consideration: this is the one place that
    decides who sees video. With the store running, the viewer policy of fakecloud.web.deps
    applies (trusted networks, or the camera's owner); otherwise only the hub's own check."""
    runtime = request.app.state.runtime
    store = runtime.services.store
    if store is not None:
        viewer = await current_viewer(request, runtime)
        await visible_camera(camera_id, viewer, store)
        return camera_id
    if not hub.is_known(camera_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")
    return camera_id


CameraId = Annotated[int, Depends(camera_access)]


@contextmanager
def video_errors(camera_id: int) -> Iterator[None]:
    """Output failures as clear HTTP errors (before any byte of the response was sent)."""
    try:
        yield
    except NoVideoError as error:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, str(error)) from None
    except UnsupportedCodecError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except HubFullError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    except PictureError as error:
        log.warning("camera %s: %s", camera_id, error)
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"camera {camera_id} sent video that cannot be decoded"
        ) from None


async def _stream(
    camera_id: int, body: AsyncGenerator[bytes, None], media_type: str
) -> StreamingResponse:
    """Start the body (so a camera without video gets an HTTP error, not an empty stream), then
    stream the rest; the body's subscription is released when the client goes away."""
    with video_errors(camera_id):
        try:
            first = await anext(body)
        except BaseException:
            await body.aclose()
            raise

    async def rest() -> AsyncGenerator[bytes, None]:
        try:
            yield first
            async for chunk in body:
                yield chunk
        except PictureError as error:
            log.warning("camera %s: stream ended: %s", camera_id, error)
        finally:
            await body.aclose()

    return StreamingResponse(rest(), media_type=media_type, headers=NO_CACHE)


@router.get("/api/cameras/{camera_id}/snapshot.jpg")
@router.get("/cxs/api/devices/{camera_id}/cam/recentImage.jpg")
async def snapshot(camera_id: CameraId, outputs: MediaOutputsDep) -> Response:
    with video_errors(camera_id):
        jpeg = await outputs.snapshot(camera_id)
    return Response(jpeg, media_type="image/jpeg", headers=NO_CACHE)


@router.get("/api/cameras/{camera_id}/stream.mjpeg")
async def mjpeg(camera_id: CameraId, outputs: MediaOutputsDep) -> StreamingResponse:
    return await _stream(camera_id, outputs.mjpeg(camera_id), MJPEG_TYPE)


@router.get("/cxs/api/devices/{camera_id}/cam/liveStream")
async def live_stream(
    camera_id: CameraId,
    outputs: MediaOutputsDep,
    stream_type: Annotated[str, Query(alias="type", max_length=64)] = FLV_TYPE,
    viewer_session_id: Annotated[str | None, Query(alias="viewerSessionId", max_length=256)] = None,
) -> StreamingResponse:
    """The Seedonk portal's live view. viewerSessionId is accepted and ignored: fakecloud itself
    is the viewer, so there is no per-viewer relay session to join [I]."""
    if stream_type != FLV_TYPE:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"only type={FLV_TYPE} is offered")
    return await _stream(camera_id, outputs.flv(camera_id), FLV_TYPE)


@router.get("/api/cameras/{camera_id}/hls/index.m3u8")
async def hls_playlist(camera_id: CameraId, outputs: MediaOutputsDep) -> Response:
    with video_errors(camera_id):
        playlist = await outputs.hls.playlist(camera_id)
    return Response(playlist, media_type=PLAYLIST_TYPE, headers=NO_CACHE)


@router.get("/api/cameras/{camera_id}/hls/segment_{sequence}.ts")
async def hls_segment(camera_id: CameraId, sequence: int, outputs: MediaOutputsDep) -> Response:
    data = outputs.hls.segment(camera_id, sequence)
    if data is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"segment {sequence} of camera {camera_id} is not live"
        )
    return Response(data, media_type=SEGMENT_TYPE)
