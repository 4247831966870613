"""The bytes the public Tend clients put on the wire, written from their source (R:
rfiorentino1/homebridge-myq `src/tend-cxnet.ts`, `src/tend-stream.ts`; K:
KyleBoyer/homebridge-myq-camera `src/cxs.ts`, `src/p2p.ts`) and PROTOCOL.md section 9, never
from fakecloud's own codecs: a test that used our codec would agree with our server by
construction. Pure: bytes in, values out; bad input raises WireError only.
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

LOGIN_HOST = "server.tend-us.tendplatform.com"  # both clients' fixed login name and SNI
LOGIN_PORT = 5104
TOKEN_PREFIX = "myQ.accessToken:"


class WireError(ValueError):
    """Input that the public clients would not accept."""


# --- java.util.Properties text ----------------------------------------------------------------


class PropertyMap(dict[str, str]):
    """A parsed Properties block (the broker tests compare it as a plain dict)."""

    def as_dict(self) -> dict[str, str]:
        return dict(self)


def _escape(text: str, *, key: bool, k_style: bool) -> str:
    out = []
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif k_style and char == "\f":
            out.append("\\f")
        elif (k_style and char in "=:") or (key and char in " =:#!"):
            # K escapes '=' and ':' in values too (so CX_PASSWD reads myQ.accessToken\:...).
            out.append("\\" + char)
        elif char == " " and index == 0:
            out.append("\\ ")
        elif k_style and not " " <= char <= "~":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def java_timestamp(now: float | None = None) -> str:
    """The comment Properties.store writes first, e.g. 'Fri Mar 08 13:15:53 PST 2013'."""
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(now))


def r_properties(values: dict[str, str]) -> bytes:
    """R's encodeProperties: `key=value\\n` per entry, no comment, latin-1."""
    lines = (
        f"{_escape(k, key=True, k_style=False)}={_escape(v, key=False, k_style=False)}\n"
        for k, v in values.items()
    )
    return "".join(lines).encode("latin-1")


def k_properties(values: dict[str, str], comment: str | None = None) -> bytes:
    """K's storeProperties: a `#timestamp` comment line first, then escaped entries."""
    lines = [f"#{comment if comment is not None else java_timestamp()}"]
    lines += [
        f"{_escape(k, key=True, k_style=True)}={_escape(v, key=False, k_style=True)}"
        for k, v in values.items()
    ]
    return ("\n".join(lines) + "\n").encode("latin-1")


BLANKS = " \t\f"  # what java.util.Properties skips (not every Unicode space)
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}


def _unescape(text: str) -> str:
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 == len(text):
            out.append(char)
            index += 1
            continue
        escaped = text[index + 1]
        digits = text[index + 2 : index + 6]
        if (
            escaped == "u"
            and len(digits) == 4
            and all(c in "0123456789abcdefABCDEF" for c in digits)
        ):
            out.append(chr(int(digits, 16)))
            index += 6
        else:
            out.append(_UNESCAPES.get(escaped, escaped))
            index += 2
    return "".join(out)


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for physical in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        current += physical.lstrip(BLANKS) if current else physical
        trailing = len(current) - len(current.rstrip("\\"))
        if trailing % 2:  # an odd number of backslashes continues the line
            current = current[:-1]
            continue
        lines.append(current)
        current = ""
    if current:
        lines.append(current)
    return lines


def load_properties(data: bytes) -> PropertyMap:
    """Both clients' reading of a Properties block: comments, continuations, `=`/`:`/space
    separators, backslash and \\uXXXX escapes. Latin-1, so any byte string parses."""
    result = PropertyMap()
    for line in _logical_lines(data.decode("latin-1")):
        stripped = line.lstrip(BLANKS)
        if not stripped or stripped[0] in "#!":
            continue
        split, index = -1, 0
        while index < len(stripped):
            if stripped[index] == "\\":
                index += 2
                continue
            if stripped[index] in "=: \t\f":
                split = index
                break
            index += 1
        if split < 0:
            result[_unescape(stripped)] = ""
            continue
        rest = stripped[split + 1 :].lstrip(BLANKS)
        if stripped[split] in " \t\f" and rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(BLANKS)
        result[_unescape(stripped[:split])] = _unescape(rest)
    return result


# --- CXNet frames -------------------------------------------------------------------------------

HEADER = struct.Struct("<BBHHBIHHH2sQ")  # 27 bytes, little-endian (both clients' layout)
MARKER = 0x41
SERVICE = 121
ZERO_BLOCK = bytes(16)
MAX_BODY = 2 * 1024 * 1024  # K's MAX_PACKET


