"""The store for asyncio code: the same methods, awaited, run on one dedicated worker thread.

One thread means the event loop never waits on the disk and SQLite only ever sees one writer
from this process, so no call waits on a database lock held by another of our own calls.

Presence, last_seen and the session log are written behind (group commit, write_behind.py):
any call made after a write-behind call sees it, because the thread runs jobs in order and a
call commits the gathered writes first. The two that read nothing written behind,
`cached_camera_login` and `upsert_camera` (a login storm's calls), leave the writes to gather
instead, so a storm commits a batch every GATHER_SECONDS, not one per login; and camera
creations that come together share one commit (grouped.py). `flush()` waits for what is
queued; `close()` flushes first, so a clean stop loses nothing. A crash loses at most the batch
being gathered (the writes of the last GATHER_SECONDS, or of one slow transaction).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from fakecloud.core.errors import UserError
from fakecloud.core.login_guard import HashPool, LoginGuard, LoginLimits, StillWaiting
from fakecloud.store.batch import PresenceWrite, SessionRow
from fakecloud.store.checkpoint import Checkpointer
from fakecloud.store.grouped import GroupedCalls
from fakecloud.store.models import Account, Camera, Event, SessionEntry, TokenInfo, utc_now
from fakecloud.store.store import Store
from fakecloud.store.worker import StoreWorker
from fakecloud.store.write_behind import WriteBehind

if TYPE_CHECKING:
    from fakecloud.store.protocol import CameraStore

T = TypeVar("T")
log = logging.getLogger(__name__)

# A keepalive moves a camera's last_seen at most this often (seconds): a camera sending one
# every few seconds costs a write only now and then.
LAST_SEEN_INTERVAL = 5.0


class AsyncStore:
    def __init__(
        self,
        store: Store,
        *,
        login_limits: LoginLimits | None = None,
        last_seen_interval: float = LAST_SEEN_INTERVAL,
    ) -> None:
        self.store = store
        self._worker = StoreWorker()
        # A checkpoint waits for the disk; it must not hold up logins (store/checkpoint.py).
        self.checkpointer = Checkpointer(store.path)
        store.hand_over_checkpoints(self.checkpointer.after_commit)
        self._writes = WriteBehind(store, self._worker)
        self.write_counters = self._writes.counters
        # Camera creations at login, committed together (grouped.py).
        self._grouped = GroupedCalls(store, self._worker, self.write_counters)
        self.last_seen_interval = last_seen_interval
        self._seen_noted: dict[int, float] = {}  # camera id -> monotonic time of its last write
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
        return await self._on_thread(self._writes.take_along(partial(call, *args, **kwargs)))

    async def _run_before_writes(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """For a call that reads nothing written behind (accounts, a camera's identity and
        owner): it leaves the gathering writes to their timer, so a login storm's reads do
        not each commit a batch of a few writes."""
        return await self._on_thread(partial(call, *args, **kwargs))

    async def _on_thread(self, job: Callable[[], T]) -> T:
        return await self._worker.call(job)

    async def close(self) -> None:
        """Commit what is queued and finish queued calls, then close the database."""
        self._writes.closed = True
        await self._run(self._writes.commit)
        self.checkpointer.close()
        await self._run(self.store.close)
        self._worker.stop()
        self.hash_pool.close()

    async def integrity_check(self) -> str:
        return await self._run(self.store.integrity_check)

    async def add_account(self, login: str, password: str, *, first: bool = False) -> Account:
        return await self._run(self.store.add_account, login, password, first=first)

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

    async def cached_camera_login(
        self, login: str, password: str, *, mac: str | None, alias: str | None
    ) -> tuple[Account, Camera | None] | None:
        """Store.cached_camera_login: a camera's repeated login costs one store call, not two.
        The camera's presence fields may lag its written-behind changes: the login replaces
        them (camera_online) anyway."""
        return await self._run_before_writes(
            self.store.cached_camera_login, login, password, mac=mac, alias=alias
        )

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

    async def revoke_token(self, login: str, token_id: int) -> bool:
        return await self._run(self.store.revoke_token, login, token_id)

    async def start_web_session(self, login: str, lifetime: float) -> str:
        return await self._run(self.store.start_web_session, login, lifetime)

    async def web_session_account(self, token: str) -> Account | None:
        return await self._run_before_writes(self.store.web_session_account, token)

    async def end_web_session(self, token: str) -> bool:
        return await self._run(self.store.end_web_session, token)

    async def end_web_sessions(self, login: str, *, keep: str | None = None) -> int:
        return await self._run(self.store.end_web_sessions, login, keep=keep)

    async def upsert_camera(
        self,
        *,
        mac: str,
        reported_alias: str | None = None,
        owner: str | None = None,
        name: str | None = None,
    ) -> Camera:
        """Store.upsert_camera, grouped with the others that come meanwhile into one commit
        (grouped.py). It writes no column that is written behind, so it need not wait for them;
        the record's presence fields may lag them (a login replaces those anyway)."""
        return await self._grouped.call(
            partial(
                self.store.upsert_camera,
                mac=mac,
                reported_alias=reported_alias,
                owner=owner,
                name=name,
            )
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
        """Written behind: returns at once (see the module's docstring). A camera forgotten
        meanwhile simply gets no presence."""
        self._presence(camera_id, online, ip, firmware, properties)

    def camera_online(
        self,
        camera: Camera,
        *,
        ip: str | None = None,
        firmware: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> Camera:
        """Mark a camera online (written behind) and return its record as that leaves it, so
        a login need not wait for the commit to read it back."""
        return self._presence(camera.id, True, ip, firmware, properties).applied_to(camera)

    def _presence(
        self,
        camera_id: int,
        online: bool,
        ip: str | None,
        firmware: str | None,
        properties: dict[str, Any] | None,
    ) -> PresenceWrite:
        now = utc_now().isoformat()
        write = PresenceWrite(camera_id, now, now, online, ip, firmware, properties)
        # Queued as a copy: a later change merges into the queued one, never into `write`.
        self._writes.add(replace(write), None)
        if online:
            self._seen_noted[camera_id] = time.monotonic()
        else:
            self._seen_noted.pop(camera_id, None)
        return write

    def camera_seen(self, camera_id: int) -> bool:
        """A camera session showed signs of life (a keepalive): move its last_seen, written
        behind and at most once per last_seen_interval. Whether a write was queued."""
        now = time.monotonic()
        if now - self._seen_noted.get(camera_id, float("-inf")) < self.last_seen_interval:
            self.write_counters["keepalives_skipped"] += 1
            return False
        self._seen_noted[camera_id] = now
        seen = utc_now().isoformat()
        self._writes.add(PresenceWrite(camera_id, seen, seen), None)
        return True

    async def flush(self) -> None:
        """Wait until every write made before this call is committed (for callers that need
        durability). Raises UserError when a batch since the last flush could not be written."""
        failed = await self._run(self._writes.commit_and_report)
        if failed:
            raise UserError(f"the store could not write {failed} batch(es); see the log")

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
        """Written behind: returns at once (see the module's docstring)."""
        row = SessionRow(utc_now().isoformat(), camera_id, login, role, peer, event)
        self._writes.add(None, row)

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

    async def open_pairing_window(self, login: str, minutes: float) -> datetime:
        return await self._run(self.store.open_pairing_window, login, minutes)


if TYPE_CHECKING:
    # The SQLite store is checked against the Protocol the rest of the server is typed with.
    _implements: type[CameraStore] = AsyncStore
