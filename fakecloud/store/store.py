"""The SQLite data-access layer: accounts, tokens, cameras, the session log and events.

Every public method is one short transaction. `Store` is synchronous (the CLI uses it as is);
the servers use `AsyncStore`, which runs these same methods on one worker thread.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fakecloud.core.errors import UserError
from fakecloud.store.batch import PresenceWrite, SessionRow, WriteBatch
from fakecloud.store.models import (
    MAX_PENDING_REPORT_BYTES,
    Account,
    Camera,
    Event,
    SessionEntry,
    TokenInfo,
    bounded_report_as_json,
    check_login,
    check_name,
    check_new_password,
    decode_json_object,
    encode_json_object,
    new_account_alias,
    normalise_mac,
    report_as_json,
    utc_now,
)
from fakecloud.store.passwords import PasswordHasher, VerificationCache
from fakecloud.store.schema import migrate

CAMERA_ID_LIMIT = 2**40
P2P_KEY_LENGTH = 16
_P2P_KEY_ALPHABET = string.ascii_letters + string.digits
TOKEN_MARKER = ".accessToken:"
_PARTNER_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-")
_CAMERA_COLUMNS = (
    "c.id, c.alias, c.mac, c.p2p_key, a.login, c.name, c.reported_alias, c.settings, c.online,"
    " c.first_seen, c.last_seen, c.last_ip, c.firmware, c.properties, c.created,"
    " c.identity_hash, c.accepts_unproven"
)
# Anyone on the network can make a pending camera, so only this many are kept: the ones online
# and most recently seen (an attacker's flood pushes out its own records first).
MAX_PENDING_CAMERAS = 100
_PRUNE_PENDING = (
    "DELETE FROM cameras WHERE id IN (SELECT id FROM cameras WHERE owner_id IS NULL"
    " ORDER BY online DESC, COALESCE(last_seen, created) DESC, id DESC LIMIT -1 OFFSET ?)"
)
MAX_PAIRING_MINUTES = 24 * 60
_ACCOUNT_COLUMNS = "id, login, created, alias"
# A camera's cloud alias follows its owner: `<account alias>:<MAC>`, the bare MAC when unowned.
_REFRESH_CAMERA_ALIAS = (
    "UPDATE cameras SET alias = COALESCE("
    "(SELECT a.alias FROM accounts a WHERE a.id = cameras.owner_id) || ':' || mac, mac)"
    " WHERE id = ?"
)
# Aliases are random; a collision is rare, so a few fresh draws always find a free one.
_ALIAS_ATTEMPTS = 16
_CAMERA_SELECT = (
    f"SELECT {_CAMERA_COLUMNS} FROM cameras c LEFT JOIN accounts a ON a.id = c.owner_id"
)
# find_camera's order in one query (a camera's login asks it, and mostly misses on the alias):
# the MAC, else the cloud alias, else the reported alias; the most recently seen first.
_FIND_BY_MAC_OR_ALIAS = (
    f"{_CAMERA_SELECT} WHERE c.mac = ?1 OR c.alias = ?2 OR c.reported_alias = ?2"
    " ORDER BY c.mac IS ?1 DESC, c.alias IS ?2 DESC, c.last_seen DESC LIMIT 1"
)
# One camera's presence; None leaves a field (online too: a keepalive only moves last_seen).
_WRITE_PRESENCE = (
    "UPDATE cameras SET online = COALESCE(?, online), last_seen = ?,"
    " first_seen = COALESCE(first_seen, ?), last_ip = COALESCE(?, last_ip),"
    " firmware = COALESCE(?, firmware), properties = COALESCE("
    "CASE WHEN owner_id IS NULL THEN ? ELSE ? END, properties) WHERE id = ?"
)
_INSERT_SESSION = (
    "INSERT INTO sessions (time, camera_id, login, role, peer, event)"
    " VALUES (?, (SELECT id FROM cameras WHERE id = ?), ?, ?, ?, ?)"
)
_PRUNE_EVERY = 256


@dataclass(frozen=True, slots=True)
class PasswordRecord:
    """An account's stored hash (a dummy one for an unknown login) as read for one check."""

    login: str
    account: Account | None
    stored_hash: str
    generation: int  # the verification cache's, when the hash was read


