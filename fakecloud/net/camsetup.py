"""www.seedonk.com/camsetup/retrievecamera.php: the WeMo side's camera-name lookup (PROTOCOL.md 2).

Pure functions: the key the firmware sends, the reply it can parse, and a model of its parser.
"""

from __future__ import annotations

import hashlib
import hmac

# The constant the firmware hashes into every key (docs/protocol.md section 2, [C]).
_FIRMWARE_SECRET = "s4P+cs&qiv-u-15hkdy5t0("
# Characters the firmware's reply parser cannot carry: it splits on ':' and does not unescape.
_UNSAFE_IN_NAME = frozenset(':"\\')
MAX_NAME_LENGTH = 64


def camera_lookup_key(login: str, mac: str) -> str:
    """hex MD5 of (first 16 characters of login + MAC + hex MD5 of the firmware constant)."""
    inner = hashlib.md5(_FIRMWARE_SECRET.encode()).hexdigest()
    return hashlib.md5((login[:16] + mac + inner).encode("latin-1", "replace")).hexdigest()


def key_is_valid(login: str, mac: str, key: str) -> bool:
    return hmac.compare_digest(camera_lookup_key(login, mac), key.strip().lower())


def firmware_safe_name(name: str) -> str:
    """The name with everything the firmware's parser would mangle removed."""
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in _UNSAFE_IN_NAME)
    return cleaned.strip()[:MAX_NAME_LENGTH]


def camera_name_reply(name: str) -> bytes:
    """A one-field JSON object and a newline, the only shape the firmware reads correctly.

    An empty name gives an empty body, which makes the camera fall back to its own default name.
    """
    safe = firmware_safe_name(name)
    return f'{{"name":"{safe}"}}\n'.encode() if safe else b""


def firmware_read_name(body: bytes) -> str:
    """What the camera makes of a reply: the 2nd ':' piece minus its first and last 3 chars."""
    pieces = body.split(b":")  # the firmware works on bytes; names travel as UTF-8
    if len(pieces) < 2:
        return ""
    return pieces[1][1:-3].decode("utf-8", "replace")