class Action:
    ERROR = 1
    COMMAND = 411
    CHATMID = 436
    VIDEOMID = 438
    LOGIN = 519
    KEEPALIVE = 526


@dataclass(frozen=True)
class CxFrame:
    """One CXNet frame under K's names: the 16-byte session `block`, the properties block
    (`options`, R's name; K calls it `source`) and the `body`."""

    action: int
    block: bytes = ZERO_BLOCK
    options: bytes = b""
    body: bytes = b""
    version: int = 3
    crypto: int = 2

    @property
    def properties(self) -> PropertyMap:
        return load_properties(self.body)


def pack(
    version: int, action: int, crypto: int, block: bytes, options: bytes, body: bytes
) -> bytes:
    if not block or len(block) % 16:
        raise WireError("the session block is a non-empty multiple of 16 bytes")
    total = HEADER.size + len(block) + len(options)
    header = HEADER.pack(MARKER, version, total, len(block), 0, len(body), SERVICE, action,
                         crypto, b"**", 0)  # fmt: skip
    return header + block + options + body


def encode_frame(frame: CxFrame) -> bytes:
    return pack(frame.version, frame.action, frame.crypto, frame.block, frame.options, frame.body)


@dataclass
class FrameReader:
    """K's receive loop: fails on a wrong marker or impossible lengths, else waits for bytes."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[CxFrame]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER.size:
            marker, version, total, hlen, _, body_len, _, action, crypto, _, _ = HEADER.unpack_from(
                self.buffer
            )
            if marker != MARKER:
                raise WireError(f"invalid CXNet marker 0x{marker:02x}")
            if total < HEADER.size + hlen or body_len > MAX_BODY:
                raise WireError("invalid CXNet lengths")
            if len(self.buffer) < total + body_len:
                break
            raw = bytes(self.buffer[: total + body_len])
            del self.buffer[: total + body_len]
            block_end = HEADER.size + hlen
            block, options, body = raw[HEADER.size : block_end], raw[block_end:total], raw[total:]
            frames.append(CxFrame(action, block, options, body, version, crypto))
        return frames


def cx_passwd(token: str) -> str:
    """The CX_PASSWD both clients send; a token already in that form is sent as it is."""
    return token if ".accessToken:" in token else TOKEN_PREFIX + token


def r_login_frame(token: str, login: str = "") -> bytes:
    """R's login: version 1, crypto 2, options in R's order, body `CX_UNAME=\\nmode=0\\n` twice.
    R sends `CX_UNAME` empty; `login` puts an account's name there (a refusal test)."""
    options = r_properties(
        {
            "CX_UNAME": login,
            "CX_PASSWD": cx_passwd(token),
            "os_name": "ANDROID",
            "os_version": "14",
            "partner-id": "myQ",
            "sdk-version": "5.310.0",
            "client_type": "homebridge-myq-tend/1.0",
        }
    )
    mode = r_properties({"CX_UNAME": "", "mode": "0"})
    return pack(1, Action.LOGIN, 2, ZERO_BLOCK, options, mode + mode)


def k_login_frame(token: str) -> bytes:
    """K's login: version 3, result 2, a timestamp comment first, K's order and identity."""
    source = k_properties(
        {
            "partner-id": "myQ",
            "CX_UNAME": "",
            "client_type": "Python myqcam",
            "sdk_version": "2.1.0.56",
            "CX_PASSWD": cx_passwd(token),
            "current_version": "5.243.1.73243",
            "os_name": "Python",
            "app-id": "com.chamberlain.android.liftmaster.myq",
            "os_version": "device-free",
        }
    )
    mode = k_properties({"CX_UNAME": "", "mode": "0"})
    return pack(3, Action.LOGIN, 2, ZERO_BLOCK, source, mode + mode)


def r_command(block: bytes, destination: str, command: str, correlation: str) -> bytes:
    options = r_properties({"CX_DSTID": destination, "CorrelationID": correlation})
    return pack(3, Action.COMMAND, 0, block, options, command.encode())


def k_command(block: bytes, destination: str, command: str, correlation: str) -> bytes:
    source = k_properties({"CorrelationID": correlation, "CX_DSTID": destination})
    return pack(3, Action.COMMAND, 2, block, source, command.encode())


def k_keepalive(block: bytes) -> bytes:
    return pack(3, Action.KEEPALIVE, 2, block, b"", b"")


