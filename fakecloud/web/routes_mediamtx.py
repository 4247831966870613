"""The authentication hook of the optional MediaMTX service (`authMethod: http` in mediamtx.yml):
MediaMTX asks, for each of its clients, whether it may read or publish a path, and fakecloud
answers with the policy its own RTSP server applies (fakecloud.media.rtsp.access), so MediaMTX's
RTSP, WebRTC and LL-HLS take the same accounts and show each account only its own cameras."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from fakecloud.media.rtsp.access import RtspAccess
from fakecloud.media.rtsp.codec import RtspError
from fakecloud.web.deps import MediaHubDep, RuntimeDep, client_address

router = APIRouter(tags=["mediamtx"])


class MediamtxQuestion(BaseModel):
    """What MediaMTX posts (it sends more fields, ignored here)."""

    model_config = ConfigDict(extra="ignore")

    user: str = Field("", max_length=256)
    password: str = Field("", max_length=1024)
    ip: str = Field("", max_length=64)
    action: str = Field(max_length=32)
    path: str = Field("", max_length=512)


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


@router.post("/api/mediamtx/auth", status_code=status.HTTP_204_NO_CONTENT)
async def mediamtx_auth(
    question: MediamtxQuestion, request: Request, runtime: RuntimeDep, hub: MediaHubDep
) -> Response:
    """204 if MediaMTX's client may do it; 401 (MediaMTX then asks its client to log in) or 403.

    Security consideration: only a MediaMTX on this host may ask. The question names the client's
    address, so a hook open to the LAN would be a password oracle that dodges the per-address
    login limits by naming made-up addresses."""
    if not is_loopback(client_address(request)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a MediaMTX on this host may ask")
    if question.action == "publish":
        # Only the runOnDemand command MediaMTX runs beside fakecloud publishes.
        if not is_loopback(question.ip):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "publishing is for this host only")
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    if question.action != "read":  # playback, api, metrics, pprof: not offered through fakecloud
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{question.action!r} is not allowed")
    access = RtspAccess(runtime.settings, runtime.services.store, hub)
    credentials = (question.user, question.password) if question.user else None
    try:
        viewer = await access.viewer_with(credentials, question.ip or None)
        await access.camera_id(question.path, viewer)
    except RtspError as error:
        code = status.HTTP_401_UNAUTHORIZED if error.status == 401 else status.HTTP_403_FORBIDDEN
        raise HTTPException(code, str(error)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
