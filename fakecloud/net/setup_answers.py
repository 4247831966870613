"""The camera's setup-mode HTTP answers (docs/protocol.md section 5): pure parsers (text in,
objects out) and the encoders the setup-mode simulator answers with.

Section 5 gives the fields and the words [C] but not every byte of layout; where a layout is
inferred ([I]) the parser accepts every reasonable form and says so here and in
docs/setup-camera.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# The labels of one getApSitesInfo line, in the order the camera writes them [C].
SITE_LABELS = ("CHANNEL", "SSID", "MAC", "SECURITY", "SIGNAL", "WPS")
# [I] A line as `CHANNEL:6 SSID:Home net MAC:aa:bb:.. SECURITY:WPA2PSK/AES SIGNAL:80 WPS:NO`:
# a value runs to the next label, so SSIDs with spaces and MACs with colons survive.
_SITE_LABEL = re.compile(r"(?:^|\s)(" + "|".join(SITE_LABELS) + r")\s*:\s*", re.IGNORECASE)
MAX_SITES = 256
MAX_SETTINGS = 256
_SETTING = re.compile(r"([A-Za-z_][\w.\-]{0,63})\s*[=:]\s*\"?([^\"\r\n&;<>]{0,256})")

VerifyOutcome = Literal["success", "fail to get ip", "fail to dns", "fail to ping", "pending"]
VERIFY_WORDS: tuple[VerifyOutcome, ...] = (
    "success",
    "fail to get ip",
    "fail to dns",
    "fail to ping",
)
# [C] the error numbers of createAccount, login and camRegister.
ACCOUNT_ERRORS = (
    "wrong e-mail or password",
    "account disabled",
    "account not validated",
    "no such account",
    "service error",
    "account already exists",
    "account locked",
    "cannot connect to the cloud",
    "timed out reaching the cloud",
)
NO_SUCH_ACCOUNT = 3
ALREADY_EXISTS = 5
UNSETUP_WORD = "UnsetupMode"


@dataclass(frozen=True)
class Site:
    """One Wi-Fi network the camera sees."""

    channel: str
    ssid: str
    bssid: str
    security: str
    signal: str
    wps: str

    @property
    def auth_mode(self) -> str:
        """[I] The part before '/' of SECURITY (Ralink style `WPA2PSK/AES`): apcli_mode."""
        mode = self.security.split("/", 1)[0].strip().upper()
        return "OPEN" if mode in ("", "NONE") else mode

    @property
    def encryption(self) -> str:
        """[I] The part after '/' (apcli_enc); NONE for an open network."""
        head, _, tail = self.security.partition("/")
        if tail.strip():
            return tail.strip().upper()
        return "NONE" if head.strip().upper() in ("", "NONE", "OPEN") else "AES"


def parse_sites(text: str) -> list[Site]:
    """Networks from a getApSitesInfo answer; lines without an SSID label are skipped."""
    sites = []
    for line in text.splitlines():
        marks = list(_SITE_LABEL.finditer(line))
        if not marks:
            continue
        values: dict[str, str] = {}
        ends = [mark.start() for mark in marks[1:]] + [len(line)]
        for mark, end in zip(marks, ends, strict=True):
            values.setdefault(mark.group(1).upper(), line[mark.end() : end].strip())
        if values.get("SSID"):
            sites.append(
                Site(*(values.get(label, "") for label in SITE_LABELS))  # in SITE_LABELS order
            )
        if len(sites) == MAX_SITES:
            break
    return sites


def format_sites(sites: list[Site]) -> str:
    """The simulator's getApSitesInfo answer: CRLF-separated labelled lines."""
    return "".join(
        f"CHANNEL:{s.channel} SSID:{s.ssid} MAC:{s.bssid} SECURITY:{s.security} "
        f"SIGNAL:{s.signal} WPS:{s.wps}\r\n"
        for s in sites
    )


def parse_verify(text: str) -> VerifyOutcome:
    """verifyApcliMode's answer; anything else (an empty body, "connecting") means not yet [I]."""
    lowered = " ".join(text.lower().split())
    return next((word for word in VERIFY_WORDS if word in lowered), "pending")


@dataclass(frozen=True)
class AccountAnswer:
    """createAccount, login or camRegister: `success`, or an error number 0-8 [C]."""

    success: bool
    error: int | None = None
    text: str = ""

    @property
    def meaning(self) -> str:
        if self.success:
            return "success"
        if self.error is not None:
            return ACCOUNT_ERRORS[self.error]
        return f"an answer not known yet: {self.text[:80]!r}"


def parse_account_answer(text: str) -> AccountAnswer:
    stripped = text.strip()
    if "success" in stripped.lower():
        return AccountAnswer(True, text=stripped[:200])
    digits = re.fullmatch(r"(?:error\s*[:=]?\s*)?(\d)", stripped, re.IGNORECASE)
    if digits and int(digits.group(1)) < len(ACCOUNT_ERRORS):
        return AccountAnswer(False, int(digits.group(1)), stripped)
    return AccountAnswer(False, None, stripped[:200])


def parse_settings(text: str) -> dict[str, str]:
    """[U] getSystemSettings' layout: every `key=value` or `key: value` pair found (the first of
    each key), whatever separates them; at most MAX_SETTINGS."""
    found: dict[str, str] = {}
    for match in _SETTING.finditer(text):
        found.setdefault(match.group(1), match.group(2).strip())
        if len(found) == MAX_SETTINGS:
            break
    return found


def leaves_setup_mode(text: str) -> bool:
    """apcamMode's answer starts with UnsetupMode [C] (what follows holds secrets)."""
    return text.lstrip().startswith(UNSETUP_WORD)
