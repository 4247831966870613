"""The callback WeMo sensors send their UPnP event notifications to (fakecloud/wemo/part.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from fakecloud.web.deps import RuntimeDep
from fakecloud.wemo.gena import MAX_NOTIFY_BYTES
from fakecloud.wemo.part import WemoPart

router = APIRouter(tags=["wemo"], include_in_schema=False)


@router.api_route("/wemo/notify/{token}", methods=["NOTIFY"])
async def wemo_notify(
    token: Annotated[str, Path(max_length=64)], request: Request, runtime: RuntimeDep
) -> Response:
    """200 for a notification of one of our subscriptions, 412 (GENA's answer to an unknown
    SID) otherwise. Security consideration: the body is read only up to MAX_NOTIFY_BYTES."""
    part = runtime.part("wemo")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_NOTIFY_BYTES:
            return Response(status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    known = isinstance(part, WemoPart) and part.notify(token, request.headers.get("sid"), body)
    return Response(status_code=status.HTTP_200_OK if known else 412)
