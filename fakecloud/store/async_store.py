"""The store for asyncio code: the same methods, awaited, run on one dedicated worker thread.

One thread means the event loop never waits on the disk and SQLite only ever sees one writer
from this process, so no call waits on a database lock held by another of our own calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from fakecloud.store.models import Account, Camera, Event, SessionEntry, TokenInfo
from fakecloud.store.store import Store

T = TypeVar("T")


class AsyncStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fakecloud-store")

    async def _run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, partial(call, *args, **kwargs))

    async def close(self) -> None:
        """Finish queued calls, then close the database."""
        await self._run(self.store.close)
        self._worker.shutdown(wait=True)

    async def integrity_check(self) -> str:
        return await self._run(self.store.integrity_check)

    async def add_account(self, login: str, password: str) -> Account:
        return await self._run(self.store.add_account, login, password)

    async def get_account(self, login: str) -> Account | None:
        return await self._run(self.store.get_account, login)

    async def list_accounts(self) -> list[Account]:
        return await self._run(self.store.list_accounts)

    async def verify_password(self, login: str, password: str) -> Account | None:
        return await self._run(self.store.verify_password, login, password)

    async def set_password(self, login: str, password: str) -> None:
        await self._run(self.store.set_password, login, password)

    async def remove_account(self, login: str) -> None:
        await self._run(self.store.remove_account, login)

    async def issue_token(self, login: str, partner: str = "myQ") -> str:
        return await self._run(self.store.issue_token, login, partner)

    async def account_for_token(self, token: str) -> Account | None:
        return await self._run(self.store.account_for_token, token)

    async def verify_token(self, login: str, token: str) -> Account | None:
        return await self._run(self.store.verify_token, login, token)

    async def list_tokens(self, login: str) -> list[TokenInfo]:
        return await self._run(self.store.list_tokens, login)

    async def revoke_tokens(self, login: str) -> int:
        return await self._run(self.store.revoke_tokens, login)

    async def upsert_camera(
        self,
        *,
        mac: str,
        reported_alias: str | None = None,
        owner: str | None = None,
        name: str | None = None,
    ) -> Camera:
        return await self._run(
            self.store.upsert_camera,
            mac=mac,
            reported_alias=reported_alias,
            owner=owner,
            name=name,
        )

    async def get_camera(self, camera_id: int) -> Camera | None:
        return await self._run(self.store.get_camera, camera_id)

    async def find_camera(
        self, mac: str | None = None, alias: str | None = None, ip: str | None = None
    ) -> Camera | None:
        return await self._run(self.store.find_camera, mac, alias, ip)

    async def list_cameras(self, owner: str | None = None) -> list[Camera]:
        return await self._run(self.store.list_cameras, owner)

    async def forget_camera(self, camera_id: int) -> None:
        await self._run(self.store.forget_camera, camera_id)

    async def set_camera_presence(
        self,
        camera_id: int,
        online: bool,
        ip: str | None = None,
        firmware: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        await self._run(self.store.set_camera_presence, camera_id, online, ip, firmware, properties)

    async def update_camera(
        self,
        camera_id: int,
        *,
        name: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Camera:
        return await self._run(self.store.update_camera, camera_id, name=name, settings=settings)

    async def mark_all_offline(self) -> int:
        return await self._run(self.store.mark_all_offline)

    async def log_session(
        self, camera_id: int | None, login: str | None, role: str, peer: str, event: str
    ) -> None:
        await self._run(self.store.log_session, camera_id, login, role, peer, event)

    async def list_sessions(
        self, camera_id: int | None = None, limit: int = 100
    ) -> list[SessionEntry]:
        return await self._run(self.store.list_sessions, camera_id, limit)

    async def add_event(self, camera_id: int | None, kind: str, data: dict[str, Any]) -> Event:
        return await self._run(self.store.add_event, camera_id, kind, data)

    async def list_events(self, camera_id: int | None = None, limit: int = 100) -> list[Event]:
        return await self._run(self.store.list_events, camera_id, limit)
