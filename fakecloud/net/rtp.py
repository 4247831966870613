"""RTP packets (RFC 3550 §5.1): the layer between media chunks and `w0`/`w1` sub-frames, and
the RTCP packets (RFC 3550 §6) viewers send on their control socket.

Tend cameras send a plain 12-byte header (R calls it the "oRTP header"); CSRCs, the header
extension and padding are parsed anyway so a camera that uses them is not misread. Viewers send
receiver reports about every 2 s (K) and end a session with a BYE (docs/protocol.md section 9); the
relay reads only the packet types of a compound RTCP datagram.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

FIXED = struct.Struct("!BBHII")
FIXED_SIZE = FIXED.size  # 12
EXTENSION_HEADER = struct.Struct("!HH")
VERSION = 2
VIDEO_CLOCK_RATE = 90_000
RTCP_HEADER = struct.Struct("!BBH")
RTCP_SSRC = struct.Struct("!I")


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


class RtcpType(IntEnum):
    SENDER_REPORT = 200
    RECEIVER_REPORT = 201
    SOURCE_DESCRIPTION = 202
    BYE = 203
    APPLICATION = 204


@dataclass(frozen=True, slots=True)
class RtcpPacket:
    """One packet of a compound RTCP datagram; `body` follows the 4-byte header (padding kept)."""

    packet_type: int
    count: int  # the 5-bit report / source count
    body: bytes
    padded: bool = False


def looks_like_rtcp(data: bytes) -> bool:
    """Cheap test before parsing: RTP version 2 and a packet type in the RTCP range 200-204."""
    return len(data) >= RTCP_HEADER.size and data[0] >> 6 == VERSION and 200 <= data[1] <= 204


def parse_rtcp(data: bytes) -> tuple[RtcpPacket, ...]:
    """Every packet of a compound RTCP datagram; RtpError unless the lengths tile it exactly."""
    packets = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < RTCP_HEADER.size:
            raise RtpError(f"{len(data) - offset} trailing bytes are not an RTCP header")
        first, packet_type, words = RTCP_HEADER.unpack_from(data, offset)
        if first >> 6 != VERSION:
            raise RtpError(f"RTCP version {first >> 6}, expected {VERSION}")
        end = offset + 4 * (words + 1)
        if end > len(data):
            raise RtpError(f"RTCP packet of {4 * (words + 1)} bytes does not fit")
        body = data[offset + RTCP_HEADER.size : end]
        packets.append(RtcpPacket(packet_type, first & 0x1F, body, bool(first & 0x20)))
        offset = end
    if not packets:
        raise RtpError("an RTCP datagram holds at least one packet")
    return tuple(packets)


def build_rtcp(packets: tuple[RtcpPacket, ...] | list[RtcpPacket]) -> bytes:
    """A compound RTCP datagram; each body must be a whole number of 32-bit words."""
    parts = []
    for packet in packets:
        if not 0 <= packet.count <= 0x1F or not 0 <= packet.packet_type <= 0xFF:
            raise RtpError("RTCP count or packet type out of range")
        words, remainder = divmod(len(packet.body), 4)
        if remainder or words > 0xFFFF:
            raise RtpError("an RTCP body must be whole 32-bit words, at most 256 KiB")
        first = VERSION << 6 | (0x20 if packet.padded else 0) | packet.count
        parts.append(RTCP_HEADER.pack(first, packet.packet_type, words) + packet.body)
    return b"".join(parts)


def rtcp_bye(ssrc: int, reports: tuple[RtcpPacket, ...] = ()) -> bytes:
    """What a viewer sends when it leaves: its reports (if any), then a BYE for its SSRC."""
    try:
        source = RTCP_SSRC.pack(ssrc)
    except struct.error as error:
        raise RtpError(f"SSRC out of range: {error}") from error
    return build_rtcp((*reports, RtcpPacket(RtcpType.BYE, 1, source)))


def is_bye(data: bytes) -> bool:
    """True when a datagram is well-formed compound RTCP that contains a BYE."""
    if not looks_like_rtcp(data):
        return False
    try:
        return any(packet.packet_type == RtcpType.BYE for packet in parse_rtcp(data))
    except RtpError:
        return False
