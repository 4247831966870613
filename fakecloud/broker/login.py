"""Reading a login frame: who is it (app or camera), which credentials, which device.

The app's login is confirmed from public Tend clients; the camera's is not ([U] in PROTOCOL.md),
so every name below that only a camera would send is a guess kept in one place, and the broker
records whatever a real camera sends instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from fakecloud.core.errors import UserError
from fakecloud.net.properties import Properties
from fakecloud.store.models import normalise_mac as store_mac

USER_KEYS = ("CX_UNAME", "username", "login", "user")
SECRET_KEYS = ("CX_PASSWD", "password", "passwd")
MAC_KEYS = ("mac", "MAC", "CX_MAC", "device-mac", "deviceMac", "mac_address")
ALIAS_KEYS = ("alias", "CX_ALIAS", "deviceId", "device-id", "CX_DEVICEID")
FIRMWARE_KEYS = ("firmware", "firmware-version", "fw_version", "sw_version", "current_version")
# Secret-like fields a camera's own login might carry instead of an owner's password (the real
# form is [U]): kept only as a hash, the camera's identity proof on later logins.
IDENTITY_SECRET_KEYS = (
    "secret",
    "device-secret",
    "deviceSecret",
    "device_secret",
    "CX_SECRET",
    "CX_KEY",
    "CX_TOKEN",
    "token",
    "auth",
    "authkey",
    "key",
)
# Longer identity values (alias, firmware) are not names but junk: they are ignored.
MAX_IDENTITY_LENGTH = 128
# What the app login reports about itself; kept in the session log.
APP_INFO_KEYS = (
    "partner-id",
    "client_type",
    "sdk-version",
    "sdk_version",
    "os_name",
    "os_version",
    "app-id",
    "current_version",
)
# `<partner>.accessToken:<token>` (Tend apps put an access token where the password goes).
TOKEN_FORM = re.compile(r"^[A-Za-z0-9_-]{1,64}\.accessToken:.+$", re.DOTALL)

Role = Literal["app", "camera"]


def normalise_mac(text: str) -> str | None:
    """A login's MAC in the store's spelling, or None when it is not a MAC."""
    try:
        return store_mac(text)
    except UserError:
        return None


def _first(keys: tuple[str, ...], *blocks: dict[str, str]) -> str | None:
    """The first non-empty value of `keys`, block by block (each block's last value wins)."""
    for block in blocks:
        for key in keys:
            value = block.get(key)
            if value:
                return value
    return None


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What a login frame asks for; `known_form` is False when it carries no credentials."""

    role: Role
    login: str
    secret: str | None
    mac: str | None
    alias: str | None
    firmware: str | None
    reported: dict[str, str] = field(default_factory=dict)
    # A secret-like field of a login without account credentials (see IDENTITY_SECRET_KEYS).
    identity_secret: str | None = None

    @property
    def known_form(self) -> bool:
        return self.secret is not None

    @property
    def is_token(self) -> bool:
        return self.secret is not None and bool(TOKEN_FORM.match(self.secret))

    def app_info(self) -> dict[str, str]:
        return {key: self.reported[key] for key in APP_INFO_KEYS if self.reported.get(key)}


def read_login(options: Properties, body: Properties) -> LoginRequest:
    """Classify a login: anything naming a device is a camera, everything else an app.

    Credentials are taken from the options block only: the Tend body repeats `CX_UNAME=` empty.
    """
    # Read as dicts once: a login storm reads thousands of these a second.
    options_values, body_values = options.as_dict(), body.as_dict()
    raw_mac = _first(MAC_KEYS, options_values, body_values)
    mac = normalise_mac(raw_mac) if raw_mac else None
    alias = _bounded(_first(ALIAS_KEYS, options_values, body_values))
    reported = body_values | options_values
    for key in (*SECRET_KEYS, *IDENTITY_SECRET_KEYS):
        # Security consideration: secrets never travel further than this object.
        reported.pop(key, None)
    return LoginRequest(
        role="camera" if mac or alias else "app",
        login=_first(USER_KEYS, options_values) or "",
        secret=_first(SECRET_KEYS, options_values),
        mac=mac,
        alias=alias,
        firmware=(
            _bounded(_first(FIRMWARE_KEYS, options_values, body_values)) if mac or alias else None
        ),
        reported=reported,
        identity_secret=_first(IDENTITY_SECRET_KEYS, options_values, body_values),
    )


def _bounded(value: str | None) -> str | None:
    return value if value is not None and len(value) <= MAX_IDENTITY_LENGTH else None
