"""What the store hands out (frozen records) and the pure checks on what it takes in."""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fakecloud.core.errors import UserError

MIN_PASSWORD_LENGTH = 8
# scrypt's cost grows with the input only a little, but an unbounded password is still a free
# way to make the server hash megabytes; nobody types more than this.
MAX_PASSWORD_LENGTH = 1024
MAX_LOGIN_LENGTH = 128
MAX_NAME_LENGTH = 200
MAX_SETTINGS_BYTES = 64 * 1024
# What a pending (unowned) camera reported is kept up to this size: anyone may create one.
MAX_PENDING_REPORT_BYTES = 4 * 1024
TRUNCATED_MARK = "_truncated"

_MAC_SEPARATORS = re.compile(r"[:\-.\s]")
_MAC_DIGITS = re.compile(r"[0-9A-Fa-f]{12}")
# An account alias (Tend's owner alias, `oc9` in the Belkin record) is a letter then letters and
# digits, at a fixed length: never all digits (CX_DSTID reads a leading number as a camera id)
# and never the 9-letter "fakecloud" (the built-in viewer's media id).
ACCOUNT_ALIAS_LENGTH = 6
_ALIAS_FIRST = string.ascii_lowercase
_ALIAS_REST = string.ascii_lowercase + string.digits
ACCOUNT_ALIAS_FORM = re.compile(rf"[a-z][a-z0-9]{{{ACCOUNT_ALIAS_LENGTH - 1}}}")


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    login: str
    created: datetime
    alias: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An issued access token; the token itself is never stored, only its hash."""

    id: int
    login: str
    partner: str
    created: datetime


@dataclass(frozen=True, slots=True)
class Camera:
    id: int
    # The cloud's alias: `<owner's account alias>:<MAC>`, or the bare MAC while unowned.
    alias: str
    mac: str
    p2p_key: str
    owner: str | None
    name: str | None
    # The alias the camera itself sent at login, if any; CX_DSTID may name it too.
    reported_alias: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    online: bool = False
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_ip: str | None = None
    firmware: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    created: datetime | None = None
    # Hash of the identity secret its login carried when first bound (never shown).
    identity_hash: str | None = field(default=None, repr=False)
    # Paired by its owner although its login carries no secret: it cannot prove who it is.
    accepts_unproven: bool = False

    @property
    def pending(self) -> bool:
        """No owner yet: listed and recorded, but given nothing of an owner's."""
        return self.owner is None

    @property
    def proof(self) -> str:
        """What a later login must show to speak for this camera (docs/broker.md, Pairing)."""
        if self.identity_hash:
            return "identity secret"
        return "none" if self.accepts_unproven else "owner credentials"

    def to_json(self, *, include_key: bool = False) -> dict[str, Any]:
        """JSON-ready fields; the p2p key (the camera's AES key) only when asked for."""
        record: dict[str, Any] = {
            "id": self.id,
            "pending": self.pending,
            "proof": self.proof,
            "alias": self.alias,
            "reported_alias": self.reported_alias,
            "mac": self.mac,
            "name": self.name,
            "owner": self.owner,
            "online": self.online,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "last_ip": self.last_ip,
            "firmware": self.firmware,
            "settings": self.settings,
            "properties": self.properties,
            "created": _iso(self.created),
        }
        if include_key:
            record["p2p_key"] = self.p2p_key
        return record


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    camera_id: int | None
    time: datetime
    kind: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "time": _iso(self.time),
            "kind": self.kind,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """One line of the session log: who logged in or out, from where, as what."""

    id: int
    time: datetime
    camera_id: int | None
    login: str | None
    role: str
    peer: str
    event: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": _iso(self.time),
            "camera_id": self.camera_id,
            "login": self.login,
            "role": self.role,
            "peer": self.peer,
            "event": self.event,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def utc_now() -> datetime:
    return datetime.now(UTC)


def normalise_mac(text: str) -> str:
    """'001122aabbcc', '00-11-22-AA-BB-CC', '0011.22aa.bbcc' -> '00:11:22:AA:BB:CC'."""
    digits = _MAC_SEPARATORS.sub("", text.strip())
    if not _MAC_DIGITS.fullmatch(digits):
        raise UserError(f"{text!r} is not a MAC address (12 hex digits)")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)).upper()


def new_account_alias() -> str:
    """A fresh random account alias (the store retries on the rare collision)."""
    rest = (secrets.choice(_ALIAS_REST) for _ in range(ACCOUNT_ALIAS_LENGTH - 1))
    return secrets.choice(_ALIAS_FIRST) + "".join(rest)


def check_login(login: str) -> str:
    if not login or len(login) > MAX_LOGIN_LENGTH:
        raise UserError(f"a login has 1 to {MAX_LOGIN_LENGTH} characters")
    if login != login.strip() or not login.isprintable():
        raise UserError("a login has no leading/trailing spaces or control characters")
    if ":" in login:
        # HTTP Basic splits 'login:password' at the first colon.
        raise UserError("a login cannot contain ':'")
    return login


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    return password


def check_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise UserError(f"a camera name has at most {MAX_NAME_LENGTH} printable characters")
    return name


def encode_json_object(value: Any, *, what: str = "settings") -> str:
    """A dict of JSON values as compact text; anything else is a UserError."""
    if not isinstance(value, dict):
        raise UserError(f"{what} must be a JSON object")
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise UserError(f"{what} must hold only JSON values: {error}") from None
    if len(text.encode()) > MAX_SETTINGS_BYTES:
        raise UserError(f"{what} are larger than {MAX_SETTINGS_BYTES} bytes")
    return text


def decode_json_object(text: str | None) -> dict[str, Any]:
    """The stored text back as a dict; a value that is not a JSON object reads as empty."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def report_as_json(properties: dict[str, Any] | None) -> str:
    """What a camera reported, stored whatever it holds: odd values become their text."""
    return json.dumps(properties or {}, separators=(",", ":"), default=str)


def bounded_report_as_json(properties: dict[str, Any] | None, limit: int) -> str:
    """`report_as_json`, keeping only the first entries that fit in `limit` bytes; a cut report
    says so with `"_truncated": true`."""
    text = report_as_json(properties)
    if len(text.encode()) <= limit:
        return text
    kept: dict[str, Any] = {TRUNCATED_MARK: True}
    size = len(report_as_json(kept).encode())
    for key, value in (properties or {}).items():
        entry = len(report_as_json({key: value}).encode()) - 1  # its "key":value and a comma
        if size + entry > limit:
            break
        kept[key] = value
        size += entry
    return report_as_json(kept)
