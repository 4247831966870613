"""Request dependencies: the runtime, its services, and who is asking (policy lives here)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import pathlib
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Path, Request, status

from fakecloud.core.config import Settings, address_in
from fakecloud.core.login_guard import LoginRefused
from fakecloud.media.hub import MediaHub
from fakecloud.media.outputs import MediaOutputs
from fakecloud.onvif.auth import existing_key, is_onvif_password
from fakecloud.runtime import Runtime
from fakecloud.store.models import Account, Camera
from fakecloud.store.protocol import CameraStore
from fakecloud.web.sessions import session_login

ServiceT = TypeVar("ServiceT")

_ERROR_MEANINGS = {
    400: "the body is not valid JSON, or the store refused the value",
    401: "sign in, or send Basic or Bearer credentials",
    403: "refused: wrong current password, a missing CSRF token, or another site's request",
    404: "no such camera or token, or not yours",
    409: "the state does not allow it (the camera is offline, an account exists already)",
    503: "that part of fakecloud is not running, or too many at once",
    504: "the camera did not answer in time",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route answers (besides FastAPI's 422)."""
    return {code: {"description": _ERROR_MEANINGS[code]} for code in codes}


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _running(found: ServiceT | None, name: str) -> ServiceT:
    """The service, or 503 when that part is not running (a web app built without it)."""
    if found is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{name} is not running")
    return found


def running_store(runtime: RuntimeDep) -> CameraStore:
    return _running(runtime.services.store, "store")


def running_media_hub(runtime: RuntimeDep) -> MediaHub:
    return _running(runtime.services.media_hub, "media_hub")


def running_media_outputs(runtime: RuntimeDep) -> MediaOutputs:
    return _running(runtime.services.media_outputs, "media_outputs")


StoreDep = Annotated[CameraStore, Depends(running_store)]
MediaHubDep = Annotated[MediaHub, Depends(running_media_hub)]
MediaOutputsDep = Annotated[MediaOutputs, Depends(running_media_outputs)]


@dataclass(frozen=True)
class Viewer:
    """Who is asking: an account, or a client on a trusted network (login None)."""

    login: str | None

    @property
    def sees_everything(self) -> bool:
        return self.login is None

    def may_see(self, camera: Camera) -> bool:
        return self.sees_everything or camera.owner == self.login

    def may_list(self, camera: Camera) -> bool:
        """Its own cameras and the pending ones, which any account may approve for itself
        (routes_api.approve_camera). Their video stays private: that is `may_see`."""
        return self.may_see(camera) or camera.owner is None


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, separator, password = decoded.partition(":")
    return (login, password) if separator else None