class Store:
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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
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

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def integrity_check(self) -> str:
        """'ok', or SQLite's description of the damage."""
        return str(self._query("PRAGMA integrity_check")[0][0])

    # -- accounts ---------------------------------------------------------------------------------

    def add_account(self, login: str, password: str) -> Account:
        check_login(login)
        password_hash = self._hasher.hash(check_new_password(password))
        created = utc_now()
        for _ in range(_ALIAS_ATTEMPTS):
            alias = new_account_alias()
            try:
                with self._transaction() as db:
                    cursor = db.execute(
                        "INSERT INTO accounts (login, login_key, password_hash, created, alias)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (login, login.casefold(), password_hash, created.isoformat(), alias),
                    )
            except sqlite3.IntegrityError as error:
                if "accounts.alias" in str(error):
                    continue
                raise UserError(f"an account named {login!r} already exists") from None
            assert cursor.lastrowid is not None
            return Account(id=cursor.lastrowid, login=login, created=created, alias=alias)
        raise UserError("could not find a free account alias")

    def get_account(self, login: str) -> Account | None:
        rows = self._query(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE login_key = ?", (login.casefold(),)
        )
        return _account(rows[0]) if rows else None

    def list_accounts(self) -> list[Account]:
        rows = self._query(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY id")
        return [_account(row) for row in rows]

    def verify_password(self, login: str, password: str) -> Account | None:
        """The account when the password is right; None otherwise. An unknown login costs one
        scrypt too, so response times do not reveal which logins exist."""
        return self.cached_password(login, password) or self.check_password(
            self.password_record(login), password
        )

    def cached_password(self, login: str, password: str) -> Account | None:
        """The account when this password verified recently: no scrypt, microseconds."""
        record = self.password_record(login)
        if record.account is None or not self._cache.hit(login, password, record.stored_hash):
            return None
        return record.account

    def cached_camera_login(
        self, login: str, password: str, *, mac: str | None, alias: str | None
    ) -> tuple[Account, Camera | None] | None:
        """A camera login's reads in one call, when its password verified recently: the account
        and the camera the login names (None: none known). None when the password is not
        cached (check it with verify_password, then read the camera)."""
        account = self.cached_password(login, password)
        if account is None:
            return None
        return account, self.find_camera(mac=mac, alias=alias)

    def password_fingerprint(self, login: str, password: str) -> bytes:
        return self._cache.fingerprint(login, password)

    def password_record(self, login: str) -> PasswordRecord:
        """What check_password needs; read first, so the slow check can run off this thread."""
        generation = self._cache.generation
        rows = self._query(
            f"SELECT {_ACCOUNT_COLUMNS}, password_hash FROM accounts WHERE login_key = ?",
            (login.casefold(),),
        )
        if not rows:
            return PasswordRecord(login, None, self._dummy_hash, generation)
        return PasswordRecord(login, _account(rows[0][:4]), rows[0][4], generation)

    def check_password(self, record: PasswordRecord, password: str) -> Account | None:
        """scrypt against the record. Touches no database, so any thread may run it."""
        if record.account is not None and self._cache.hit(
            record.login, password, record.stored_hash
        ):
            return record.account  # verified meanwhile by a concurrent check
        if not self._hasher.verify(password, record.stored_hash) or record.account is None:
            return None
        self._cache.remember(
            record.login, password, stored_hash=record.stored_hash, generation=record.generation
        )
        return record.account

    def set_password(self, login: str, password: str) -> None:
        password_hash = self._hasher.hash(check_new_password(password))
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE accounts SET password_hash = ? WHERE login_key = ?",
                (password_hash, login.casefold()),
            ).rowcount
        self._cache.forget(login)
        if not changed:
            raise UserError(f"no account named {login!r}")

    def remove_account(self, login: str) -> None:
        """Delete the account and its tokens. Its cameras stay known but become unowned
        (their history is kept; the next account a camera logs in with claims it)."""
        with self._transaction() as db:
            # Its cameras' aliases lose the owner prefix together with the owner.
            db.execute(
                "UPDATE cameras SET alias = mac WHERE owner_id ="
                " (SELECT id FROM accounts WHERE login_key = ?)",
                (login.casefold(),),
            )
            removed = db.execute(
                "DELETE FROM accounts WHERE login_key = ?", (login.casefold(),)
            ).rowcount
        self._cache.forget(login)
        if not removed:
            raise UserError(f"no account named {login!r}")

    # -- access tokens ----------------------------------------------------------------------------

    def issue_token(self, login: str, partner: str = "myQ") -> str:
        """A new access token in the form Tend clients send as CX_PASSWD:
        '<partner>.accessToken:<token>'. Only a hash is kept; this is the one time it is seen."""
        if not partner or len(partner) > 64 or not set(partner) <= _PARTNER_CHARACTERS:
            raise UserError("a partner name has 1 to 64 letters, digits, '_' or '-'")
        account = self._require_account(login)
        token = secrets.token_urlsafe(32)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO tokens (account_id, partner, token_hash, created) VALUES (?, ?, ?, ?)",
                (account.id, partner, _token_hash(token), utc_now().isoformat()),
            )
        return f"{partner}{TOKEN_MARKER}{token}"

    def account_for_token(self, token: str) -> Account | None:
        """The account owning this token, given bare or in its full CX_PASSWD form. Found by
        the token's hash alone: a login without a user name (how the myQ app logs in)."""
        _, marker, bare = token.partition(TOKEN_MARKER)
        wanted = _token_hash(bare if marker else token)
        rows = self._query(
            "SELECT t.token_hash, a.id, a.login, a.created, a.alias"
            " FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?",
            (wanted,),
        )
        # Security consideration: the index finds the row; the final comparison is still made
        # in constant time so nothing about stored hashes leaks through timing.
        if not rows or not hmac.compare_digest(rows[0][0], wanted):
            return None
        return _account(rows[0][1:])

    def verify_token(self, login: str, token: str) -> Account | None:
        """The account when the token (bare, or in its full CX_PASSWD form) is one of its own."""
        account = self.account_for_token(token)
        if account is None or account.login.casefold() != login.casefold():
            return None
        return account

    def list_tokens(self, login: str) -> list[TokenInfo]:
        account = self._require_account(login)
        rows = self._query(
            "SELECT id, partner, created FROM tokens WHERE account_id = ? ORDER BY id",
            (account.id,),
        )
        return [
            TokenInfo(id=row[0], login=account.login, partner=row[1], created=_time(row[2]))
            for row in rows
        ]

    def revoke_tokens(self, login: str) -> int:
        account = self._require_account(login)
        with self._transaction() as db:
            return db.execute("DELETE FROM tokens WHERE account_id = ?", (account.id,)).rowcount

    def _require_account(self, login: str) -> Account:
        account = self.get_account(login)
        if account is None:
            raise UserError(f"no account named {login!r}")
        return account

    # -- cameras ----------------------------------------------------------------------------------

    def upsert_camera(
        self,
        *,
        mac: str,
        reported_alias: str | None = None,
        owner: str | None = None,
        name: str | None = None,
    ) -> Camera:
        """The camera with this MAC (or else this alias), created when there is none. Given
        values (the alias the camera reported, owner, name) are written over the stored ones;
        None leaves them. The cloud alias follows the owner."""
        mac = normalise_mac(mac)
        if name is not None:
            check_name(name)
        # A camera logging in again changes nothing: answered by a read, no write transaction
        # (2,000 cameras reconnecting after a power cut would otherwise write 2,000 times).
        known = self.find_camera(mac=mac, alias=reported_alias)
        if known is not None and unchanged_by_upsert(
            known, reported_alias=reported_alias, owner=owner, name=name
        ):
            return known
        owner_id = self._require_account(owner).id if owner is not None else None
        with self._transaction() as db:
            # Looked up inside the write transaction, so two writers cannot both create it.
            existing = self.find_camera(mac=mac, alias=reported_alias)
            camera_id = self._insert_camera(db, mac) if existing is None else existing.id
            db.execute(
                "UPDATE cameras SET reported_alias = COALESCE(?, reported_alias),"
                " owner_id = COALESCE(?, owner_id), name = COALESCE(?, name) WHERE id = ?",
                (reported_alias, owner_id, name, camera_id),
            )
            db.execute(_REFRESH_CAMERA_ALIAS, (camera_id,))
        camera = self.get_camera(camera_id)
        assert camera is not None
        return camera

    def _insert_camera(self, db: sqlite3.Connection, mac: str) -> int:
        # Ids are random (not 1, 2, 3...) because they appear in URLs and CX_DSTID: guessing a
        # neighbour's id should not be that easy. Collisions below 2**40 are rare; retry a few.
        for _ in range(8):
            camera_id = secrets.randbelow(CAMERA_ID_LIMIT - 1) + 1
            key = random_text(P2P_KEY_LENGTH, _P2P_KEY_ALPHABET)
            try:
                db.execute(
                    "INSERT INTO cameras (id, alias, mac, p2p_key, created) VALUES (?, ?, ?, ?, ?)",
                    (camera_id, mac, mac, key, utc_now().isoformat()),
                )
            except sqlite3.IntegrityError:
                continue
            return camera_id
        raise UserError("could not find a free camera id")

    def add_pending_camera(
        self, *, mac: str, reported_alias: str | None = None, identity_secret: str | None = None
    ) -> Camera:
        """The camera with this MAC (or alias), created pending (no owner) when there is none,
        keeping a hash of the identity secret its first login carried. Beyond the pending cap
        the pending cameras seen least recently are dropped."""
        mac = normalise_mac(mac)
        with self._transaction() as db:
            existing = self.find_camera(mac=mac, alias=reported_alias)
            if existing is not None:
                return existing
            camera_id = self._insert_camera(db, mac)
            db.execute(
                "UPDATE cameras SET reported_alias = ?, identity_hash = ? WHERE id = ?",
                (reported_alias, _identity_hash(mac, identity_secret), camera_id),
            )
            db.execute(_PRUNE_PENDING, (self._max_pending_cameras,))
        camera = self.get_camera(camera_id)
        if camera is None:
            raise UserError(f"camera {mac} was dropped at once (pending cap 0)")
        return camera

    def approve_camera(
        self, camera_id: int, owner: str, identity_secret: str | None = None
    ) -> Camera:
        """Give a pending camera its owner. It keeps the identity secret hash of its first
        login (or takes this one when it had none); without any it is marked as accepting
        unproven logins, since nothing else could ever speak for it."""
        account = self._require_account(owner)
        with self._transaction() as db:
            camera = self.get_camera(camera_id)
            if camera is None:
                raise UserError(f"no camera {camera_id}")
            if camera.owner is not None:
                if camera.owner.casefold() == owner.casefold():
                    return camera
                raise UserError(f"camera {camera_id} belongs to another account")
            identity_hash = camera.identity_hash or _identity_hash(camera.mac, identity_secret)
            db.execute(
                "UPDATE cameras SET owner_id = ?, identity_hash = ?, accepts_unproven = ?"
                " WHERE id = ?",
                (account.id, identity_hash, int(identity_hash is None), camera_id),
            )
            db.execute(_REFRESH_CAMERA_ALIAS, (camera_id,))
        approved = self.get_camera(camera_id)
        assert approved is not None
        return approved

    def open_pairing_window(self, login: str, minutes: float) -> datetime:
        """Let the next unknown cameras join this account until the returned time (UTC).
        The window is a row, so a running server sees one the CLI opened."""
        if not 0 < minutes <= MAX_PAIRING_MINUTES:
            raise UserError(f"a pairing window lasts 1 to {MAX_PAIRING_MINUTES} minutes")
        account = self._require_account(login)
        now = utc_now()
        expires = now + timedelta(minutes=minutes)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO pairing_windows (account_id, opened, expires)"
                " VALUES (?, ?, ?)",
                (account.id, now.isoformat(), expires.isoformat()),
            )
        return expires

    def close_pairing_window(self, login: str) -> bool:
        account = self._require_account(login)
        with self._transaction() as db:
            return bool(
                db.execute(
                    "DELETE FROM pairing_windows WHERE account_id = ?", (account.id,)
                ).rowcount
            )

    def pairing_account(self) -> str | None:
        """The account whose pairing window is open (the latest opened), if any."""
        rows = self._query(
            "SELECT a.login FROM pairing_windows p JOIN accounts a ON a.id = p.account_id"
            " WHERE p.expires > ? ORDER BY p.opened DESC LIMIT 1",
            (utc_now().isoformat(),),
        )
        return str(rows[0][0]) if rows else None

    def get_camera(self, camera_id: int) -> Camera | None:
        rows = self._query(f"{_CAMERA_SELECT} WHERE c.id = ?", (camera_id,))
        return _camera(rows[0]) if rows else None

    def find_camera(
        self, mac: str | None = None, alias: str | None = None, ip: str | None = None
    ) -> Camera | None:
        """By MAC first, then alias (the cloud's, else the one the camera reported), then the
        address it was last seen at (most recent)."""
        if mac is not None or alias is not None:
            wanted = (None if mac is None else normalise_mac(mac), alias)
            rows = self._query(_FIND_BY_MAC_OR_ALIAS, wanted)
            if rows:
                return _camera(rows[0])
        if ip is not None:
            rows = self._query(
                f"{_CAMERA_SELECT} WHERE c.last_ip = ? ORDER BY c.last_seen DESC LIMIT 1", (ip,)
            )
            if rows:
                return _camera(rows[0])
        return None

    def list_cameras(self, owner: str | None = None) -> list[Camera]:
        """Every camera, or only those of one account (case-insensitive)."""
        if owner is None:
            rows = self._query(f"{_CAMERA_SELECT} ORDER BY c.created, c.id")
        else:
            rows = self._query(
                f"{_CAMERA_SELECT} WHERE a.login_key = ? ORDER BY c.created, c.id",
                (owner.casefold(),),
            )
        return [_camera(row) for row in rows]

    def forget_camera(self, camera_id: int) -> None:
        """Delete the camera and its events; the session log keeps its lines, unlinked."""
        with self._transaction() as db:
            removed = db.execute("DELETE FROM cameras WHERE id = ?", (camera_id,)).rowcount
        if not removed:
            raise UserError(f"no camera {camera_id}")

    def forget_sessions(self, login: str, camera_ids: list[int]) -> int:
        """Delete the session log lines of one login and of these cameras (`demo clean`)."""
        marks = ",".join("?" * len(camera_ids))
        with self._transaction() as db:
            return db.execute(
                f"DELETE FROM sessions WHERE login = ? COLLATE NOCASE OR camera_id IN ({marks})",
                (login, *camera_ids),
            ).rowcount

    def set_camera_presence(
        self,
        camera_id: int,
        online: bool,
        ip: str | None = None,
        firmware: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        now = utc_now().isoformat()
        write = PresenceWrite(camera_id, now, now, online, ip, firmware, properties)
        with self._transaction() as db:
            changed = _write_presence(db, write)
        if not changed:
            raise UserError(f"no camera {camera_id}")

    def update_camera(
        self,
        camera_id: int,
        *,
        name: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Camera:
        """Rename (an empty name clears it) and/or replace the settings; None leaves a field."""
        settings_text = None if settings is None else encode_json_object(settings)
        if name is not None:
            check_name(name)
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE cameras SET name = CASE WHEN ? IS NULL THEN name ELSE NULLIF(?, '') END,"
                " settings = COALESCE(?, settings) WHERE id = ?",
                (name, name, settings_text, camera_id),
            ).rowcount
        camera = self.get_camera(camera_id)
        if not changed or camera is None:
            raise UserError(f"no camera {camera_id}")
        return camera

    def mark_all_offline(self) -> int:
        """At server start nobody is connected yet, whatever the last run left behind."""
        with self._transaction() as db:
            return db.execute("UPDATE cameras SET online = 0 WHERE online != 0").rowcount

    # -- session log and events -------------------------------------------------------------------

    def log_session(
        self, camera_id: int | None, login: str | None, role: str, peer: str, event: str
    ) -> None:
        row = SessionRow(utc_now().isoformat(), camera_id, login, role, peer, event)
        with self._transaction() as db:
            self._insert_sessions(db, [row])

    def write_batch(self, batch: WriteBatch) -> None:
        """Everything in the batch in one transaction: all of it, or (on an error, which is
        raised) none of it. A camera forgotten meanwhile simply gets no presence."""
        with self._transaction() as db:
            for write in batch.presence.values():
                _write_presence(db, write)
            self._insert_sessions(db, batch.sessions)
        self.counters["batches"] += 1
        self.counters["batched_writes"] += len(batch)

    def _insert_sessions(self, db: sqlite3.Connection, rows: list[SessionRow]) -> None:
        db.executemany(
            _INSERT_SESSION,
            [(row.time, row.camera_id, row.login, row.role, row.peer, row.event) for row in rows],
        )
        self._prune(db, "sessions", len(rows))

    def list_sessions(self, camera_id: int | None = None, limit: int = 100) -> list[SessionEntry]:
        """Newest first."""
        where, parameters = _camera_filter(camera_id)
        rows = self._query(
            f"SELECT id, time, camera_id, login, role, peer, event FROM sessions {where}"
            " ORDER BY id DESC LIMIT ?",
            (*parameters, limit),
        )
        return [
            SessionEntry(row[0], _time(row[1]), row[2], row[3], row[4], row[5], row[6])
            for row in rows
        ]

    def add_event(self, camera_id: int | None, kind: str, data: dict[str, Any]) -> Event:
        data_text = report_as_json(data)
        now = utc_now()
        try:
            with self._transaction() as db:
                cursor = db.execute(
                    "INSERT INTO events (time, camera_id, kind, data) VALUES (?, ?, ?, ?)",
                    (now.isoformat(), camera_id, kind, data_text),
                )
                self._prune(db, "events", 1)
        except sqlite3.IntegrityError:
            raise UserError(f"no camera {camera_id}") from None
        assert cursor.lastrowid is not None
        return Event(cursor.lastrowid, camera_id, now, kind, decode_json_object(data_text))

    def list_events(self, camera_id: int | None = None, limit: int = 100) -> list[Event]:
        """Newest first."""
        where, parameters = _camera_filter(camera_id)
        rows = self._query(
            f"SELECT id, camera_id, time, kind, data FROM events {where} ORDER BY id DESC LIMIT ?",
            (*parameters, limit),
        )
        return [
            Event(row[0], row[1], _time(row[2]), row[3], decode_json_object(row[4])) for row in rows
        ]

    def _prune(self, db: sqlite3.Connection, table: str, inserted: int) -> None:
        """Keep the logs bounded: every few hundred inserts, drop rows beyond the limit."""
        before, self._log_inserts = self._log_inserts, self._log_inserts + inserted
        if before // _PRUNE_EVERY == self._log_inserts // _PRUNE_EVERY:
            return
        db.execute(
            f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?",
            (self._max_log_rows,),
        )


def _write_presence(db: sqlite3.Connection, write: PresenceWrite) -> bool:
    """Whether the camera exists. What a pending camera reported is kept bounded."""
    full = bounded = None
    if write.properties is not None:
        full = report_as_json(write.properties)
        bounded = bounded_report_as_json(write.properties, MAX_PENDING_REPORT_BYTES)
    online = None if write.online is None else int(write.online)
    parameters = (online, write.seen, write.first_seen, write.ip, write.firmware, bounded, full)
    return bool(db.execute(_WRITE_PRESENCE, (*parameters, write.camera_id)).rowcount)


def unchanged_by_upsert(
    camera: Camera,
    *,
    reported_alias: str | None = None,
    owner: str | None = None,
    name: str | None = None,
) -> bool:
    """Whether upsert_camera with these values would leave the camera as it is (and so could
    be answered with the record as it was read)."""
    same_owner = owner is None or (camera.owner or "").casefold() == owner.casefold()
    return (
        same_owner
        and reported_alias in (None, camera.reported_alias)
        and name in (None, camera.name)
    )


def random_text(length: int, alphabet: str) -> str:
    """`length` characters drawn uniformly from `alphabet` (at most 256) with one read of the
    system's CSPRNG for all of them, not one per character (a new camera needs 16).

    Security consideration: unbiased; a byte at or above the largest multiple of the alphabet's
    size is skipped rather than folded onto the first characters."""
    limit = 256 - 256 % len(alphabet)
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(
            alphabet[byte % len(alphabet)]
            for byte in secrets.token_bytes(2 * length)
            if byte < limit
        )
    return "".join(chars[:length])


def _camera_filter(camera_id: int | None) -> tuple[str, tuple[Any, ...]]:
    return ("", ()) if camera_id is None else ("WHERE camera_id = ?", (camera_id,))


def identity_proves(camera: Camera, secret: str | None) -> bool:
    """Whether a login's identity secret is the one this camera was bound with.
    Security consideration: compared in constant time, as a hash, never as the secret."""
    wanted = _identity_hash(camera.mac, secret)
    return bool(camera.identity_hash and wanted) and hmac.compare_digest(
        camera.identity_hash or "", wanted or ""
    )


def _identity_hash(mac: str, secret: str | None) -> str | None:
    # Keyed by the MAC so equal secrets of two cameras differ. A device secret is the device's
    # own (not a password someone chose), and a slow hash here would cost every camera login.
    if not secret:
        return None
    digest = hmac.new(mac.encode(), secret.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()


def _token_hash(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _optional_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _account(row: tuple[Any, ...]) -> Account:
    return Account(id=row[0], login=row[1], created=_time(row[2]), alias=row[3])


def _camera(row: tuple[Any, ...]) -> Camera:
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
        first_seen=_optional_time(row[9]),
        last_seen=_optional_time(row[10]),
        last_ip=row[11],
        firmware=row[12],
        properties=decode_json_object(row[13]),
        created=_optional_time(row[14]),
        identity_hash=row[15],
        accepts_unproven=bool(row[16]),
    )
