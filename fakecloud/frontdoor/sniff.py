"""Tell what a client speaks from its first bytes: TLS, CXNet, HTTP or something unknown.

Pure: bytes in, a verdict out, no I/O and no exceptions on any input.
"""

from __future__ import annotations

import enum

TLS_HANDSHAKE_RECORD = 0x16
TLS_MAJOR_VERSION = 0x03
TLS_RECORD_HEADER_BYTES = 5
CXNET_MARKER = 0x41  # 'A'
CXNET_VERSIONS = frozenset({1, 2, 3})
# The relay's TCP fallback frames each SDNK packet with a 2-byte big-endian length (a hypothesis,
# docs/relay.md); SDNK packets are far shorter than 2 KiB, so the first byte is below 0x08.
RELAY_FRAME_MAX_HIGH_BYTE = 0x07
RELAY_FRAME_PREFIX_BYTES = 6
SDNK_MAGIC = b"SDNK"
HTTP_METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH")

_HTTP_REQUEST_STARTS = tuple(method + b" " for method in HTTP_METHODS)
# classify() always decides within this many bytes ("OPTIONS " is the longest start it knows).
DECISION_BYTES = 8


class Traffic(enum.Enum):
    TLS = "tls"
    CXNET = "cxnet"
    HTTP = "http"
    RELAY = "relay"
    UNKNOWN = "unknown"


def classify(prefix: bytes) -> Traffic | None:
    """The protocol the first bytes of a stream announce, or None while more bytes could decide.

    A verdict never changes when more bytes arrive, so the caller can decide as early as it likes.
    """
    if not prefix:
        return None
    first = prefix[0]
    if first <= RELAY_FRAME_MAX_HIGH_BYTE:
        if len(prefix) < RELAY_FRAME_PREFIX_BYTES:
            return None
        return Traffic.RELAY if prefix[2:6] == SDNK_MAGIC else Traffic.UNKNOWN
    if first in (TLS_HANDSHAKE_RECORD, CXNET_MARKER):
        if len(prefix) < 2:
            return None
        second = prefix[1]
        if first == TLS_HANDSHAKE_RECORD and second == TLS_MAJOR_VERSION:
            return Traffic.TLS
        if first == CXNET_MARKER and second in CXNET_VERSIONS:
            return Traffic.CXNET
        return Traffic.UNKNOWN
    for start in _HTTP_REQUEST_STARTS:
        if prefix.startswith(start):
            return Traffic.HTTP
    if any(start.startswith(prefix) for start in _HTTP_REQUEST_STARTS):
        return None
    return Traffic.UNKNOWN


def tls_record_length(prefix: bytes) -> int | None:
    """Bytes in the whole first TLS record (header included), once its header has arrived."""
    if len(prefix) < TLS_RECORD_HEADER_BYTES:
        return None
    return TLS_RECORD_HEADER_BYTES + int.from_bytes(prefix[3:5], "big")


def route_verdict(
    buffered: bytes | bytearray, *, inside_tls: bool, max_bytes: int
) -> Traffic | None:
    """Where a stream that began with `buffered` goes, or None while it should wait for more.

    TLS waits for its whole first record (the ClientHello, for its server name), or for
    `max_bytes`; TLS inside TLS is nothing a camera does, so it counts as unknown.
    """
    head = bytes(buffered[:DECISION_BYTES])
    verdict = classify(head)
    if verdict is not Traffic.TLS:
        return verdict
    if inside_tls:
        return Traffic.UNKNOWN
    record_length = tls_record_length(head)
    if record_length is None or len(buffered) < min(record_length, max_bytes):
        return None
    return verdict