def r_redirect(properties: dict[str, str]) -> tuple[str, int] | None:
    """R: a login reply with property `1` = `host:port` is a redirect to that host AND port."""
    target = properties.get("1")
    if not target:
        return None
    host, _, port = target.partition(":")
    if not port.isdigit():
        raise WireError(f"redirect {target!r} has no port")
    return host, int(port)


def k_redirect(properties: dict[str, str]) -> str:
    """K: `redirectHost`, else the first numbered property with a trailing `:port` cut off."""
    host = properties.get("redirectHost")
    if not host:
        numbered = next((value for key, value in properties.items() if key.isdigit()), "")
        host = re.sub(r":\d+$", "", numbered)
    if not host:
        raise WireError("Tend login did not return a broker")
    return host


def relay_offer(text: bytes) -> tuple[str, int]:
    """`rtp://host:port` from an offer's properties block (R: action 438; K: accept-…)."""
    found = re.search(r"rtp://([^:/\s]+):(\d{1,5})", text.decode("latin-1"))
    if found is None or not 0 < int(found[2]) < 65536:
        raise WireError(f"no rtp://host:port in {text[:80]!r}")
    return found[1], int(found[2])


# --- camera lists (K's parsing of the login reply) ----------------------------------------------


@dataclass(frozen=True)
class KCamera:
    device_id: str
    alias: str
    mac: str
    aes_key: str
    online: bool
    local_ip: str
    local_port: int
    destination: str  # CX_DSTID `<deviceId>:<mac>`


def k_cameras(properties: dict[str, str]) -> list[KCamera]:
    """K's parseCameras: aliases from `self-list` field 6, the rest from `device-info-list`."""
    aliases = {}
    for line in properties.get("self-list", "").splitlines():
        fields = line.split(",")
        if ":" in fields[0] and len(fields) >= 6:
            aliases[fields[0]] = fields[5]
    cameras = []
    for line in properties.get("device-info-list", "").splitlines():
        destination, comma, rest = line.partition(",")
        device_id, colon, mac = destination.partition(":")
        if not comma or not colon:
            continue
        raw = dict(item.split("=", 1) for item in rest.split("+") if "=" in item)
        port = raw.get("LPORT", "0")
        cameras.append(
            KCamera(
                device_id,
                aliases.get(destination, device_id),
                raw.get("MAC", mac),
                raw.get("AES", ""),
                raw.get("PWR_SLEEP_MODE") != "DEEP",
                raw.get("LIP", ""),
                int(port) if port.isdigit() else 0,
                destination,
            )
        )
    return cameras


# --- SDNK rendezvous ----------------------------------------------------------------------------

SDNK = b"SDNK"
REGISTER, PEERS, PUNCH, CONNECT, CONNECTED, RELAY_ACK = 1, 2, 3, 4, 5, 100


def media_id(name: str) -> bytes:
    """`V_<name>` cut or zero-padded to 32 bytes (both clients)."""
    return (b"V_" + name.encode("latin-1"))[:32].ljust(32, b"\0")


def sdnk(kind: int, payload: bytes, header_counter: int = 0) -> bytes:
    """20-byte header: magic, 01 00 00, type, [R: a counter at 8..12], payload length BE."""
    header = SDNK + b"\x01\x00\x00" + bytes([kind]) + struct.pack(">I", header_counter)
    return header + bytes(4) + struct.pack(">I", len(payload)) + payload


def register(channel: int, ip: str, port: int, ids: tuple[bytes, bytes]) -> bytes:
    """R's REQ_CONN_INFO / K's REGISTER: 01 00 00 <channel> 'V' IPv4 16×0 port ids."""
    try:
        address = bytes(int(part) for part in ip.split("."))
    except ValueError:
        raise WireError(f"not an IPv4 address: {ip!r}") from None
    if len(address) != 4:
        raise WireError(f"not an IPv4 address: {ip!r}")
    payload = bytes([1, 0, 0, channel]) + b"V" + address + bytes(16) + struct.pack(">H", port)
    return sdnk(REGISTER, payload + ids[0] + ids[1])


def relay_ack(channel: int, ids: tuple[bytes, bytes]) -> bytes:
    return sdnk(RELAY_ACK, bytes([1, channel]) + b"V" + ids[0] + ids[1])


def punch(sequence: int, ids: tuple[bytes, bytes]) -> bytes:
    return sdnk(PUNCH, bytes([1, sequence & 0xFF]) + ids[0] + ids[1])


