"""`fakecloud serve --demo`: a demo account and a few simulated cameras inside the server.

The demo account is whichever account `demo.json` in the data folder names, and only while that
account still has the alias recorded there: an account a user made, even one called `demo`, is
never the demo's, so the demo never changes or removes it (it takes the next free `demo-N`).
`demo.lock` is held while a server runs the demo, so `fakecloud demo clean` never removes what
a running demo is using.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fakecloud.core.errors import UserError
from fakecloud.frontdoor.connection_info import format_address
from fakecloud.runtime import Runtime
from fakecloud.sim.demo import DEMO_MAC_PREFIX, run_demo
from fakecloud.store.protocol import CameraStore

log = logging.getLogger(__name__)

DEMO_LOGIN = "demo"
# Logins the demo may take, in order, when the one before belongs to someone else.
DEMO_LOGINS = (DEMO_LOGIN, *(f"{DEMO_LOGIN}-{n}" for n in range(2, 21)))
RECORD_NAME = "demo.json"
LOCK_NAME = "demo.lock"
MAX_RECORD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DemoRecord:
    """Which account is the demo's: its login, and its alias (random, set when the account is
    made) so that a later account of the same login is not mistaken for it."""

    login: str
    alias: str


def parse_demo_record(text: str) -> DemoRecord | None:
    """The record in `text`, or None when it is not one (a damaged file means no demo account)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    login, alias = data.get("login"), data.get("alias")
    if not isinstance(login, str) or not isinstance(alias, str) or not login or not alias:
        return None
    return DemoRecord(login, alias)


def read_demo_record(data_dir: Path) -> DemoRecord | None:
    try:
        with (data_dir / RECORD_NAME).open("rb") as file:
            raw = file.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None
    if len(raw) > MAX_RECORD_BYTES:
        return None
    return parse_demo_record(raw.decode("utf-8", "replace"))


def write_demo_record(data_dir: Path, record: DemoRecord) -> None:
    """Replace the record atomically: a crash leaves the old one or the new one."""
    path = data_dir / RECORD_NAME
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({"login": record.login, "alias": record.alias}) + "\n")
    partial.replace(path)


def forget_demo_record(data_dir: Path) -> None:
    (data_dir / RECORD_NAME).unlink(missing_ok=True)


@contextlib.contextmanager
def demo_lock(data_dir: Path) -> Iterator[None]:
    """Hold the demo's lock; UserError at once when another process holds it."""
    lock = acquire_demo_lock(data_dir)
    try:
        yield
    finally:
        lock.close()


def acquire_demo_lock(data_dir: Path) -> IO[bytes]:
    """The open lock file, locked; closing it releases the lock (so does the process ending)."""
    lock = (data_dir / LOCK_NAME).open("ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise UserError(
            f"a fakecloud server is running the demo on {data_dir}; stop it first"
        ) from None
    return lock


async def claim_demo_account(store: CameraStore, data_dir: Path, password: str) -> str:
    """The demo's login, with `password` as its password: the recorded demo account when it is
    still the demo's, else a new account at the first free demo login."""
    record = read_demo_record(data_dir)
    if record is not None:
        account = await store.get_account(record.login)
        if account is not None and account.alias == record.alias:
            await store.set_password(record.login, password)
            return account.login
    for login in DEMO_LOGINS:
        if await store.get_account(login) is None:
            account = await store.add_account(login, password)
            write_demo_record(data_dir, DemoRecord(account.login, account.alias))
            return account.login
    raise UserError(f"every demo login ({DEMO_LOGINS[0]} to {DEMO_LOGINS[-1]}) is taken")


def loopback_for(bind_address: str) -> str:
    """Where a client on this machine reaches a listener bound to `bind_address`."""
    address = ipaddress.ip_address(bind_address)
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return bind_address


class DemoPart:
    """Starts last, once the front door listens; stops first. Whatever goes wrong here is
    logged and leaves the rest of the server serving."""

    name = "demo"

    def __init__(self, runtime: Runtime, count: int = 3) -> None:
        self.runtime = runtime
        self.count = count
        self.login: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._port: int | None = None
        self._lock: IO[bytes] | None = None
        self._error: str | None = None

    async def start(self) -> None:
        frontdoor = self.runtime.part("frontdoor")
        ports = list(getattr(frontdoor, "bound_ports", {}).values())
        if not ports:
            self._error = "the cloud front door listens on no port"
            log.error("demo: %s, so no camera can log in", self._error)
            return
        data_dir = self.runtime.settings.data_dir
        # Security consideration: a fresh random password on every demo start, never a default
        # one; it is printed once, on this machine's console only.
        password = secrets.token_urlsafe(12)
        try:
            self._lock = acquire_demo_lock(data_dir)  # never waits: LOCK_NB
            self.login = await claim_demo_account(self.runtime.services.store, data_dir, password)
        except (UserError, OSError) as error:
            self._error = str(error)
            log.error("demo: not running: %s", error)
            self._release()
            return
        if self.login != DEMO_LOGIN:
            log.warning(
                "demo: the account %r is not the demo's, so the demo uses %r (your accounts are "
                "never changed)",
                DEMO_LOGIN,
                self.login,
            )
        self._port = ports[0]
        host = loopback_for(self.runtime.settings.bind_address)
        self._task = asyncio.create_task(
            run_demo(host, self._port, self.login, password, self.count, relay_host=host),
            name="demo cameras",
        )
        http_port = getattr(self.runtime.part("http"), "port", self.runtime.settings.http_port)
        log.warning(
            "demo: %d simulated cameras (MACs %s:…) log in to port %d as account %r, password %s "
            "(the dashboard is http://%s/; 'fakecloud demo clean' removes the demo)",
            self.count,
            DEMO_MAC_PREFIX,
            self._port,
            self.login,
            password,
            format_address(host, http_port),
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def status(self) -> dict[str, Any]:
        return {
            "account": self.login,
            "cameras": self.count,
            "port": self._port,
            "running": self._task is not None and not self._task.done(),
            "error": self._error,
        }
