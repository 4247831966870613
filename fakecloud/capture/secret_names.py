"""How capture redaction recognises a secret: by the name of the field or key that holds it,
and where its value ends. Shared by record-time blanking (credentials.py), export-time
pseudonyms (redact.py) and the web request recorder."""

from __future__ import annotations

import functools
import re
from enum import StrEnum


class Category(StrEnum):
    PASSWORD = "PASSWORD"
    TOKEN = "TOKEN"
    P2P_KEY = "P2PKEY"
    MAC = "MAC"


MIN_LITERAL = 4  # shorter secrets are only replaced where they are named, not everywhere
KEY = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z][A-Za-z0-9_.\-]{0,63})\"?[ \t]*[=:][ \t]*(\"?)")
QUOTED_VALUE = re.compile(r"(?:[^\"\\]|\\.)*", re.DOTALL)
# A password ends only at a line or field end (it may hold spaces, '+', ','); keys and tokens
# are single words.
PASSWORD_VALUE = re.compile(r"[^\r\n\0&]*")
# "psk": a Wi-Fi key (the camera's apcli_wpapsk), which setup answers may echo.
PASSWORD_WORDS = ("pass", "pwd", "secret", "authorization", "psk")
TOKEN_WORDS = ("token", "cookie")


# Every captured record asks this of each of its field names, and the names repeat (a camera
# login's record asked it 20 times, a third of the record's cost); bounded, since names come
# from the network.
@functools.lru_cache(maxsize=4096)
def classify_key(name: str) -> Category | None:
    """Which kind of secret a field or key with this name holds, if any."""
    key = name.casefold()
    if any(word in key for word in PASSWORD_WORDS):
        return Category.PASSWORD
    if any(word in key for word in TOKEN_WORDS):
        return Category.TOKEN
    if key == "aes" or any(word in key for word in ("p2pkey", "p2p_key", "p2p-key", "aes_key")):
        return Category.P2P_KEY
    if "mac" in key:
        return Category.MAC
    return None
