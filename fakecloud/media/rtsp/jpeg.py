"""JPEG pictures to RTP payloads (RFC 2435), written by hand: no kept Python library does it.

RFC 2435 carries only the entropy-coded scan of a baseline JPEG plus a small header; the
receiver rebuilds the JPEG headers itself, with the standard Huffman tables of JPEG Annex K.
We send Q=255, so the picture's own quantisation tables travel in the first packet of every
frame. Supported: baseline 8-bit YCbCr with 4:2:2 (type 0) or 4:2:0 (type 1) sampling, at most
2040x2040, with or without restart markers (types 64/65).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DEFAULT_MAX_PAYLOAD = 1300  # payload bytes per packet, like the H.264 packetiser
_MAIN_HEADER = struct.Struct("!B3sBBBB")  # type-specific, offset, type, Q, width/8, height/8
_RESTART_HEADER = struct.Struct("!HH")  # restart interval; F, L and a count of 0x3FFF
_QUANT_HEADER = struct.Struct("!BBH")  # MBZ, precision, length
DYNAMIC_TABLES = 255  # Q: tables in-band, and they may change from frame to frame
SOI, EOI, SOS, DQT, DRI, SOF0 = 0xD8, 0xD9, 0xDA, 0xDB, 0xDD, 0xC0
# Other start-of-frame markers: progressive, lossless, arithmetic coding (not in RFC 2435).
_OTHER_SOF = frozenset({0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


_Frame = tuple[int, int, int, tuple[int, ...]]  # type, width, height, quantisation table ids


class JpegRtpError(ValueError):
    """A picture RFC 2435 cannot carry (or not a JPEG at all)."""


@dataclass(frozen=True, slots=True)
class JpegScan:
    type: int  # 0 (4:2:2) or 1 (4:2:0), plus 64 with restart markers
    width: int
    height: int
    tables: bytes  # luma then chroma quantisation table, 64 bytes each in zigzag order
    restart_interval: int
    scan: bytes  # entropy-coded data, without the EOI marker


def parse_jpeg(data: bytes) -> JpegScan:
    if data[:2] != bytes((0xFF, SOI)):
        raise JpegRtpError("not a JPEG picture (no SOI marker)")
    tables: dict[int, bytes] = {}
    frame: _Frame | None = None
    restart = 0
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise JpegRtpError(f"expected a marker at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment = data[position + 4 : position + 2 + length]
        if length < 2 or len(segment) != length - 2:
            raise JpegRtpError(f"marker {marker:#x} segment is cut short")
        if marker == DQT:
            _read_tables(segment, tables)
        elif marker == SOF0:
            frame = _read_frame(segment)
        elif marker in _OTHER_SOF:
            raise JpegRtpError("only baseline JPEG fits RFC 2435")
        elif marker == DRI:
            restart = int.from_bytes(segment[:2], "big")
        elif marker == SOS:
            if frame is None:
                raise JpegRtpError("scan before the frame header")
            scan = data[position + 2 + length :]
            if scan.endswith(bytes((0xFF, EOI))):
                scan = scan[:-2]
            return _scan(frame, tables, restart, scan)
        position += 2 + length
    raise JpegRtpError("no scan in the picture")


def _read_tables(segment: bytes, tables: dict[int, bytes]) -> None:
    offset = 0
    while offset < len(segment):
        precision, table_id = segment[offset] >> 4, segment[offset] & 0x0F
        if precision != 0:
            raise JpegRtpError("16-bit quantisation tables do not fit RFC 2435")
        table = segment[offset + 1 : offset + 65]
        if len(table) != 64:
            raise JpegRtpError("a quantisation table is cut short")
        tables[table_id] = table
        offset += 65


def _read_frame(segment: bytes) -> _Frame:
    """(type, width, height, quantisation table ids) of a baseline frame header."""
    if len(segment) < 6 + 3 * 3 or segment[0] != 8 or segment[5] != 3:
        raise JpegRtpError("only 8-bit pictures of three components (YCbCr) fit RFC 2435")
    height, width = struct.unpack_from("!HH", segment, 1)
    components = [segment[6 + 3 * index : 9 + 3 * index] for index in range(3)]
    luma_sampling = components[0][1]
    if components[1][1] != 0x11 or components[2][1] != 0x11:
        raise JpegRtpError("chroma must not be subsampled beyond one block per MCU")
    types = {0x21: 0, 0x22: 1}  # horizontal 2 x vertical 1 or 2
    if luma_sampling not in types:
        raise JpegRtpError(f"luma sampling {luma_sampling:#x} is neither 4:2:2 nor 4:2:0")
    if not 0 < width <= 2040 or not 0 < height <= 2040:
        raise JpegRtpError(f"{width}x{height}: RFC 2435 carries at most 2040x2040")
    table_ids = tuple(component[2] for component in components)
    if table_ids[1] != table_ids[2]:
        raise JpegRtpError("both chroma components must share one quantisation table")
    return types[luma_sampling], width, height, table_ids


def _scan(
    frame: tuple[int, int, int, tuple[int, ...]],
    tables: dict[int, bytes],
    restart: int,
    scan: bytes,
) -> JpegScan:
    kind, width, height, (luma, chroma, _) = frame
    if luma not in tables or chroma not in tables:
        raise JpegRtpError("a component names a quantisation table the picture lacks")
    return JpegScan(
        type=kind + (64 if restart else 0),
        width=width,
        height=height,
        tables=tables[luma] + tables[chroma],
        restart_interval=restart,
        scan=scan,
    )


def jpeg_payloads(picture: bytes, max_payload: int = DEFAULT_MAX_PAYLOAD) -> list[bytes]:
    """The RTP payloads of one picture, in order (the last one gets the marker bit)."""
    scan = parse_jpeg(picture)
    restart = b""
    if scan.restart_interval:
        restart = _RESTART_HEADER.pack(scan.restart_interval, 0xFFFF)  # F=1, L=1, count 0x3FFF
    quantisation = _QUANT_HEADER.pack(0, 0, len(scan.tables)) + scan.tables
    payloads: list[bytes] = []
    offset = 0
    while offset < len(scan.scan) or not payloads:
        header = _MAIN_HEADER.pack(
            0,
            offset.to_bytes(3, "big"),
            scan.type,
            DYNAMIC_TABLES,
            (scan.width + 7) // 8,
            (scan.height + 7) // 8,
        )
        header += restart + (quantisation if offset == 0 else b"")
        room = max_payload - len(header)
        if room <= 0:
            raise JpegRtpError(f"a payload of {max_payload} bytes cannot hold the headers")
        if offset + room > 0xFFFFFF:
            raise JpegRtpError("a picture over 16 MiB does not fit RFC 2435's offsets")
        payloads.append(header + scan.scan[offset : offset + room])
        offset += room
    return payloads