def bearer_token(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>` (Tend's apps), bare or in its
    `<partner>.accessToken:<token>` form; the store reads both."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authenticate(request: Request, store: CameraStore) -> str | None:
    """The account a request speaks for (session cookie, Bearer token or HTTP Basic), or None."""
    if login := await session_login(request, store):
        return login
    header = request.headers.get("authorization")
    # Security consideration: a token is found by its hash alone (256 random bits, nothing to
    # guess); a header cannot be set by a cross-site form, so no AntiCSRF check is needed here.
    if (token := bearer_token(header)) and (account := await store.account_for_token(token)):
        return account.login
    credentials = basic_credentials(header)
    if credentials:
        data_dir = get_runtime(request).settings.data_dir
        return await login_for_credentials(store, *credentials, client_address(request), data_dir)
    return None


async def login_for_credentials(
    store: CameraStore, login: str, secret: str, client: str | None, data_dir: pathlib.Path
) -> str | None:
    """The account whose token, ONVIF password or password `secret` is (HTTP and RTSP Basic
    alike), or None. NVRs that add a camera by ONVIF reuse its credentials for the RTSP stream
    and the snapshot URL, so the ONVIF password counts wherever the data folder has an ONVIF key
    (made when ONVIF is enabled or `fakecloud onvif password` is run; deleting it revokes all)."""
    # The token and the ONVIF password first: a hash lookup and an HMAC, where a password costs
    # scrypt under the login limits.
    account = await store.verify_token(login, secret)
    if account is None and (key := existing_key(data_dir)) is not None:
        found = await store.get_account(login)
        account = found if found is not None and is_onvif_password(key, found, secret) else None
    if account is None:
        with contextlib.suppress(LoginRefused):  # answered like a wrong password: 401
            account = await store.verify_password(login, secret, client=client)
    return account.login if account else None


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def password_sign_in(
    request: Request, store: CameraStore, runtime: Runtime, login: str, password: str
) -> Account | None:
    """A browser's or the portal's sign-in: the account when the password is right. Security
    consideration: checked under the login guard (per client and account limits, scrypt in a
    bounded pool); a refusal by the limits reads exactly like a wrong password. Each result is
    counted for fakecloud_logins_total."""

    async def still_connected() -> bool:
        # The body is read already, so asking about the connection consumes nothing.
        return not await request.is_disconnected()

    try:
        account = await store.verify_password(
            login, password, client=client_address(request), still_waiting=still_connected
        )
    except LoginRefused:
        account = None
    runtime.services.web_logins["refused" if account is None else "ok"] += 1
    return account


def is_trusted(settings: Settings, client: str | None) -> bool:
    """A client on the trusted networks, who may watch without an account."""
    return address_in(client or "", settings.trusted_http_networks())


async def current_viewer(request: Request, runtime: RuntimeDep) -> Viewer:
    """Security consideration: camera video is private. Only clients on the trusted networks
    (default: this machine) may watch without an account; everyone else logs in."""
    if is_trusted(runtime.settings, client_address(request)):
        return Viewer(None)
    store = runtime.services.store
    login = await authenticate(request, store) if store is not None else None
    if login is None:
        raise unauthorized(request)
    return Viewer(login)


def unauthorized(request: Request) -> HTTPException:
    """401. Programs (ffmpeg, VLC, curl --anyauth) are told to use HTTP Basic; browsers are
    not, so people never see the browser's own password prompt: the web app's pages send them
    to /login instead. Browsers mark every request with Sec-Fetch-Mode; programs do not."""
    challenge = {} if "sec-fetch-mode" in request.headers else {"WWW-Authenticate": _CHALLENGE}
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, "log in with your fakecloud account", headers=challenge
    )


_CHALLENGE = 'Basic realm="fakecloud"'


async def signed_in(request: Request, store: StoreDep) -> str:
    """The account a request speaks for, whatever network it comes from: what account pages
    need (a trusted network sees cameras, but it is nobody in particular)."""
    login = await authenticate(request, store)
    if login is None:
        raise unauthorized(request)
    return login


AccountDep = Annotated[str, Depends(signed_in)]


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


# Ids are SQLite integers: a larger number in a path is a client's mistake (422), not a 500.
MAX_DATABASE_ID = (1 << 63) - 1
DatabaseId = Annotated[int, Path(ge=0, le=MAX_DATABASE_ID)]


async def visible_camera(camera_id: DatabaseId, viewer: ViewerDep, store: StoreDep) -> Camera:
    """The camera, if it exists and the viewer may see it; 404 otherwise (no existence leak)."""
    camera = await store.get_camera(camera_id)
    if camera is None or not viewer.may_see(camera):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")
    return camera


async def listed_camera(camera_id: DatabaseId, viewer: ViewerDep, store: StoreDep) -> Camera:
    """The camera's record, if the viewer may see it or it is pending (`Viewer.may_list`)."""
    camera = await store.get_camera(camera_id)
    if camera is None or not viewer.may_list(camera):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")
    return camera


CameraDep = Annotated[Camera, Depends(visible_camera)]
ListedCameraDep = Annotated[Camera, Depends(listed_camera)]
