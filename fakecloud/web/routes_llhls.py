"""Low-latency HLS for players that support it (fMP4 parts, blocking reload); the MPEG-TS
playlist (`hls/index.m3u8`, routes_media.py) stays for the others."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from fakecloud.media.outputs.hls import PLAYLIST_TYPE
from fakecloud.media.outputs.llhls import PART_TYPE, ReloadTimeoutError
from fakecloud.media.outputs.llhls_playlist import ReloadQueryError, parse_reload_query
from fakecloud.web.deps import MediaOutputsDep
from fakecloud.web.routes_media import NO_CACHE, CameraId, video_errors

router = APIRouter(tags=["media"])

BASE = "/api/cameras/{camera_id}/hls"


def _found(data: bytes | None, what: str, camera_id: int) -> Response:
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} of camera {camera_id} is not live")
    return Response(data, media_type=PART_TYPE)


@router.get(f"{BASE}/ll.m3u8")
async def llhls_playlist(
    camera_id: CameraId, request: Request, outputs: MediaOutputsDep
) -> Response:
    try:
        reload = parse_reload_query(request.query_params.multi_items())
        with video_errors(camera_id):
            playlist = await outputs.llhls.playlist(camera_id, reload)
    except ReloadQueryError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    except ReloadTimeoutError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    return Response(playlist, media_type=PLAYLIST_TYPE, headers=NO_CACHE)


@router.get(f"{BASE}/ll_init.mp4")
async def llhls_init(camera_id: CameraId, outputs: MediaOutputsDep) -> Response:
    return _found(outputs.llhls.init_segment(camera_id), "the init segment", camera_id)


@router.get(f"{BASE}/ll_segment_{{sequence}}.m4s")
async def llhls_segment(camera_id: CameraId, sequence: int, outputs: MediaOutputsDep) -> Response:
    return _found(outputs.llhls.segment(camera_id, sequence), f"segment {sequence}", camera_id)


@router.get(f"{BASE}/ll_part_{{sequence}}_{{index}}.m4s")
async def llhls_part(
    camera_id: CameraId, sequence: int, index: int, outputs: MediaOutputsDep
) -> Response:
    try:
        with video_errors(camera_id):
            data = await outputs.llhls.part(camera_id, sequence, index)
    except ReloadTimeoutError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    return _found(data, f"part {sequence}.{index}", camera_id)
