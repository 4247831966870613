"""CXNet frames, the Seedonk/Tend control protocol (docs/protocol.md section 3).

Layout, all little-endian, 27-byte fixed header::

    0 marker 'A' | 1 version | 2 total_len u16 (excludes the body) | 4 hlen u16 (session block)
    6 direction | 7 body_len u32 | 11 service u16 | 13 action u16 | 15 crypto u16
    17 server_id (2 bytes, "**") | 19 to u64 | 27 session (hlen bytes) | options | body

The two public Tend clients name these fields differently (R: name/from/options/data,
K: marker/options/source/body); both read the same bytes, so one codec serves both.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

MARKER = 0x41
HEADER = struct.Struct("<BBHHBIHHH2sQ")
HEADER_SIZE = HEADER.size  # 27
SESSION_SIZE = 16
# hlen is a u16 on the wire; anything beyond a few blocks is garbage, not a longer session id.
MAX_SESSION_SIZE = 256
DEFAULT_MAX_BODY = 1 << 20
# Bytes a sniffer needs before looks_like_cxnet can decide (marker through hlen).
SNIFF_BYTES = 6
# Versions seen in public traffic: 1 (R's login), 2, 3 (everything else).
KNOWN_VERSIONS = range(1, 4)


class CXNetError(ValueError):
    """The bytes are not a well-formed CXNet frame (or a frame cannot be encoded)."""


class Action(IntEnum):
    ERROR = 1
    COMMAND = 411
    CHATMID = 436
    VIDEOMID = 438
    VIDEO = 508
    AUDIO = 509
    LOGIN = 519
    KEEPALIVE = 526


@dataclass(frozen=True, slots=True)
class Frame:
    """One CXNet frame; `options` is the properties block after the session, `body` the data."""

    action: int
    session: bytes = bytes(SESSION_SIZE)
    options: bytes = b""
    body: bytes = b""
    version: int = 3
    service: int = 121
    crypto: int = 0
    server_id: bytes = b"**"
    to: int = 0
    direction: int = 0

    @property
    def action_name(self) -> str:
        try:
            return Action(self.action).name.lower()
        except ValueError:
            return str(self.action)


def _check_session_length(length: int) -> None:
    if length < SESSION_SIZE or length % SESSION_SIZE or length > MAX_SESSION_SIZE:
        raise CXNetError(
            f"session block of {length} bytes (must be a multiple of 16, 16..{MAX_SESSION_SIZE})"
        )


def encode_frame(frame: Frame) -> bytes:
    """Serialise a frame; raises CXNetError when a field does not fit its wire width."""
    _check_session_length(len(frame.session))
    if len(frame.server_id) != 2:
        raise CXNetError("server_id must be exactly 2 bytes")
    total_len = HEADER_SIZE + len(frame.session) + len(frame.options)
    if total_len > 0xFFFF:
        raise CXNetError(f"options block of {len(frame.options)} bytes does not fit total_len")
    try:
        header = HEADER.pack(
            MARKER,
            frame.version,
            total_len,
            len(frame.session),
            frame.direction,
            len(frame.body),
            frame.service,
            frame.action,
            frame.crypto,
            frame.server_id,
            frame.to,
        )
    except struct.error as error:
        raise CXNetError(f"frame field out of range: {error}") from None
    return b"".join((header, frame.session, frame.options, frame.body))


def _frame_size(
    header: bytes | bytearray | memoryview, max_body: int, max_frame: int | None = None
) -> tuple[int, int, int]:
    """Validate a 27-byte header; return (total_len, hlen, body_len)."""
    (marker, _, total_len, hlen, _, body_len, *_) = HEADER.unpack_from(header)
    if marker != MARKER:
        raise CXNetError(f"bad marker 0x{marker:02x} (expected 0x41)")
    _check_session_length(hlen)
    if total_len < HEADER_SIZE + hlen:
        raise CXNetError(f"total_len {total_len} shorter than header and session block")
    if body_len > max_body:
        raise CXNetError(f"body of {body_len} bytes exceeds the {max_body}-byte limit")
    if max_frame is not None and total_len + body_len > max_frame:
        raise CXNetError(
            f"frame of {total_len + body_len} bytes exceeds the {max_frame}-byte limit"
        )
    return total_len, hlen, body_len


def _build(data: bytes | bytearray | memoryview, total_len: int, hlen: int, body_len: int) -> Frame:
    (_, version, _, _, direction, _, service, action, crypto, server_id, to) = HEADER.unpack_from(
        data
    )
    session_end = HEADER_SIZE + hlen
    return Frame(
        action=action,
        session=bytes(data[HEADER_SIZE:session_end]),
        options=bytes(data[session_end:total_len]),
        body=bytes(data[total_len : total_len + body_len]),
        version=version,
        service=service,
        crypto=crypto,
        server_id=bytes(server_id),
        to=to,
        direction=direction,
    )


def decode_frame(data: bytes, max_body: int = DEFAULT_MAX_BODY) -> Frame:
    """Decode exactly one frame; short input or trailing bytes are errors."""
    if len(data) < HEADER_SIZE:
        raise CXNetError(f"{len(data)} bytes is shorter than the 27-byte header")
    total_len, hlen, body_len = _frame_size(data, max_body)
    if len(data) != total_len + body_len:
        raise CXNetError(f"frame declares {total_len + body_len} bytes but {len(data)} were given")
    return _build(data, total_len, hlen, body_len)


class FrameDecoder:
    """Splits a TCP byte stream into frames, whatever the read boundaries.

    After a CXNetError the stream has lost its framing; the caller must drop the connection.
    `max_frame`, when set, bounds a whole frame (header, session, options and body): the most
    the decoder buffers beyond one read. Callers may change both limits between feeds.
    """

    def __init__(self, max_body: int = DEFAULT_MAX_BODY, max_frame: int | None = None) -> None:
        self.max_body = max_body
        self.max_frame = max_frame
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        start = 0
        view = memoryview(self._buffer)
        try:
            while len(self._buffer) - start >= HEADER_SIZE:
                total_len, hlen, body_len = _frame_size(view[start:], self.max_body, self.max_frame)
                end = start + total_len + body_len
                if end > len(self._buffer):
                    break
                frames.append(_build(view[start:end], total_len, hlen, body_len))
                start = end
        finally:
            view.release()
        del self._buffer[:start]
        return frames


def looks_like_cxnet(prefix: bytes) -> bool:
    """True when the first SNIFF_BYTES bytes of a connection read as a CXNet header."""
    if len(prefix) < SNIFF_BYTES or prefix[0] != MARKER or prefix[1] not in KNOWN_VERSIONS:
        return False
    total_len: int
    hlen: int
    total_len, hlen = struct.unpack_from("<HH", prefix, 2)
    return (
        SESSION_SIZE <= hlen <= MAX_SESSION_SIZE
        and hlen % SESSION_SIZE == 0
        and total_len >= HEADER_SIZE + hlen
    )


def looks_like_w0(prefix: bytes) -> bool:
    """True for the NetCam's first media packet (`w0` followed by its 16-byte CXNet id)."""
    return prefix[:2] == b"w0"
