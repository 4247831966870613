"""WebRTC for browsers, the WHEP way (RFC 9725): POST an SDP offer, get the answer (201) and a
session resource (Location) that DELETE ends. No trickle ICE: the answer has every candidate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse, Response

from fakecloud.media.outputs.webrtc import NoCandidateError, PeerLimitError
from fakecloud.media.outputs.webrtc_offer import (
    MAX_OFFER_BYTES,
    SDP_TYPE,
    OfferError,
    OfferTypeError,
    read_offer,
)
from fakecloud.web.deps import MediaOutputsDep
from fakecloud.web.ingress import ExternalPrefix
from fakecloud.web.routes_media import NO_CACHE, CameraId, video_errors

router = APIRouter(tags=["media"])

SessionId = Annotated[str, Path(max_length=64)]


@router.post("/api/cameras/{camera_id}/webrtc")
async def webrtc_offer(
    camera_id: CameraId, request: Request, outputs: MediaOutputsDep, prefix: ExternalPrefix
) -> Response:
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_OFFER_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"offers are limited to {MAX_OFFER_BYTES} bytes"
        )
    try:
        offer = read_offer(await request.body(), request.headers.get("content-type", ""))
    except OfferTypeError as error:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(error)) from None
    except OfferError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    with video_errors(camera_id):
        try:
            session = await outputs.webrtc.answer(camera_id, offer.sdp)
        except (PeerLimitError, NoCandidateError) as error:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
        except OfferError as error:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    # The session's path as the browser sees it: under Home Assistant's ingress prefix too.
    location = f"{prefix}/api/cameras/{camera_id}/webrtc/{session.id}"
    headers = {**NO_CACHE, "Location": location}
    if offer.as_json:
        answer = {"type": "answer", "sdp": session.answer}
        return JSONResponse(answer, status.HTTP_201_CREATED, headers=headers)
    return Response(session.answer, status.HTTP_201_CREATED, headers=headers, media_type=SDP_TYPE)


@router.delete("/api/cameras/{camera_id}/webrtc/{session_id}")
async def webrtc_end(
    camera_id: CameraId, session_id: SessionId, outputs: MediaOutputsDep
) -> Response:
    if not await outputs.webrtc.end(camera_id, session_id):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no WebRTC session {session_id} of camera {camera_id}"
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
