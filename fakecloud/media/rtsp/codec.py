"""RTSP/1.0 on the wire (RFC 2326), without I/O: bytes in, requests and interleaved data out.

Security consideration: everything here comes from the network. The request head, the number of
headers and the body are capped; anything malformed raises RtspError with the status to answer,
after which the server closes the connection (the stream cannot be resynchronised safely).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEAD_BYTES = 8 * 1024  # request line and headers; real clients send well under 1 KiB
MAX_HEADERS = 32
MAX_BODY_BYTES = 16 * 1024  # clients send bodies only with SET_PARAMETER, which we ignore
INTERLEAVED_MARK = 0x24  # '$': RTP/RTCP from the client on the TCP connection (RFC 2326 §10.12)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    453: "Not Enough Bandwidth",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "RTSP Version Not Supported",
}


class RtspError(ValueError):
    """A request that cannot be served; `status` is the RTSP status code to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class RtspRequest:
    method: str
    uri: str
    headers: tuple[tuple[str, str], ...]  # names as sent; looked up case-insensitively
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def cseq(self) -> str:
        return self.header("CSeq") or "0"


@dataclass(frozen=True, slots=True)
class Interleaved:
    """`$`-framed data the client sends on the connection (its RTCP receiver reports)."""

    channel: int
    data: bytes


class RtspReader:
    """Cuts a byte stream into requests and interleaved frames; keep one per connection."""

    def __init__(
        self,
        max_head_bytes: int = MAX_HEAD_BYTES,
        max_headers: int = MAX_HEADERS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ):
        self.max_head_bytes = max_head_bytes
        self.max_headers = max_headers
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[RtspRequest | Interleaved]:
        """Everything complete so far; RtspError on a malformed or oversized message."""
        self._buffer += data
        messages: list[RtspRequest | Interleaved] = []
        while self._buffer:
            message = self._next()
            if message is None:
                break
            messages.append(message)
        return messages

    def _next(self) -> RtspRequest | Interleaved | None:
        buffer = self._buffer
        if buffer[0] == INTERLEAVED_MARK:
            if len(buffer) < 4:
                return None
            size = int.from_bytes(buffer[2:4], "big")
            if len(buffer) < 4 + size:
                return None
            frame = Interleaved(buffer[1], bytes(buffer[4 : 4 + size]))
            del buffer[: 4 + size]
            return frame
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > self.max_head_bytes:
                raise RtspError(431, f"request head over {self.max_head_bytes} bytes")
            return None
        if end > self.max_head_bytes:
            raise RtspError(431, f"request head over {self.max_head_bytes} bytes")
        method, uri, headers = self._head(bytes(buffer[:end]))
        length = _content_length(headers)
        if length > self.max_body_bytes:
            raise RtspError(413, f"a body of {length} bytes (at most {self.max_body_bytes})")
        start = end + 4
        if len(buffer) < start + length:
            return None
        body = bytes(buffer[start : start + length])
        del buffer[: start + length]
        return RtspRequest(method, uri, headers, body)

    def _head(self, head: bytes) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            raise RtspError(400, "request head is not UTF-8") from None
        lines = text.split("\r\n")
        if len(lines) - 1 > self.max_headers:
            raise RtspError(431, f"more than {self.max_headers} headers")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
            raise RtspError(400, f"malformed request line {lines[0][:80]!r}")
        method, uri, version = parts
        if version != "RTSP/1.0":
            raise RtspError(505, f"version {version[:20]!r}; only RTSP/1.0 is spoken")
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not _TOKEN.fullmatch(name):
                raise RtspError(400, f"malformed header line {line[:80]!r}")
            if any(ord(character) < 0x20 and character != "\t" for character in value):
                raise RtspError(400, f"control character in header {name!r}")
            headers.append((name, value.strip()))
        return method, uri, tuple(headers)


def _content_length(headers: tuple[tuple[str, str], ...]) -> int:
    values = [value for name, value in headers if name.lower() == "content-length"]
    if not values:
        return 0
    if len(values) > 1 or not values[0].isascii() or not values[0].isdigit():
        raise RtspError(400, "one decimal Content-Length, please")
    if len(values[0]) > 9:
        raise RtspError(413, "Content-Length is absurdly large")
    return int(values[0])


def build_response(
    cseq: str, status: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """One response; CSeq echoes the request's (RFC 2326 §12.17)."""
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Error')}", f"CSeq: {_safe(cseq)}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {_safe(value)}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def _safe(value: str) -> str:
    """A header value that cannot end the line (CSeq is echoed from the client)."""
    return value.replace("\r", " ").replace("\n", " ")


def interleaved(channel: int, data: bytes) -> bytes:
    """RTP or RTCP on the RTSP connection: `$`, channel, 16-bit length, the packet."""
    if not 0 <= channel <= 0xFF or len(data) > 0xFFFF:
        raise RtspError(500, "interleaved channel or packet size out of range")
    return bytes((INTERLEAVED_MARK, channel)) + len(data).to_bytes(2, "big") + data


@dataclass(frozen=True, slots=True)
class Transport:
    """What a client asked for in SETUP's Transport header (the first option we can serve)."""

    tcp: bool
    channels: tuple[int, int] = (0, 1)  # interleaved RTP and RTCP channels (TCP)
    client_ports: tuple[int, int] = (0, 0)  # the client's RTP and RTCP ports (UDP)


def parse_transport(value: str | None) -> Transport:
    """RTP/AVP/TCP interleaved or RTP/AVP[/UDP] unicast; RtspError 461 for anything else."""
    for option in (value or "").split(","):
        fields = [field.strip() for field in option.split(";")]
        spec = fields[0].upper()
        parameters = dict(field.partition("=")[::2] for field in fields[1:])
        if "multicast" in parameters:
            continue  # Security consideration: we never send to an address the client names
        if spec == "RTP/AVP/TCP":
            channels = _pair(parameters.get("interleaved", "0-1"), 0xFF)
            if channels is not None:
                return Transport(tcp=True, channels=channels)
        elif spec in ("RTP/AVP", "RTP/AVP/UDP"):
            ports = _pair(parameters.get("client_port", ""), 0xFFFF)
            if ports is not None and ports[0] > 0:
                return Transport(tcp=False, client_ports=ports)
    raise RtspError(461, "offered: RTP/AVP/TCP;interleaved=0-1 or RTP/AVP;unicast;client_port")


def _pair(text: str, highest: int) -> tuple[int, int] | None:
    """`a-b` (or `a`, meaning a and a+1) within 0..highest; None when malformed."""
    first, dash, second = text.partition("-")
    if not first.isascii() or not first.isdigit() or len(first) > 5:
        return None
    low = int(first)
    if not dash:
        high = low + 1
    elif second.isascii() and second.isdigit() and len(second) <= 5:
        high = int(second)
    else:
        return None
    return (low, high) if 0 <= low <= highest and 0 <= high <= highest else None
