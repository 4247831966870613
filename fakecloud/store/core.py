"""The store's core: one SQLite connection in WAL mode, its lock, transactions, migrations,
and the reads every other part of the store builds on (accounts and cameras by key, rows
decoded into models, the logs kept bounded).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from fakecloud.core.errors import UserError
from fakecloud.store.models import Account, Camera, decode_json_object, normalise_mac
from fakecloud.store.passwords import PasswordHasher, VerificationCache
from fakecloud.store.schema import migrate

_CAMERA_COLUMNS = (
    "c.id, c.alias, c.mac, c.p2p_key, a.login, c.name, c.reported_alias, c.settings, c.online,"
    " c.first_seen, c.last_seen, c.last_ip, c.firmware, c.properties, c.created,"
    " c.identity_hash, c.accepts_unproven"
)
# Anyone on the network can make a pending camera, so only this many are kept: the ones online
# and most recently seen (an attacker's flood pushes out its own records first).
MAX_PENDING_CAMERAS = 100
ACCOUNT_COLUMNS = "id, login, created, alias"
# A camera's columns as an INSERT ... RETURNING gives them, which cannot join: the owner's login
# (NULL here) is filled in by `camera_from_returned`.
CAMERA_RETURNING = "RETURNING " + _CAMERA_COLUMNS.replace("a.login", "NULL").replace("c.", "")
CAMERA_SELECT = f"SELECT {_CAMERA_COLUMNS} FROM cameras c LEFT JOIN accounts a ON a.id = c.owner_id"
# find_camera's order in one query (a camera's login asks it, and mostly misses on the alias):
# the MAC, else the cloud alias, else the reported alias; the most recently seen first.
_FIND_BY_MAC_OR_ALIAS = (
    f"{CAMERA_SELECT} WHERE c.mac = ?1 OR c.alias = ?2 OR c.reported_alias = ?2"
    " ORDER BY c.mac IS ?1 DESC, c.alias IS ?2 DESC, c.last_seen DESC LIMIT 1"
)
_PRUNE_EVERY = 256
# A grouped call's result, or the exception it raised.
Outcome = tuple[Any, Exception | None]


class StoreCore:
    """One SQLite database in WAL mode. Thread-safe (one lock), but meant for one thread."""

    def __init__(
        self,
        path: Path,
        *,
        hasher: PasswordHasher | None = None,
        cache: VerificationCache | None = None,
        max_log_rows: int = 100_000,
        max_pending_cameras: int = MAX_PENDING_CAMERAS,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.dummy_hash()
        self._cache = cache or VerificationCache()
        self._max_log_rows = max_log_rows
        self._max_pending_cameras = max_pending_cameras
        self._log_inserts = 0
        # What the write path did, for status pages and tests (not timing: counts).
        self.counters = {"transactions": 0, "batches": 0, "batched_writes": 0}
        self._lock = threading.RLock()
        self._after_commit: Callable[[sqlite3.Connection], None] | None = None
        self._grouping = False  # inside run_grouped: transactions are savepoints
        # check_same_thread=False: AsyncStore opens nothing itself, it moves every call onto its
        # worker thread; the lock above keeps any other use serial.
        try:
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as error:
            raise UserError(f"cannot open the database {path}: {error}") from None
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            # Durability: in WAL mode with synchronous=NORMAL a commit is in the write-ahead log
            # (in the OS page cache) before it returns, so a crash or SIGKILL of fakecloud loses
            # nothing that was committed, and the database is never corrupted. Only a power cut
            # or kernel crash can lose the last few commits (never the file's consistency).
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            migrate(self._db)
        except BaseException as error:
            self._db.close()
            if isinstance(error, sqlite3.DatabaseError):
                raise UserError(f"cannot open the database {path}: {error}") from None
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def hand_over_checkpoints(self, after_commit: Callable[[sqlite3.Connection], None]) -> None:
        """Commits stop checkpointing the write-ahead log; each calls `after_commit` with this
        connection instead (a Checkpointer's, which checkpoints off this connection's thread
        when the log has grown, and on it when the log reaches its cap:
        fakecloud/store/checkpoint.py)."""
        with self._lock:
            self._db.execute("PRAGMA wal_autocheckpoint = 0")
            # A log reused from the start is cut back first: its size then tells how much was
            # written since, which is what the checkpointer watches.
            self._db.execute("PRAGMA journal_size_limit = 0")
            self._after_commit = after_commit

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._grouping:
                with self._savepoint():
                    yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk): keep the first error.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self.counters["transactions"] += 1
            if self._after_commit is not None:
                self._after_commit(self._db)

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        """A call's writes inside a group: they stand or fall alone; the group commits."""
        self._db.execute("SAVEPOINT call")
        try:
            yield
            self._db.execute("RELEASE call")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK TO call")
                self._db.execute("RELEASE call")
            raise

    def run_grouped(self, calls: Sequence[Callable[[], Any]]) -> list[Outcome]:
        """Run write calls in one transaction, committed once (group commit: a login storm's
        new cameras cost one commit, not one each). Each call's writes are a savepoint of
        their own, so one that raises leaves the others'. Each call's (result, error); when
        the commit itself fails it raises, and none of the calls' writes were kept."""
        outcomes: list[Outcome] = []
        with self._transaction():
            self._grouping = True
            try:
                for call in calls:
                    try:
                        outcomes.append((call(), None))
                    except Exception as error:  # that caller's to handle
                        outcomes.append((None, error))
            finally:
                self._grouping = False
        return outcomes

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def integrity_check(self) -> str:
        """'ok', or SQLite's description of the damage."""
        return str(self._query("PRAGMA integrity_check")[0][0])

    def get_account(self, login: str) -> Account | None:
        rows = self._query(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login_key = ?", (login.casefold(),)
        )
        return account_from_row(rows[0]) if rows else None

    def _require_account(self, login: str) -> Account:
        account = self.get_account(login)
        if account is None:
            raise UserError(f"no account named {login!r}")
        return account

    def get_camera(self, camera_id: int) -> Camera | None:
        rows = self._query(f"{CAMERA_SELECT} WHERE c.id = ?", (camera_id,))
        return camera_from_row(rows[0]) if rows else None

    def find_camera(
        self, mac: str | None = None, alias: str | None = None, ip: str | None = None
    ) -> Camera | None:
        """By MAC first, then alias (the cloud's, else the one the camera reported), then the
        address it was last seen at (most recent)."""
        if mac is not None or alias is not None:
            wanted = (None if mac is None else normalise_mac(mac), alias)
            rows = self._query(_FIND_BY_MAC_OR_ALIAS, wanted)
            if rows:
                return camera_from_row(rows[0])
        if ip is not None:
            rows = self._query(
                f"{CAMERA_SELECT} WHERE c.last_ip = ? ORDER BY c.last_seen DESC LIMIT 1", (ip,)
            )
            if rows:
                return camera_from_row(rows[0])
        return None

    def _prune(self, db: sqlite3.Connection, table: str, inserted: int) -> None:
        """Keep the logs bounded: every few hundred inserts, drop rows beyond the limit."""
        before, self._log_inserts = self._log_inserts, self._log_inserts + inserted
        if before // _PRUNE_EVERY == self._log_inserts // _PRUNE_EVERY:
            return
        db.execute(
            f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?",
            (self._max_log_rows,),
        )


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse_optional_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def account_from_row(row: tuple[Any, ...]) -> Account:
    return Account(id=row[0], login=row[1], created=parse_time(row[2]), alias=row[3])


def camera_from_returned(row: tuple[Any, ...], owner: str | None) -> Camera:
    """A camera from CAMERA_RETURNING's columns and its owner's login."""
    return camera_from_row((*row[:4], owner, *row[5:]))


def camera_from_row(row: tuple[Any, ...]) -> Camera:
    return Camera(
        id=row[0],
        alias=row[1],
        mac=row[2],
        p2p_key=row[3],
        owner=row[4],
        name=row[5],
        reported_alias=row[6],
        settings=decode_json_object(row[7]),
        online=bool(row[8]),
        first_seen=parse_optional_time(row[9]),
        last_seen=parse_optional_time(row[10]),
        last_ip=row[11],
        firmware=row[12],
        properties=decode_json_object(row[13]),
        created=parse_optional_time(row[14]),
        identity_hash=row[15],
        accepts_unproven=bool(row[16]),
    )
