"""Helpers the camera itself calls on www.seedonk.com during and after setup."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query, Request, Response, status

from fakecloud.net.camsetup import camera_name_reply, key_is_valid
from fakecloud.web.deps import RuntimeDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["camera setup"])


@router.get("/camsetup/retrievecamera.php")
async def retrieve_camera(
    request: Request,
    runtime: RuntimeDep,
    login: str = Query(max_length=256),
    mac: str = Query(max_length=64),
    key: str = Query(max_length=64),
) -> Response:
    """The camera asks for its name; the reply shape is the only one its parser reads."""
    peer = request.client.host if request.client else ""
    recorder = runtime.services.capture
    if recorder:
        recorder.record("http", peer=peer, decoded={"path": "retrievecamera", "mac": mac})
    if not key.isascii():  # the firmware's key is hex; anything else is not a camera asking
        return Response(b"key must be ASCII hex\n", status.HTTP_400_BAD_REQUEST)
    if not key_is_valid(login, mac, key):
        log.warning("%s asked for a camera name with a wrong key (MAC %s)", peer, mac)
        return Response(status_code=status.HTTP_403_FORBIDDEN)
    store = runtime.services.store
    camera = await store.find_camera(mac=mac) if store else None
    if camera is None or (camera.owner or "").lower() != login.lower():
        log.info("camera %s (%s) asked for its name; it is not known for %s", mac, peer, login)
        return Response(b"", media_type="text/html")
    log.info("camera %s asked for its name: %s", mac, camera.name)
    return Response(camera_name_reply(camera.name or ""), media_type="text/html")
