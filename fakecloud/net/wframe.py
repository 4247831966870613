"""`w0`/`w1`/`wa` media sub-frames carried in RTP payloads (docs/protocol.md §4.3).

Layout (Tend, confirmed by both public clients)::

    0 magic   "w1" video, "wa" audio, "w0" (NetCam 2012, see below)
    2 length  u32 LE: the bytes that follow (meta + content)
    6 meta    4 bytes; encrypted when the top 3 bits of meta[0] are 001
              (R names the others: meta[1] size index, meta[2] payload marker, meta[3] key frame)
   10 content encrypted: 16-byte IV + AES-128-CBC ciphertext (key = the camera's 16-character
              p2pKey, PKCS#5 padding); otherwise the plaintext itself

The plaintext is a run of records `[u32 LE length][bytes]`. Tend records hold H.264 with its
Annex-B start code already in place (R: "the bytes ALREADY start with Annex B start code"; K splits
each record on start codes), so a record is kept verbatim when it has one.

`w0` is NetCam 2012 traffic. Taking it to be `w1`'s unencrypted ancestor is a hypothesis: when a
`w0` sub-frame's length field does not fit, the parser keeps everything after the magic as a
legacy payload instead of failing, and the media type is decided from the content (JPEG's SOI
`FF D8` versus H.264 NAL units). The camera's first 2012 packet also began `w0` but with another
shape: 16 session bytes (the first 8 equal the camera's CXNet `from`) and an 8-byte id shaped
like the CXNet `to`; `parse_w0_hello` reads that shape.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fakecloud.media.frames import Codec

LENGTH = struct.Struct("<I")
HEADER_SIZE = 10  # magic + length + meta
META_SIZE = 4
KEY_SIZE = 16
IV_SIZE = 16
BLOCK_SIZE = 16
ENCRYPTED_FLAG = 0x20  # top three bits 001
ANNEX_B_START = (b"\x00\x00\x00\x01", b"\x00\x00\x01")
JPEG_SOI = b"\xff\xd8"


class WFrameError(ValueError):
    """The bytes are not a well-formed sub-frame, or cannot be decrypted or built."""


class WKind(StrEnum):
    W0 = "w0"
    W1 = "w1"
    WA = "wa"


@dataclass(frozen=True, slots=True)
class SubFrame:
    kind: WKind
    meta: bytes
    content: bytes  # IV + ciphertext when encrypted, else plaintext
    legacy: bool = False  # a `w0` whose length field did not fit: content is all after the magic

    @property
    def encrypted(self) -> bool:
        return not self.legacy and (self.meta[0] >> 5) == 1


@dataclass(frozen=True, slots=True)
class W0Hello:
    session: bytes  # 16 bytes; the first 8 match the camera's CXNet `from`
    peer_id: int  # u64 LE, shaped like the CXNet `to`
    rest: bytes


def identify(data: bytes) -> WKind | None:
    try:
        return WKind(data[:2].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def parse_subframes(payload: bytes) -> list[SubFrame]:
    """Every sub-frame in an RTP payload (Tend sends one; R accepts several back to back)."""
    frames: list[SubFrame] = []
    offset = 0
    while offset < len(payload):
        kind = identify(payload[offset : offset + 2])
        if kind is None:
            raise WFrameError(f"no w0/w1/wa magic at offset {offset}")
        end = None
        if len(payload) - offset >= HEADER_SIZE:
            (length,) = LENGTH.unpack_from(payload, offset + 2)
            if length >= META_SIZE and offset + 6 + length <= len(payload):
                end = offset + 6 + length
        if end is None:
            if kind is WKind.W0:
                frames.append(SubFrame(kind, b"", payload[offset + 2 :], legacy=True))
                break
            raise WFrameError(f"{kind} sub-frame at offset {offset} is cut short")
        meta = payload[offset + 6 : offset + HEADER_SIZE]
        frames.append(SubFrame(kind, meta, payload[offset + HEADER_SIZE : end]))
        offset = end
    if not frames:
        raise WFrameError("empty payload")
    return frames


def make_meta(*, encrypted: bool, keyframe: bool) -> bytes:
    """Meta bytes as the simulator sends them: the encryption bits and R's key-frame byte."""
    return bytes((ENCRYPTED_FLAG if encrypted else 0, 0, 0, int(keyframe)))


def build_subframe(kind: WKind, meta: bytes, content: bytes) -> bytes:
    if len(meta) != META_SIZE:
        raise WFrameError(f"meta must be {META_SIZE} bytes, got {len(meta)}")
    return kind.encode("ascii") + LENGTH.pack(META_SIZE + len(content)) + meta + content


def p2p_key_bytes(text: str | None) -> bytes | None:
    """A camera's 16-character p2pKey as the AES key; None when the text cannot be one."""
    key = (text or "").encode("latin-1", "replace")
    return key if len(key) == KEY_SIZE else None


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise WFrameError(f"AES key must be {KEY_SIZE} bytes, got {len(key)}")


def seal(plaintext: bytes, key: bytes, iv: bytes) -> bytes:
    """IV + AES-128-CBC ciphertext of the PKCS#5-padded plaintext."""
    _check_key(key)
    if len(iv) != IV_SIZE:
        raise WFrameError(f"IV must be {IV_SIZE} bytes, got {len(iv)}")
    padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def unseal(content: bytes, key: bytes) -> bytes:
    _check_key(key)
    ciphertext = content[IV_SIZE:]
    if len(content) < IV_SIZE + BLOCK_SIZE or len(ciphertext) % BLOCK_SIZE:
        raise WFrameError(f"{len(content)} bytes cannot be an IV plus whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(content[:IV_SIZE])).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as error:
        # Bad padding nearly always means a wrong p2pKey.
        raise WFrameError("bad PKCS#5 padding after decryption (wrong key?)") from error


def open_subframe(subframe: SubFrame, key: bytes | None) -> bytes:
    """The sub-frame's plaintext, decrypting when its meta says so."""
    if not subframe.encrypted:
        return subframe.content
    if key is None:
        raise WFrameError("encrypted sub-frame but no p2pKey configured for this camera")
    return unseal(subframe.content, key)


def split_records(plaintext: bytes) -> list[bytes]:
    records: list[bytes] = []
    offset = 0
    while offset < len(plaintext):
        if len(plaintext) - offset < LENGTH.size:
            raise WFrameError(f"record length cut short at offset {offset}")
        (length,) = LENGTH.unpack_from(plaintext, offset)
        offset += LENGTH.size
        if length == 0 or offset + length > len(plaintext):
            raise WFrameError(f"record of {length} bytes at offset {offset} does not fit")
        records.append(plaintext[offset : offset + length])
        offset += length
    return records


def join_records(records: list[bytes]) -> bytes:
    if any(not record for record in records):
        raise WFrameError("records must not be empty")
    return b"".join(LENGTH.pack(len(record)) + record for record in records)


def detect_codec(media: bytes) -> Codec | None:
    """JPEG from its SOI marker; H.264 from a start code or a plausible NAL header."""
    if media.startswith(JPEG_SOI):
        return "jpeg"
    if media.startswith(ANNEX_B_START):
        return "h264"
    if media and not media[0] & 0x80 and 1 <= media[0] & 0x1F <= 23:
        return "h264"
    return None


def parse_w0_hello(data: bytes) -> W0Hello:
    if identify(data) is not WKind.W0 or len(data) < 26:
        raise WFrameError("not a w0 hello (magic, 16-byte session, 8-byte id)")
    (peer_id,) = struct.unpack_from("<Q", data, 18)
    return W0Hello(session=data[2:18], peer_id=peer_id, rest=data[26:])
