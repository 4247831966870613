"""SDNK rendezvous packets: the UDP control messages of the Seedonk/Tend media relay.

Layouts follow docs/protocol.md section 4 and the two public Tend clients it cites, "R"
(rfiorentino1/homebridge-myq src/tend-stream.ts) and "K" (KyleBoyer/homebridge-myq-camera
src/p2p.ts). Every packet is a 20-byte header followed by a payload:

    0  "SDNK"   4  01 00 00   7  type   8..15 (R: CONNECT counter u32 BE at 8)   16  u32 BE length

Where the two clients disagree the parser accepts both readings:

- the `<ctl>` byte of REGISTER / RELAY_ACK is RTP-vs-RTCP socket to K and channel 0/1 to R; we
  keep the number and call it `channel`;
- R puts its own alias first and the camera's second in the two 32-byte ids, K repeats the
  camera's id twice; both are kept verbatim;
- R's CONNECT repeats its counter as a u32 at header offset 8, K leaves the header zero and may
  send an empty payload (K's answer to an empty CONNECT is CONNECTED with byte 1);
- PEERS: K insists on exactly 110 bytes, R on at least 108; we build 110 and accept >= 108.

Pure: bytes in, objects out; any malformed input raises SdnkError and nothing else.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum

MAGIC = b"SDNK"
VERSION = b"\x01\x00\x00"
HEADER_SIZE = 20
ID_SIZE = 32
# One address slot: IPv4, 16 bytes that both clients leave zero (room for IPv6 [I]), u16 BE port.
ADDRESS_SLOT_SIZE = 22
PEER_SLOTS = 4
# Both clients start every REGISTER/RELAY_ACK/PUNCH payload with the byte 1 (R: "version").
PAYLOAD_LEAD = 1

_HEADER = struct.Struct(">4s3sB4s4sI")
_PORT = struct.Struct(">H")
_COUNTER = struct.Struct(">I")

REGISTER_PAYLOAD_SIZE = 4 + 1 + ADDRESS_SLOT_SIZE + 2 * ID_SIZE  # 91
RELAY_ACK_PAYLOAD_SIZE = 3 + 2 * ID_SIZE  # 67
PUNCH_PAYLOAD_SIZE = 2 + 2 * ID_SIZE  # 66
PEERS_MIN_PAYLOAD_SIZE = PEER_SLOTS * ADDRESS_SLOT_SIZE  # 88 (R reads up to here)
PEERS_TRAILER = b"\x00\x00"  # K requires the 110-byte total; the meaning of these 2 bytes is [U]
MAX_PAYLOAD_SIZE = 1024


class SdnkError(ValueError):
    """A datagram that is not a well-formed SDNK control packet, or an unbuildable one."""


class PacketType(IntEnum):
    REGISTER = 1  # R: REQ_CONN_INFO
    PEERS = 2  # R: CONN_INFO
    PUNCH = 3  # R: REQ_PUNCH
    CONNECT = 4  # R: RES_PUNCH
    CONNECTED = 5  # R: ACK_PUNCH
    RELAY_ACK = 100  # R: ACK_CONN_INFO


@dataclass(frozen=True, slots=True)
class Address:
    """An IPv4 host and port as carried in one 22-byte address slot."""

    host: str
    port: int

    def encode(self) -> bytes:
        try:
            packed = ipaddress.IPv4Address(self.host).packed
        except ValueError as error:
            raise SdnkError(f"not an IPv4 address: {self.host!r}") from error
        if not 0 <= self.port <= 0xFFFF:
            raise SdnkError(f"port out of range: {self.port}")
        return packed + bytes(16) + _PORT.pack(self.port)

    @classmethod
    def decode(cls, slot: bytes) -> Address:
        host = str(ipaddress.IPv4Address(slot[:4]))
        return cls(host, _PORT.unpack_from(slot, 20)[0])


UNSPECIFIED = Address("0.0.0.0", 0)


def _encode_id(media_id: str) -> bytes:
    try:
        raw = media_id.encode("ascii")
    except UnicodeEncodeError as error:
        raise SdnkError(f"media id must be ASCII: {media_id!r}") from error
    if len(raw) > ID_SIZE or b"\x00" in raw:
        raise SdnkError(f"media id must be at most {ID_SIZE} bytes without NUL: {media_id!r}")
    return raw.ljust(ID_SIZE, b"\x00")


def _decode_id(field: bytes) -> str:
    # Zero padded; anything after the first NUL is padding (tolerated, not interpreted).
    return field.split(b"\x00", 1)[0].decode("latin-1")


def _encode_ids(ids: tuple[str, str]) -> bytes:
    return _encode_id(ids[0]) + _encode_id(ids[1])


def _decode_ids(payload: bytes, offset: int) -> tuple[str, str]:
    return (
        _decode_id(payload[offset : offset + ID_SIZE]),
        _decode_id(payload[offset + ID_SIZE : offset + 2 * ID_SIZE]),
    )


def _encode_kind(kind: str) -> bytes:
    if len(kind) != 1 or not kind.isascii():
        raise SdnkError(f"kind must be one ASCII letter: {kind!r}")
    return kind.encode("ascii")


def _byte(value: int, what: str) -> int:
    if not 0 <= value <= 0xFF:
        raise SdnkError(f"{what} must fit in one byte: {value}")
    return value


def _frame(packet_type: PacketType, payload: bytes, header_word: int = 0) -> bytes:
    if not 0 <= header_word <= 0xFFFFFFFF:
        raise SdnkError(f"header counter out of range: {header_word}")
    return (
        _HEADER.pack(
            MAGIC,
            VERSION,
            packet_type,
            _COUNTER.pack(header_word),
            bytes(4),
            len(payload),
        )
        + payload
    )


@dataclass(frozen=True, slots=True)
class Register:
    """Type 1: an end announces itself (and its LAN address) to the relay."""

    channel: int  # K: 0 RTP socket, 1 RTCP socket (port + 1); R: channel 0 video, 1 "audio"
    kind: str  # "V" video, "A" audio (K); R always sends "V"
    lan: Address
    ids: tuple[str, str]  # R: (own alias, camera alias) with "V_" prefix; K: camera id twice

    def encode(self) -> bytes:
        payload = (
            bytes((PAYLOAD_LEAD, 0, 0, _byte(self.channel, "channel")))
            + _encode_kind(self.kind)
            + self.lan.encode()
            + _encode_ids(self.ids)
        )
        return _frame(PacketType.REGISTER, payload)

    @classmethod
    def _decode(cls, payload: bytes) -> Register:
        _require_size(payload, REGISTER_PAYLOAD_SIZE, "REGISTER")
        return cls(
            channel=payload[3],
            kind=chr(payload[4]),
            lan=Address.decode(payload[5 : 5 + ADDRESS_SLOT_SIZE]),
            ids=_decode_ids(payload, 5 + ADDRESS_SLOT_SIZE),
        )


@dataclass(frozen=True, slots=True)
class Peers:
    """Type 2: the relay tells an end where to punch.

    Slots 0 and 1 are read as the receiver's own LAN and public address and slots 2 and 3 as the
    peer's LAN and public address [I]: R takes the peer's LAN host from slot 2, its public host
    from slot 3 and the port from slot 2 only; K tries every slot and falls back to the last.
    """

    slots: tuple[Address, Address, Address, Address]
    trailer: bytes = PEERS_TRAILER

    def encode(self) -> bytes:
        if len(self.trailer) > MAX_PAYLOAD_SIZE - PEERS_MIN_PAYLOAD_SIZE:
            raise SdnkError("PEERS trailer too long")
        return _frame(
            PacketType.PEERS, b"".join(slot.encode() for slot in self.slots) + self.trailer
        )

    @classmethod
    def between(cls, own_lan: Address, own_public: Address, peer: Address) -> Peers:
        """The receiver's own addresses and one peer address in both peer slots (so R's
        port-from-slot-2 reading is right whichever host it picks)."""
        return cls((own_lan, own_public, peer, peer))

    @classmethod
    def _decode(cls, payload: bytes) -> Peers:
        if len(payload) < PEERS_MIN_PAYLOAD_SIZE:
            raise SdnkError(f"PEERS payload is {len(payload)} bytes, need {PEERS_MIN_PAYLOAD_SIZE}")
        slots = tuple(
            Address.decode(payload[start : start + ADDRESS_SLOT_SIZE])
            for start in range(0, PEERS_MIN_PAYLOAD_SIZE, ADDRESS_SLOT_SIZE)
        )
        return cls(slots=slots, trailer=payload[PEERS_MIN_PAYLOAD_SIZE:])  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RelayAck:
    """Type 100: an end confirms it received PEERS (sent to the relay by both clients)."""

    channel: int
    kind: str
    ids: tuple[str, str]

    def encode(self) -> bytes:
        payload = (
            bytes((PAYLOAD_LEAD, _byte(self.channel, "channel")))
            + _encode_kind(self.kind)
            + _encode_ids(self.ids)
        )
        return _frame(PacketType.RELAY_ACK, payload)

    @classmethod
    def _decode(cls, payload: bytes) -> RelayAck:
        _require_size(payload, RELAY_ACK_PAYLOAD_SIZE, "RELAY_ACK")
        return cls(channel=payload[1], kind=chr(payload[2]), ids=_decode_ids(payload, 3))


@dataclass(frozen=True, slots=True)
class Punch:
    """Type 3: a hole-punching probe sent to the peer; `sequence` counts 0, 1, 2."""

    sequence: int
    ids: tuple[str, str]

    def encode(self) -> bytes:
        payload = bytes((PAYLOAD_LEAD, _byte(self.sequence, "sequence"))) + _encode_ids(self.ids)
        return _frame(PacketType.PUNCH, payload)

    @classmethod
    def _decode(cls, payload: bytes) -> Punch:
        _require_size(payload, PUNCH_PAYLOAD_SIZE, "PUNCH")
        return cls(sequence=payload[1], ids=_decode_ids(payload, 2))


@dataclass(frozen=True, slots=True)
class Connect:
    """Type 4: "I hear you", with a counter byte (None: K's tolerated empty payload).

    R also writes its counter as a u32 at header offset 8 (`header_counter`); K writes zero.
    """

    counter: int | None
    header_counter: int = 0

    def encode(self) -> bytes:
        payload = b"" if self.counter is None else bytes((_byte(self.counter, "counter"),))
        return _frame(PacketType.CONNECT, payload, self.header_counter)

    @classmethod
    def _decode(cls, payload: bytes, header_counter: int) -> Connect:
        return cls(counter=_optional_byte(payload, "CONNECT"), header_counter=header_counter)


@dataclass(frozen=True, slots=True)
class Connected:
    """Type 5: the answer to CONNECT, echoing its counter byte."""

    echo: int | None

    def encode(self) -> bytes:
        payload = b"" if self.echo is None else bytes((_byte(self.echo, "echo"),))
        return _frame(PacketType.CONNECTED, payload)

    @classmethod
    def _decode(cls, payload: bytes) -> Connected:
        return cls(echo=_optional_byte(payload, "CONNECTED"))


SdnkPacket = Register | Peers | RelayAck | Punch | Connect | Connected


def _require_size(payload: bytes, size: int, name: str) -> None:
    if len(payload) != size:
        raise SdnkError(f"{name} payload is {len(payload)} bytes, expected {size}")


def _optional_byte(payload: bytes, name: str) -> int | None:
    if len(payload) > 1:
        raise SdnkError(f"{name} payload is {len(payload)} bytes, expected 0 or 1")
    return payload[0] if payload else None


def is_sdnk(datagram: bytes) -> bool:
    """True when the datagram claims to be an SDNK control packet (media never starts so [I])."""
    return datagram[:4] == MAGIC and datagram[4:7] == VERSION


def decode(datagram: bytes) -> SdnkPacket:
    """Parse one SDNK control datagram; SdnkError for anything malformed or of unknown type."""
    if len(datagram) < HEADER_SIZE:
        raise SdnkError(f"SDNK packet is {len(datagram)} bytes, shorter than the header")
    magic, version, type_byte, header_word, _, length = _HEADER.unpack_from(datagram)
    if magic != MAGIC or version != VERSION:
        raise SdnkError("not an SDNK packet (bad magic or version)")
    payload = datagram[HEADER_SIZE:]
    if length != len(payload):
        raise SdnkError(f"SDNK length field says {length}, payload has {len(payload)} bytes")
    if length > MAX_PAYLOAD_SIZE:
        raise SdnkError(f"SDNK payload of {length} bytes is too large")
    match type_byte:
        case PacketType.REGISTER:
            return Register._decode(payload)
        case PacketType.PEERS:
            return Peers._decode(payload)
        case PacketType.RELAY_ACK:
            return RelayAck._decode(payload)
        case PacketType.PUNCH:
            return Punch._decode(payload)
        case PacketType.CONNECT:
            return Connect._decode(payload, _COUNTER.unpack(header_word)[0])
        case PacketType.CONNECTED:
            return Connected._decode(payload)
    raise SdnkError(f"unknown SDNK packet type {type_byte}")