def r_res_punch(counter: int) -> bytes:
    """R's RES_PUNCH: the counter in the header (bytes 8..12) and as the one payload byte."""
    return sdnk(CONNECT, bytes([counter & 0xFF]), header_counter=counter)


def one_byte(kind: int, value: int) -> bytes:
    """K's CONNECT / CONNECTED and R's ACK_PUNCH: one payload byte."""
    return sdnk(kind, bytes([value & 0xFF]))


def sdnk_type(data: bytes) -> int | None:
    return data[7] if len(data) >= 20 and data[:4] == SDNK else None


def _ipv4(data: bytes, offset: int) -> str:
    return ".".join(str(byte) for byte in data[offset : offset + 4])


@dataclass(frozen=True)
class RPeers:
    lan_ip: str
    public_ip: str
    port: int


def r_peers(data: bytes) -> RPeers | None:
    """R's CONN_INFO reading: ≥108 bytes, port at 0x54, LAN IPv4 at 0x40, public at 0x56."""
    if sdnk_type(data) != PEERS or len(data) < 0x6C:
        return None
    (port,) = struct.unpack_from(">H", data, 0x54)
    return RPeers(_ipv4(data, 0x40), _ipv4(data, 0x56), port) if port else None


def k_peers(data: bytes) -> list[tuple[str, int]]:
    """K's parsePeerPacket: exactly 110 bytes; endpoints every 22 bytes from 20, port at +20."""
    if len(data) != 110 or sdnk_type(data) != PEERS:
        return []
    endpoints = []
    for offset in range(20, 108, 22):
        (port,) = struct.unpack_from(">H", data, offset + 20)
        if any(data[offset : offset + 4]) and port:
            endpoints.append((_ipv4(data, offset), port))
    return endpoints


# --- media: chunks, RTP, w1 ---------------------------------------------------------------------

CHUNK_HEADER = 8
RTP_HEADER = 12


@dataclass
class RAssembler:
    """R: byte 0 frame id, byte 4 chunk count, byte 6 chunk index; a frame is complete when
    every index arrived; partial frames older than `max_age` seconds are dropped."""

    max_age: float = 2.0
    partial: dict[int, tuple[float, int, dict[int, bytes]]] = field(default_factory=dict)

    def feed(self, datagram: bytes, now: float) -> list[bytes]:
        if len(datagram) < CHUNK_HEADER:
            return []
        frame_id, total, index = datagram[0], datagram[4], datagram[6]
        _, expected, chunks = self.partial.setdefault(frame_id, (now, total, {}))
        chunks[index] = datagram[CHUNK_HEADER:]
        done = []
        if len(chunks) == expected:
            done.append(b"".join(chunks[key] for key in sorted(chunks)))
            del self.partial[frame_id]
        for key in [key for key, entry in self.partial.items() if entry[0] < now - self.max_age]:
            del self.partial[key]
        return done


@dataclass
class KAssembler:
    """K: u32 LE frame number; fragments of one number concatenate, flushed on the next."""

    frame_number: int | None = None
    fragments: list[bytes] = field(default_factory=list)

    def feed(self, datagram: bytes) -> list[bytes]:
        if len(datagram) < CHUNK_HEADER:
            return []
        (number,) = struct.unpack_from("<I", datagram)
        done = []
        if self.frame_number is not None and number != self.frame_number and self.fragments:
            done.append(b"".join(self.fragments))
            self.fragments = []
        self.frame_number = number
        self.fragments.append(datagram[CHUNK_HEADER:])
        return done


@dataclass(frozen=True)
class RtpPacket:
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(packet: bytes) -> RtpPacket | None:
    """Both clients: version 2 in the top bits, a 12-byte header, the rest is payload."""
    if len(packet) < RTP_HEADER or packet[0] >> 6 != 2:
        return None
    sequence, timestamp, ssrc = struct.unpack_from(">HII", packet, 2)
    return RtpPacket(sequence, timestamp, ssrc, packet[RTP_HEADER:])


