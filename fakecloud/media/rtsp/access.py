"""Who may watch which camera over RTSP: the policy of fakecloud.web.deps, applied to RTSP.

Trusted networks watch without an account; anyone else sends RTSP Basic credentials (an account's
login with its password, one of its access tokens or its ONVIF password), checked by the same code
and login limits as HTTP Basic, or, with FAKECLOUD_RTSP_DIGEST, Digest with the ONVIF password
(fakecloud/media/rtsp/digest.py), and sees only the cameras the account owns. A camera is named by
id or by name.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from fakecloud.core.config import Settings
from fakecloud.media.hub import MediaHub
from fakecloud.media.rtsp.codec import RtspError
from fakecloud.media.rtsp.digest import DigestAnswer, DigestNonces, StaleNonce
from fakecloud.onvif.auth import existing_key, onvif_password
from fakecloud.store.protocol import CameraStore
from fakecloud.web.deps import Viewer, basic_credentials, is_trusted, login_for_credentials

REALM = "fakecloud"
CHALLENGE = f'Basic realm="{REALM}"'
MAX_NAME_LENGTH = 256


def camera_name(uri: str) -> str:
    """The camera part of `rtsp://host:port/<camera>[/trackID=0]` (or of a bare path)."""
    path = urlsplit(uri).path if "://" in uri else uri.partition("?")[0]
    name = unquote(path.strip("/").partition("/")[0])
    if not name or len(name) > MAX_NAME_LENGTH:
        raise RtspError(404, "name a camera: rtsp://host:port/<camera id or name>")
    return name


class RtspAccess:
    def __init__(self, settings: Settings, store: CameraStore | None, hub: MediaHub):
        self.settings = settings
        self.store = store
        self.hub = hub
        self.nonces = DigestNonces() if settings.rtsp_digest else None

    def challenge(self, refusal: RtspError) -> str:
        """The WWW-Authenticate of a 401: Digest when offered (clients that can send Basic can
        send Digest, and Basic is still accepted unasked), else Basic."""
        if self.nonces is None:
            return CHALLENGE
        return self.nonces.challenge(REALM, stale=isinstance(refusal, StaleNonce))

    async def viewer(
        self, authorization: str | None, client: str | None, method: str = "DESCRIBE"
    ) -> Viewer:
        """RtspError 401 (the server adds the challenge) unless the client may watch."""
        digest = DigestAnswer.parse(authorization) if self.nonces is not None else None
        if digest is None or is_trusted(self.settings, client):
            return await self.viewer_with(basic_credentials(authorization), client)
        login = await self._digest_login(digest, method)
        if login is None:
            raise RtspError(401, "wrong login or ONVIF password")
        return Viewer(login)

    async def _digest_login(self, digest: DigestAnswer, method: str) -> str | None:
        assert self.nonces is not None
        self.nonces.check(digest.nonce)
        key = existing_key(self.settings.data_dir)
        if self.store is None or key is None or digest.realm != REALM:
            return None
        account = await self.store.get_account(digest.username)
        # The ONVIF password is 144 random bits: guessing it online is hopeless, so no scrypt
        # and no login limits are needed here (there is no password to protect).
        if account is None or not digest.proves(onvif_password(key, account), method):
            return None
        return account.login

    async def viewer_with(self, credentials: tuple[str, str] | None, client: str | None) -> Viewer:
        """The same for credentials given apart (MediaMTX's authentication hook)."""
        if is_trusted(self.settings, client):
            return Viewer(None)
        if credentials and self.store is not None:
            login = await login_for_credentials(
                self.store, *credentials, client, self.settings.data_dir
            )
            if login is not None:
                return Viewer(login)
        raise RtspError(401, "log in with your fakecloud account or an access token")

    async def camera_id(self, uri: str, viewer: Viewer) -> int:
        """The id of the camera the URI names, if this viewer may see it; RtspError 404 if not
        (a camera the viewer may not see does not exist for them)."""
        name = camera_name(uri)
        if self.store is None:  # a server without a store (tests): the hub's own knowledge
            if name.isdigit() and self.hub.is_known(int(name)):
                return int(name)
            raise RtspError(404, f"no camera {name!r}")
        if name.isascii() and name.isdigit() and len(name) < 19:
            camera = await self.store.get_camera(int(name))
            if camera is not None and viewer.may_see(camera):
                return camera.id
        wanted = name.casefold()
        for camera in await self.store.list_cameras(viewer.login):
            if camera.name is not None and camera.name.casefold() == wanted:
                return camera.id
        raise RtspError(404, f"no camera {name!r}")
