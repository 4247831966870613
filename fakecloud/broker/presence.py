"""The session table: who is logged in, which cameras are online, and by which aliases."""

from __future__ import annotations

import logging
import os

from fakecloud.broker.login import LoginRequest
from fakecloud.broker.session import Session
from fakecloud.net.cxnet import SESSION_SIZE
from fakecloud.store.models import Account, Camera
from fakecloud.store.protocol import CameraStore

log = logging.getLogger(__name__)


async def account_alias(
    store: CameraStore, account: Account | None, camera: Camera | None
) -> str | None:
    """The alias of a session's account: the one logged in, else the camera's owner."""
    if account is not None:
        return str(account.alias)
    if camera is not None and camera.owner:
        owner = await store.get_account(camera.owner)
        return str(owner.alias) if owner is not None else None
    return None


class Presence:
    """Logged-in sessions by session block, online cameras by id and by alias."""

    def __init__(self, store: CameraStore) -> None:
        self.store = store
        self.sessions: dict[bytes, Session] = {}
        self.camera_sessions: dict[int, Session] = {}
        # Online cameras by alias (the cloud's and the one they reported), for CX_DSTID.
        self._aliases: dict[str, set[int]] = {}

    def new_block(self) -> bytes:
        while True:
            block = os.urandom(SESSION_SIZE)
            # All-zero is what clients send before login; never hand it out.
            if any(block) and block not in self.sessions:
                return block

    def add(self, session: Session) -> None:
        self.sessions[session.block] = session

    def is_online(self, camera_id: int) -> bool:
        return camera_id in self.camera_sessions

    def cameras_named(self, alias: str) -> list[int]:
        """The online cameras known by this alias, lowest id first."""
        return sorted(self._aliases.get(alias, ()))

    async def camera_online(self, session: Session, camera: Camera, request: LoginRequest) -> None:
        previous = self.camera_sessions.get(camera.id)
        self.camera_sessions[camera.id] = session
        if previous is not None:
            log.info("camera %s reconnected; closing its older connection", camera.mac)
            previous.writer.close()
        # Written behind (grouped with other logins' writes); the record comes back without
        # waiting for the commit.
        session.camera = self.store.camera_online(
            camera, ip=session.peer_host, firmware=request.firmware, properties=request.reported
        )
        if previous is not None and previous.camera is not None:
            self._index_aliases(previous.camera, add=False)
        self._index_aliases(session.camera, add=True)
        log.info("camera %s logged in from %s", camera.mac, session.peer_host)

    async def camera_changed(self, camera_id: int) -> None:
        """Re-read a camera whose owner changed (an approval): its live session, if any, now
        speaks for the new owner without logging in again."""
        session = self.camera_sessions.get(camera_id)
        camera = await self.store.get_camera(camera_id)
        if session is None or session.camera is None or camera is None:
            return
        self._index_aliases(session.camera, add=False)
        session.camera = camera
        session.account_alias = await account_alias(self.store, None, camera)
        self._index_aliases(camera, add=True)

    def remove(self, session: Session) -> Camera | None:
        """Forget a session that ended; its camera when that goes offline with it (a camera
        that reconnected meanwhile stays online under its newer session)."""
        self.sessions.pop(session.block, None)
        camera = session.camera
        if camera is None or self.camera_sessions.get(camera.id) is not session:
            return None
        del self.camera_sessions[camera.id]
        self._index_aliases(camera, add=False)
        return camera

    def _index_aliases(self, camera: Camera, *, add: bool) -> None:
        for alias in {alias for alias in (camera.alias, camera.reported_alias) if alias}:
            ids = self._aliases.setdefault(alias, set())
            if add:
                ids.add(camera.id)
            else:
                ids.discard(camera.id)
            if not ids:
                del self._aliases[alias]
