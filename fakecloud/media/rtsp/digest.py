"""RTSP Digest authentication (RFC 2617, MD5), opt-in with FAKECLOUD_RTSP_DIGEST, for the one
secret fakecloud can recompute: the account's ONVIF password (fakecloud/onvif/auth.py).

Why only that secret: a Digest answer is MD5(MD5(login:realm:secret):nonce:MD5(method:uri)), so
the server needs the secret itself. Passwords are kept as scrypt hashes and tokens as SHA-256
hashes, so neither can be checked; the ONVIF password is derived from a key in the data folder,
so it can. Why opt-in: ffmpeg (Frigate, go2rtc's ffmpeg source) answers Digest whenever it is
offered, so offering it would break every `rtsp://login:TOKEN@` URL; turn it on only for NVRs
that need Digest (docs/rtsp.md, Who may watch).

Nonces are stateless: the issue time and an HMAC of it under a per-process key, valid for
NONCE_SECONDS, then answered `stale=TRUE` so a client signs again without asking its user.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from fakecloud.media.rtsp.codec import RtspError

NONCE_SECONDS = 600
_MAC_CHARS = 32
# name=value or name="value" (no escaped quotes: no real client sends them in these fields).
_PARAMETER = re.compile(r'\s*([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|([^\s,]*))\s*,?')
MAX_HEADER = 2048


class StaleNonce(RtspError):
    """A once-valid nonce that has expired: 401 with `stale=TRUE` in the new challenge."""

    def __init__(self) -> None:
        super().__init__(401, "the digest nonce has expired; sign again")


@dataclass(frozen=True, slots=True)
class DigestAnswer:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None

    @classmethod
    def parse(cls, header: str | None) -> DigestAnswer | None:
        """The fields of `Authorization: Digest ...`, or None if it is not a whole one."""
        if not header or len(header) > MAX_HEADER or header[:7].lower() != "digest ":
            return None
        fields = {
            match.group(1).lower(): match.group(2) if match.group(2) is not None else match.group(3)
            for match in _PARAMETER.finditer(header[7:])
        }
        try:
            return cls(
                username=fields["username"],
                realm=fields["realm"],
                nonce=fields["nonce"],
                uri=fields["uri"],
                response=fields["response"].lower(),
                qop=fields.get("qop"),
                nc=fields.get("nc"),
                cnonce=fields.get("cnonce"),
            )
        except KeyError:
            return None

    def proves(self, secret: str, method: str) -> bool:
        """Whether the answer was computed with `secret` for this request (constant time)."""
        ha1 = _md5(f"{self.username}:{self.realm}:{secret}")
        ha2 = _md5(f"{method}:{self.uri}")
        if self.qop == "auth" and self.nc is not None and self.cnonce is not None:
            expected = _md5(f"{ha1}:{self.nonce}:{self.nc}:{self.cnonce}:auth:{ha2}")
        else:
            expected = _md5(f"{ha1}:{self.nonce}:{ha2}")
        return hmac.compare_digest(expected.encode(), self.response.encode())


def _md5(text: str) -> str:
    # MD5 because RFC 2617 Digest is what RTSP clients speak; not used for storage.
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


class DigestNonces:
    """Issues and checks this process's nonces."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._key = secrets.token_bytes(32)
        self._clock = clock

    def _mac(self, issued: str) -> str:
        return hmac.new(self._key, issued.encode(), hashlib.sha256).hexdigest()[:_MAC_CHARS]

    def challenge(self, realm: str, *, stale: bool = False) -> str:
        issued = f"{int(self._clock()):x}"
        nonce = issued + self._mac(issued)
        return f'Digest realm="{realm}", nonce="{nonce}", algorithm=MD5' + (
            ", stale=TRUE" if stale else ""
        )

    def check(self, nonce: str) -> None:
        """RtspError 401 for a nonce not made here, StaleNonce for an expired one."""
        issued, mac = nonce[:-_MAC_CHARS], nonce[-_MAC_CHARS:]
        if not issued or not hmac.compare_digest(self._mac(issued).encode(), mac.encode()):
            raise RtspError(401, "unknown digest nonce")
        try:
            age = self._clock() - int(issued, 16)
        except ValueError:
            raise RtspError(401, "unknown digest nonce") from None
        if not -5 <= age <= NONCE_SECONDS:
            raise StaleNonce()
