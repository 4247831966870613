"""`fakecloud setup-camera` from the web app: `POST /api/setup-camera` drives a camera in setup
mode (fakecloud.onboard.flow, the same steps as the command) for the signed-in account, and
streams each step as a JSON line, so the setup page shows progress as it happens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, IPvAnyAddress, WithJsonSchema

from fakecloud.onboard.camera_api import CameraApi, CameraUnreachable
from fakecloud.onboard.flow import PAIRING_MINUTES, STEPS, SetupFailed, SetupPlan, set_up_camera
from fakecloud.runtime import Runtime
from fakecloud.sim.setup_mode import SETUP_ADDRESS
from fakecloud.store.models import MAX_PASSWORD_LENGTH
from fakecloud.web.csrf import require_csrf
from fakecloud.web.deps import AccountDep, RuntimeDep, StoreDep, error_responses, password_sign_in

router = APIRouter(prefix="/api", tags=["camera setup"])
Short = Annotated[str, Field(max_length=64)]
# An IPv4 or IPv6 address, said so in the schema in formats generic clients know.
CameraAddress = Annotated[
    IPvAnyAddress,
    WithJsonSchema({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
]


class CameraSetup(BaseModel):
    camera_ip: CameraAddress = IPv4Address(SETUP_ADDRESS)
    camera_port: int = Field(80, ge=1, le=65535)
    camera_user: Short = "admin"
    camera_password: Short = "admin"
    ssid: Annotated[str, Field(min_length=1, max_length=32)]  # 802.11: at most 32 bytes
    wifi_password: Short = ""
    password: Annotated[str, Field(max_length=MAX_PASSWORD_LENGTH)]  # the signed-in account's
    name: Annotated[str, Field(min_length=1, max_length=64)] = "NetCam"
    email: Annotated[str, Field(max_length=254)] = ""
    server_host: Annotated[str, Field(max_length=253)] = ""  # empty: the announce address
    time_zone: Short = "UTC"


def _camera_address(address: IPv4Address | IPv6Address) -> str:
    """Security consideration: the server sends the request, so only a camera on a private
    network (setup mode's 10.68.68.22, the LAN, this machine) may be named: the route is no
    way to reach arbitrary hosts from the server (403 otherwise)."""
    if not address.is_private or address.is_multicast or address.is_unspecified:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{address} is not a camera's address on your network"
        )
    return f"[{address}]" if address.version == 6 else str(address)


def _line(**fields: Any) -> bytes:
    return json.dumps(fields).encode() + b"\n"


async def _steps(
    api_url: str, setup: CameraSetup, plan: SetupPlan, runtime: Runtime
) -> AsyncIterator[bytes]:
    """Runs the setup while its progress is streamed; a browser that leaves cancels it."""
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()

    def progress(step: str, message: str) -> None:
        lines.put_nowait(_line(step=step, number=STEPS.index(step) + 1, message=message))

    async def run() -> None:
        try:
            async with CameraApi(
                api_url, setup.camera_user, setup.camera_password, runtime.services.capture
            ) as api:
                await set_up_camera(api, plan, progress)
            what = "the camera restarts on your Wi-Fi and should be online within a minute"
            lines.put_nowait(_line(result="done", what=what))
        except SetupFailed as failure:
            lines.put_nowait(
                _line(result="failed", step=failure.step, what=failure.what, fix=failure.fix)
            )
        except CameraUnreachable as error:
            lines.put_nowait(_line(result="failed", step=None, what=str(error), fix=error.fix))
        finally:
            lines.put_nowait(None)

    task = asyncio.create_task(run())
    try:
        while (line := await lines.get()) is not None:
            yield line
    finally:
        task.cancel()


@router.post(
    "/setup-camera",
    dependencies=[Depends(require_csrf)],
    response_class=StreamingResponse,
    responses=error_responses(400, 401, 403, 409)
    | {200: {"content": {"application/x-ndjson": {}}, "description": "one JSON object a line"}},
)
async def setup_camera(
    setup: CameraSetup,
    request: Request,
    login: AccountDep,
    store: StoreDep,
    runtime: RuntimeDep,
) -> StreamingResponse:
    """Joins a camera in setup mode to a Wi-Fi network and to the signed-in account, like
    `fakecloud setup-camera`: one JSON line a step (`step`, `number`, `message`), then the
    outcome (`result` "done" or "failed", `what`, and for a failure `step` and `fix`). Needs the
    account's password (checked under the login guard): the camera signs in with it. Opens a
    pairing window for the account first, so the camera's first login makes it the account's.
    Every camera answer goes to the capture log. One setup at a time (409 while one runs)."""
    camera = _camera_address(setup.camera_ip)
    if await password_sign_in(request, store, runtime, login, setup.password) is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "that is not this account's password")
    busy: asyncio.Lock = request.app.state.camera_setup
    if busy.locked():
        raise HTTPException(status.HTTP_409_CONFLICT, "a camera setup is running already")
    await store.open_pairing_window(login, PAIRING_MINUTES)
    plan = SetupPlan(
        ssid=setup.ssid,
        wifi_password=setup.wifi_password,
        login=login,
        password=setup.password,
        email=setup.email or (login if "@" in login else ""),
        name=setup.name,
        server_host=setup.server_host or runtime.settings.effective_announce_address,
        time_zone=setup.time_zone,
    )
    opened = _line(
        step="fakecloud",
        number=0,
        message=f"cameras logging in within {PAIRING_MINUTES:g} minutes join {login}",
    )

    async def stream() -> AsyncIterator[bytes]:
        async with busy:
            yield opened
            async for line in _steps(f"http://{camera}:{setup.camera_port}", setup, plan, runtime):
                yield line

    return StreamingResponse(stream(), media_type="application/x-ndjson")
