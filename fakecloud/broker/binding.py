"""Which camera record a login speaks for: known, pending, paired, or refused."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from fakecloud.broker.context import BrokerContext
from fakecloud.broker.login import LoginRequest
from fakecloud.broker.session import ConnectionInfoLike
from fakecloud.core.events import CameraPending
from fakecloud.core.netinfo import client_key
from fakecloud.core.rates import KeyedTokenBuckets
from fakecloud.store.cameras import identity_proves, unchanged_by_upsert
from fakecloud.store.models import Account, Camera

log = logging.getLogger(__name__)

# A refused claim on a camera becomes one of its events at most this often (seconds).
CLAIM_EVENT_INTERVAL = 10.0
# New (pending) cameras one client address may introduce: a burst as big as a household's
# cameras after a power cut behind one NAT, then one a minute.
NEW_CAMERAS_BURST = 16
NEW_CAMERAS_PER_SECOND = 1 / 60
MAX_CLAIMS_NOTED = 4096
CLAIM_EVENT = "claim-refused"


class TooManyNewCameras(Exception):
    """This address made more new (pending) cameras than any household would."""


class ForeignCamera(Exception):
    """A login names a camera it may not speak for (`reason` is for the owner)."""

    def __init__(self, camera: Camera, reason: str) -> None:
        super().__init__(reason)
        self.camera = camera
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Found:
    """A camera record a login already read (`camera` None: it names no known camera)."""

    camera: Camera | None


def proves(camera: Camera, request: LoginRequest) -> bool:
    """Whether a login without account credentials may speak for this known camera."""
    if camera.identity_hash:
        return identity_proves(camera, request.identity_secret)
    # Nothing of an owner's is at stake in a pending camera; an owned one without a secret
    # speaks only with its owner's credentials, unless the owner paired it knowing that.
    return bool(camera.pending or camera.accepts_unproven)


class CameraBinder:
    """Binds logins to camera records (docs/broker.md, Pairing)."""

    def __init__(self, context: BrokerContext) -> None:
        self.context = context
        self._claims_noted: dict[int, float] = {}
        self._new_cameras = KeyedTokenBuckets(NEW_CAMERAS_PER_SECOND, NEW_CAMERAS_BURST)

    async def bind(
        self,
        request: LoginRequest,
        account: Account | None,
        info: ConnectionInfoLike,
        found: Found | None = None,
    ) -> Camera | None:
        """The camera record a login speaks for (None when it names none we can find);
        `found`: the record the login's own lookup already read (LoginFlow.authenticate).

        Security consideration: a login speaks for a camera only with its proof (the owner's
        credentials, or the identity secret it was bound with); one fakecloud cannot verify
        makes a *pending* camera that an owner must approve (docs/broker.md, Pairing)."""
        if request.role == "app" and request.known_form:
            return None
        store = self.context.store
        existing = None
        if found is not None:
            existing = found.camera
        elif request.mac or request.alias:
            existing = await store.find_camera(mac=request.mac, alias=request.alias)
        elif not request.known_form:
            existing = await store.find_camera(ip=info.peer[0])
        if account is not None:
            if existing is not None and existing.owner:
                # The owner must `fakecloud camera forget` it before another account has it.
                if existing.owner.casefold() != account.login.casefold():
                    raise ForeignCamera(existing, "camera belongs to another account")
            if request.mac and not (
                existing is not None
                and unchanged_by_upsert(existing, reported_alias=request.alias, owner=account.login)
            ):
                # A camera logging in again as it was needs no upsert: the read answers it.
                return await store.upsert_camera(
                    mac=request.mac, reported_alias=request.alias, owner=account.login
                )
            return existing
        if existing is not None and not proves(existing, request):
            raise ForeignCamera(existing, "the login does not prove this camera's identity")
        if existing is None and request.mac:
            # Security consideration: each unknown MAC costs a row and a write; a flood of
            # random MACs from one address is refused before the store, cheaply.
            if not self._new_cameras.take(client_key(info.peer[0])):
                raise TooManyNewCameras
            existing = await store.add_pending_camera(
                mac=request.mac,
                reported_alias=request.alias,
                identity_secret=request.identity_secret,
            )
            self.context.bus.publish(CameraPending(existing.id, existing.mac, info.peer[0]))
        if existing is not None and existing.pending:
            # A pairing window (`fakecloud pair`) is the owner saying "the next one is mine".
            owner = await store.pairing_account()
            if owner is not None:
                existing = await store.approve_camera(existing.id, owner, request.identity_secret)
                log.info("camera %s paired with %s (pairing window)", existing.mac, owner)
        return existing

    async def note_claim(self, refusal: ForeignCamera, info: ConnectionInfoLike) -> None:
        """Show the owner a refused claim on their camera, at most one per camera per
        interval (a flood of claims must not flood the camera's events)."""
        camera = refusal.camera
        now = asyncio.get_running_loop().time()
        if now - self._claims_noted.get(camera.id, float("-inf")) < CLAIM_EVENT_INTERVAL:
            return
        if len(self._claims_noted) >= MAX_CLAIMS_NOTED:
            self._claims_noted.clear()
        self._claims_noted[camera.id] = now
        host = info.peer[0]
        message = f"a device claimed to be {camera.name or camera.alias} from {host}"
        log.warning("%s (camera %s): %s", message, camera.id, refusal.reason)
        with contextlib.suppress(Exception):  # the camera may be forgotten meanwhile
            await self.context.store.add_event(
                camera.id, CLAIM_EVENT, {"message": message, "peer": host, "reason": refusal.reason}
            )
