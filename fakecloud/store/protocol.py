"""What the running server needs from a store, as a Protocol. The SQLite store implements it
(`AsyncStore` over `Store`); another database (PostgreSQL) would implement the same methods,
and nothing outside `store/` would change: SQL stays in `store/`."""

from __future__ import annotations

from typing import Any, Protocol

from fakecloud.core.login_guard import StillWaiting
from fakecloud.store.models import Account, Camera, Event


class CameraStore(Protocol):
    """What the broker, the web app, the viewer and the demo use while the server runs."""

    async def add_account(self, login: str, password: str) -> Account: ...
    async def get_account(self, login: str) -> Account | None: ...
    async def set_password(self, login: str, password: str) -> None: ...
    async def verify_password(
        self,
        login: str,
        password: str,
        *,
        client: str | None = None,
        still_waiting: StillWaiting | None = None,
    ) -> Account | None: ...
    async def verify_token(self, login: str, token: str) -> Account | None: ...
    async def account_for_token(self, token: str) -> Account | None: ...
    async def cached_camera_login(
        self, login: str, password: str, *, mac: str | None, alias: str | None
    ) -> tuple[Account, Camera | None] | None: ...

    async def get_camera(self, camera_id: int) -> Camera | None: ...
    async def find_camera(
        self, mac: str | None = None, alias: str | None = None, ip: str | None = None
    ) -> Camera | None: ...
    async def list_cameras(self, owner: str | None = None) -> list[Camera]: ...
    async def upsert_camera(
        self,
        *,
        mac: str,
        reported_alias: str | None = None,
        owner: str | None = None,
        name: str | None = None,
    ) -> Camera: ...
    async def add_pending_camera(
        self, *, mac: str, reported_alias: str | None = None, identity_secret: str | None = None
    ) -> Camera: ...
    async def approve_camera(
        self, camera_id: int, owner: str, identity_secret: str | None = None
    ) -> Camera: ...
    async def pairing_account(self) -> str | None: ...

    # Presence: written behind and grouped (docs/store.md, Grouped writes).
    def camera_online(
        self,
        camera: Camera,
        *,
        ip: str | None = None,
        firmware: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> Camera: ...
    def camera_seen(self, camera_id: int) -> bool: ...
    async def set_camera_presence(
        self,
        camera_id: int,
        online: bool,
        ip: str | None = None,
        firmware: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None: ...
    async def mark_all_offline(self) -> int: ...
    async def log_session(
        self, camera_id: int | None, login: str | None, role: str, peer: str, event: str
    ) -> None: ...

    write_counters: dict[str, float]

    async def add_event(self, camera_id: int | None, kind: str, data: dict[str, Any]) -> Event: ...
    async def list_events(self, camera_id: int | None = None, limit: int = 100) -> list[Event]: ...

    async def close(self) -> None: ...
