"""RTP packets (RFC 3550 §5.1): the layer between media chunks and `w0`/`w1` sub-frames.

Tend cameras send a plain 12-byte header (R calls it the "oRTP header"); CSRCs, the header
extension and padding are parsed anyway so a camera that uses them is not misread.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FIXED = struct.Struct("!BBHII")
FIXED_SIZE = FIXED.size  # 12
EXTENSION_HEADER = struct.Struct("!HH")
VERSION = 2
VIDEO_CLOCK_RATE = 90_000


class RtpError(ValueError):
    """The bytes are not a well-formed RTP packet (or a packet cannot be built)."""


@dataclass(frozen=True, slots=True)
class RtpExtension:
    profile: int  # the 16-bit "defined by profile" field
    data: bytes  # a multiple of 4 bytes


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0  # bytes of padding after the payload, including the count byte


def parse_rtp(data: bytes) -> RtpPacket:
    if len(data) < FIXED_SIZE:
        raise RtpError(f"{len(data)} bytes is shorter than an RTP header")
    first, second, sequence, timestamp, ssrc = FIXED.unpack_from(data)
    if first >> 6 != VERSION:
        raise RtpError(f"RTP version {first >> 6}, expected {VERSION}")
    offset = FIXED_SIZE
    csrc_count = first & 0x0F
    if len(data) < offset + 4 * csrc_count:
        raise RtpError(f"{csrc_count} CSRCs do not fit in {len(data)} bytes")
    csrcs = struct.unpack_from(f"!{csrc_count}I", data, offset)
    offset += 4 * csrc_count
    extension = None
    if first & 0x10:
        if len(data) < offset + EXTENSION_HEADER.size:
            raise RtpError("header extension is cut short")
        profile, words = EXTENSION_HEADER.unpack_from(data, offset)
        offset += EXTENSION_HEADER.size
        if len(data) < offset + 4 * words:
            raise RtpError(f"header extension of {words} words does not fit")
        extension = RtpExtension(profile, data[offset : offset + 4 * words])
        offset += 4 * words
    padding = 0
    if first & 0x20:
        padding = data[-1]
        if padding == 0 or offset + padding > len(data):
            raise RtpError(f"padding of {padding} bytes is impossible here")
    return RtpPacket(
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        payload=data[offset : len(data) - padding],
        marker=bool(second & 0x80),
        csrcs=csrcs,
        extension=extension,
        padding=padding,
    )


def build_rtp(packet: RtpPacket) -> bytes:
    if not 0 <= packet.payload_type <= 0x7F:
        raise RtpError(f"payload type {packet.payload_type} does not fit in 7 bits")
    if not 0 <= packet.sequence <= 0xFFFF:
        raise RtpError(f"sequence {packet.sequence} does not fit in 16 bits")
    if len(packet.csrcs) > 15:
        raise RtpError(f"{len(packet.csrcs)} CSRCs (max 15)")
    if not 0 <= packet.padding <= 0xFF:
        raise RtpError(f"padding {packet.padding} does not fit in one byte")
    first = VERSION << 6 | len(packet.csrcs)
    if packet.padding:
        first |= 0x20
    if packet.extension is not None:
        first |= 0x10
    second = packet.payload_type | (0x80 if packet.marker else 0)
    try:
        parts = [
            FIXED.pack(first, second, packet.sequence, packet.timestamp, packet.ssrc),
            struct.pack(f"!{len(packet.csrcs)}I", *packet.csrcs),
        ]
        if packet.extension is not None:
            words, remainder = divmod(len(packet.extension.data), 4)
            if remainder:
                raise RtpError("header extension data must be a multiple of 4 bytes")
            parts.append(EXTENSION_HEADER.pack(packet.extension.profile, words))
            parts.append(packet.extension.data)
    except struct.error as error:
        raise RtpError(f"field out of range: {error}") from error
    parts.append(packet.payload)
    if packet.padding:
        parts.append(bytes(packet.padding - 1) + bytes((packet.padding,)))
    return b"".join(parts)