def _decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    if len(ciphertext) % 16 or not ciphertext:
        raise WireError("AES-CBC ciphertext is not whole blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(plain) + unpadder.finalize()
    except ValueError:
        raise WireError("bad PKCS#5 padding: wrong key?") from None


def _records(plain: bytes) -> list[bytes]:
    records, offset = [], 0
    while offset + 4 <= len(plain):
        (length,) = struct.unpack_from("<I", plain, offset)
        if length <= 0 or offset + 4 + length > len(plain):
            break
        records.append(plain[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return records


def w1_records(payload: bytes, key: bytes) -> list[bytes]:
    """R's reading of an RTP payload: `w1` sub-frames (u32 LE length, 4 meta bytes whose first
    byte's top bits 001 mean encrypted, 16-byte IV, AES-128-CBC) each decrypting to repeated
    `[u32 LE length][record]`; a record is an Annex-B NAL unit. WireError when a sub-frame does
    not decrypt (R counts that as a decrypt failure)."""
    if len(key) != 16:
        raise WireError("the AES key must be 16 bytes")
    records, offset = [], 0
    while offset + 26 <= len(payload) and payload[offset : offset + 2] == b"w1":
        (length,) = struct.unpack_from("<I", payload, offset + 2)
        if length < 20 or offset + 6 + length > len(payload):
            break
        encrypted = payload[offset + 6] >> 5 == 1
        iv = payload[offset + 10 : offset + 26]
        body = payload[offset + 26 : offset + 6 + length]
        records += _records(_decrypt(key, iv, body) if encrypted else body)
        offset += 6 + length
    return records


def k_w1_records(payload: bytes, key: bytes) -> list[bytes]:
    """K's processPayload: one `w1` sub-frame that fills the whole RTP payload, else nothing."""
    if len(payload) < 10 or payload[:2] != b"w1":
        return []
    (length,) = struct.unpack_from("<I", payload, 2)
    return w1_records(payload, key) if length + 6 == len(payload) else []


# --- RTCP (K's receiver reports; the BYE that ends a session) ------------------------------------

RTCP_SR, RTCP_RR, RTCP_BYE = 200, 201, 203


@dataclass
class ReceptionStats:
    """K's observeRtp bookkeeping, enough for an RFC 3550 receiver report."""

    source_ssrc: int | None = None
    base_sequence: int = 0
    max_sequence: int = 0
    cycles: int = 0
    received: int = 0
    expected_prior: int = 0
    received_prior: int = 0
    last_sr: int = 0
    last_sr_at: float = 0.0

    def observe(self, packet: RtpPacket) -> None:
        sequence = packet.sequence
        if packet.ssrc != self.source_ssrc:
            self.source_ssrc = packet.ssrc
            self.base_sequence = self.max_sequence = sequence
            self.cycles = self.received = self.expected_prior = self.received_prior = 0
        else:
            wrapped = self.max_sequence - sequence > 0x8000
            if sequence < self.max_sequence and wrapped:
                self.cycles += 0x10000
            if sequence > self.max_sequence or wrapped:
                self.max_sequence = sequence
        self.received += 1

    def observe_rtcp(self, data: bytes, now: float) -> None:
        """Remember the middle 32 bits of a sender report's NTP time (for LSR/DLSR)."""
        offset = 0
        while offset + 4 <= len(data):
            first, kind, words = struct.unpack_from(">BBH", data, offset)
            size = (words + 1) * 4
            if first >> 6 != 2 or offset + size > len(data):
                return
            if kind == RTCP_SR and size >= 20:
                msw, lsw = struct.unpack_from(">II", data, offset + 8)
                self.last_sr, self.last_sr_at = ((msw & 0xFFFF) << 16) | (lsw >> 16), now
            offset += size

    def receiver_report(self, own_ssrc: int, now: float) -> bytes | None:
        if self.source_ssrc is None:
            return None
        extended_max = self.cycles + self.max_sequence
        expected = extended_max - self.base_sequence + 1
        expected_interval = expected - self.expected_prior
        lost_interval = expected_interval - (self.received - self.received_prior)
        fraction = (
            min(255, lost_interval * 256 // expected_interval)
            if expected_interval > 0 and lost_interval > 0
            else 0
        )
        self.expected_prior, self.received_prior = expected, self.received
        lost = max(-(1 << 23), min((1 << 23) - 1, expected - self.received)) & 0xFFFFFF
        delay = int((now - self.last_sr_at) * 65536) if self.last_sr_at else 0
        return struct.pack(
            ">BBHIIB3sIIII", 0x81, RTCP_RR, 7, own_ssrc, self.source_ssrc, fraction,
            lost.to_bytes(3, "big"), extended_max & 0xFFFFFFFF, 0, self.last_sr,
            delay & 0xFFFFFFFF,
        )  # fmt: skip


def rtcp_bye(own_ssrc: int) -> bytes:
    """An RTCP BYE for our own SSRC: the viewer is leaving."""
    return struct.pack(">BBHI", 0x81, RTCP_BYE, 1, own_ssrc)
