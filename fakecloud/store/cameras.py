"""Cameras: created, pending and approved, paired in a window, renamed and forgotten."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import string
from datetime import datetime, timedelta
from typing import Any

from fakecloud.core.errors import UserError
from fakecloud.store.core import (
    CAMERA_RETURNING,
    CAMERA_SELECT,
    StoreCore,
    camera_from_returned,
    camera_from_row,
)
from fakecloud.store.models import Camera, check_name, encode_json_object, normalise_mac, utc_now

CAMERA_ID_LIMIT = 2**40
P2P_KEY_LENGTH = 16
_P2P_KEY_ALPHABET = string.ascii_letters + string.digits
_PRUNE_PENDING = (
    "DELETE FROM cameras WHERE id IN (SELECT id FROM cameras WHERE owner_id IS NULL"
    " ORDER BY online DESC, COALESCE(last_seen, created) DESC, id DESC LIMIT -1 OFFSET ?)"
)
MAX_PAIRING_MINUTES = 24 * 60
# A camera's cloud alias follows its owner: `<account alias>:<MAC>`, the bare MAC when unowned.
_ALIAS_RULE = (
    "COALESCE((SELECT a.alias FROM accounts a WHERE a.id = {owner}) || ':' || {mac}, {mac})"
)
_REFRESH_CAMERA_ALIAS = (
    f"UPDATE cameras SET alias = {_ALIAS_RULE.format(owner='cameras.owner_id', mac='mac')}"
    " WHERE id = ?"
)
# One statement makes a camera as it will stay, and returns it: no update, no read after it.
_INSERT_CAMERA = (
    "INSERT INTO cameras (id, alias, mac, p2p_key, created, owner_id, reported_alias, name,"
    f" identity_hash) VALUES (:id, {_ALIAS_RULE.format(owner=':owner_id', mac=':mac')}, :mac,"
    f" :p2p_key, :created, :owner_id, :reported_alias, :name, :identity_hash) {CAMERA_RETURNING}"
)


class CameraRows(StoreCore):
    """Store's cameras and pairing windows."""

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
        account = self._require_account(owner) if owner is not None else None
        owner_id = account.id if account is not None else None
        with self._transaction() as db:
            # Looked up inside the write transaction, so two writers cannot both create it.
            existing = self.find_camera(mac=mac, alias=reported_alias)
            if existing is None:
                return self._insert_camera(
                    db,
                    mac,
                    owner=None if account is None else (account.id, account.login),
                    reported_alias=reported_alias,
                    name=name,
                )
            db.execute(
                "UPDATE cameras SET reported_alias = COALESCE(?, reported_alias),"
                " owner_id = COALESCE(?, owner_id), name = COALESCE(?, name) WHERE id = ?",
                (reported_alias, owner_id, name, existing.id),
            )
            db.execute(_REFRESH_CAMERA_ALIAS, (existing.id,))
        camera = self.get_camera(existing.id)
        assert camera is not None
        return camera

    def _insert_camera(
        self,
        db: sqlite3.Connection,
        mac: str,
        *,
        owner: tuple[int, str] | None = None,
        reported_alias: str | None = None,
        name: str | None = None,
        identity_hash: str | None = None,
    ) -> Camera:
        """A new camera row; `owner` is the account's (id, login)."""
        values: dict[str, Any] = {
            "mac": mac,
            "created": utc_now().isoformat(),
            "owner_id": None if owner is None else owner[0],
            "reported_alias": reported_alias,
            "name": name,
            "identity_hash": identity_hash,
        }
        # Ids are random (not 1, 2, 3...) because they appear in URLs and CX_DSTID: guessing a
        # neighbour's id should not be that easy. Collisions below 2**40 are rare; retry a few.
        for _ in range(8):
            values["id"] = secrets.randbelow(CAMERA_ID_LIMIT - 1) + 1
            values["p2p_key"] = random_text(P2P_KEY_LENGTH, _P2P_KEY_ALPHABET)
            try:
                row = db.execute(_INSERT_CAMERA, values).fetchone()
            except sqlite3.IntegrityError:
                continue
            return camera_from_returned(row, None if owner is None else owner[1])
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
            created = self._insert_camera(
                db,
                mac,
                reported_alias=reported_alias,
                identity_hash=_identity_hash(mac, identity_secret),
            )
            db.execute(_PRUNE_PENDING, (self._max_pending_cameras,))
        camera = self.get_camera(created.id)  # unless the cap dropped it at once
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

    def list_cameras(self, owner: str | None = None) -> list[Camera]:
        """Every camera, or only those of one account (case-insensitive)."""
        if owner is None:
            rows = self._query(f"{CAMERA_SELECT} ORDER BY c.created, c.id")
        else:
            rows = self._query(
                f"{CAMERA_SELECT} WHERE a.login_key = ? ORDER BY c.created, c.id",
                (owner.casefold(),),
            )
        return [camera_from_row(row) for row in rows]

    def forget_camera(self, camera_id: int) -> None:
        """Delete the camera and its events; the session log keeps its lines, unlinked."""
        with self._transaction() as db:
            removed = db.execute("DELETE FROM cameras WHERE id = ?", (camera_id,)).rowcount
        if not removed:
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
