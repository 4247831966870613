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

from fakecloud.core.login_guard import HashPool, LoginGuard, LoginLimits, StillWaiting
from fakecloud.store.models import Account, Camera, Event, SessionEntry, TokenInfo
from fakecloud.store.store import Store

T = TypeVar("T")


class AsyncStore:
    def __init__(self, store: Store, *, login_limits: LoginLimits | None = None) -> None:
        self.store = store
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fakecloud-store")
        limits = login_limits or LoginLimits()
        # scrypt never runs on the store's thread: a flood of wrong passwords would queue every
        # other call (token checks, presence, keepalives' writes) behind it.
        self.hash_pool = HashPool(limits.hash_workers, limits.hash_queue)
        self.login_guard = LoginGuard(limits)
        # Checks running now, by the fingerprint of their login and password: the same pair
        # asked again meanwhile (2,000 cameras of one account after a power cut) waits for
        # that one answer instead of paying for scrypt again.
        self._checking: dict[bytes, asyncio.Future[Account | None]] = {}

    async def _run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, partial(call, *args, **kwargs))

    async def close(self) -> None:
        """Finish queued calls, then close the database."""
        await self._run(self.store.close)
        self._worker.shutdown(wait=True)
        self.hash_pool.close()

    async def integrity_check(self) -> str:
        return await self._run(self.store.integrity_check)

    async def add_account(self, login: str, password: str) -> Account:
        return await self._run(self.store.add_account, login, password)

    async def get_account(self, login: str) -> Account | None:
        return await self._run(self.store.get_account, login)

    async def list_accounts(self) -> list[Account]:
        return await self._run(self.store.list_accounts)

    async def verify_password(
        self,
        login: str,
        password: str,
        *,
        client: str | None = None,
        still_waiting: StillWaiting | None = None,
    ) -> Account | None:
        """The account when the password is right, None when it is wrong. A recently verified
        password answers in microseconds; any other check runs scrypt in the hash pool under
        the login limits for `client` (its address) and the account, and may raise
        LoginRefused: answer that exactly like a wrong password."""
        account = await self._run(self.store.cached_password, login, password)
        if account is not None:
            return account
        fingerprint = self.store.password_fingerprint(login, password)
        running = self._checking.get(fingerprint)
        if running is None:

            async def check() -> Account | None:
                record = await self._run(self.store.password_record, login)
                job = partial(self.store.check_password, record, password)
                return await self.hash_pool.run(job, still_waiting)

            running = asyncio.ensure_future(self.login_guard.check(client, login, check))
            self._checking[fingerprint] = running
            running.add_done_callback(partial(self._checked, fingerprint))
        # Shielded: one asker giving up does not cancel the answer the others wait for.
        return await asyncio.shield(running)

    def _checked(self, fingerprint: bytes, running: asyncio.Future[Account | None]) -> None:
        self._checking.pop(fingerprint, None)
        if not running.cancelled():
            running.exception()  # retrieved here too: every asker may have given up

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

    async def add_pending_camera(
        self, *, mac: str, reported_alias: str | None = None, identity_secret: str | None = None
    ) -> Camera:
        return await self._run(
            self.store.add_pending_camera,
            mac=mac,
            reported_alias=reported_alias,
            identity_secret=identity_secret,
        )

    async def approve_camera(
        self, camera_id: int, owner: str, identity_secret: str | None = None
    ) -> Camera:
        return await self._run(self.store.approve_camera, camera_id, owner, identity_secret)

    async def pairing_account(self) -> str | None:
        return await self._run(self.store.pairing_account)
