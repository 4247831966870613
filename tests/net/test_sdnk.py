"""SDNK codec: byte layouts as both public Tend clients write them, round trips, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.net.sdnk import (
    Address,
    Connect,
    Connected,
    PacketType,
    Peers,
    Punch,
    Register,
    RelayAck,
    SdnkError,
    decode,
    is_sdnk,
)


def _id(text: str) -> bytes:
    return text.encode().ljust(32, b"\x00")


def _r_register(channel: int) -> bytes:
    """REQ_CONN_INFO written offset by offset the way reading R places the bytes."""
    packet = bytearray(111)
    packet[0:4] = b"SDNK"
    packet[4] = 0x01
    packet[7] = 0x01
    packet[0x10:0x14] = struct.pack(">I", 0x5B)
    packet[0x14] = 0x01
    packet[0x17] = channel
    packet[0x18] = ord("V")
    packet[0x19:0x1D] = bytes((192, 168, 1, 20))
    packet[0x2D:0x2F] = struct.pack(">H", 40001)
    packet[0x2F:0x4F] = _id("V_alice")
    packet[0x4F:0x6F] = _id("V_5")
    return bytes(packet)


def test_r_register_decodes_and_rebuilds_byte_for_byte() -> None:
    wire = _r_register(1)
    packet = decode(wire)
    assert packet == Register(1, "V", Address("192.168.1.20", 40001), ("V_alice", "V_5"))
    assert packet.encode() == wire


def test_k_register_layout() -> None:
    packet = Register(0, "A", Address("10.0.0.7", 5000), ("A_99", "A_99")).encode()
    assert packet[:8] == b"SDNK\x01\x00\x00\x01"
    assert struct.unpack_from(">I", packet, 16)[0] == 91 == len(packet) - 20
    assert packet[20:24] == b"\x01\x00\x00\x00"
    assert packet[24:25] == b"A"
    assert packet[25:29] == bytes((10, 0, 0, 7))
    assert packet[29:45] == bytes(16)
    assert packet[45:47] == struct.pack(">H", 5000)
    assert packet[47:79] == packet[79:111] == _id("A_99")


def test_peers_is_110_bytes_and_readable_both_ways() -> None:
    own_lan, own_public = Address("192.168.1.20", 40001), Address("203.0.113.9", 61000)
    peer = Address("127.0.0.1", 6178)
    wire = Peers.between(own_lan, own_public, peer).encode()
    assert len(wire) == 110 and wire[7] == PacketType.PEERS
    # Reading R: peer LAN host at 0x40, peer public host at 0x56, port at 0x54.
    assert wire[0x40:0x44] == bytes((127, 0, 0, 1)) == wire[0x56:0x5A]
    assert struct.unpack_from(">H", wire, 0x54)[0] == 6178
    # Reading K: slots at 20 + 22k, port at +20; the last slot is the fallback peer.
    slots = [(wire[o : o + 4], struct.unpack_from(">H", wire, o + 20)[0]) for o in (20, 42, 64, 86)]
    assert slots[0] == (bytes((192, 168, 1, 20)), 40001)
    assert slots[1] == (bytes((203, 0, 113, 9)), 61000)
    assert slots[3] == (bytes((127, 0, 0, 1)), 6178)
    assert decode(wire) == Peers((own_lan, own_public, peer, peer))


def test_peers_accepts_the_108_byte_reading() -> None:
    wire = Peers((Address("1.2.3.4", 1),) * 4, trailer=b"").encode()
    assert len(wire) == 108
    assert decode(wire).slots[3] == Address("1.2.3.4", 1)  # type: ignore[union-attr]


def test_relay_ack_and_punch_layouts() -> None:
    ack = RelayAck(1, "V", ("V_alice", "V_5")).encode()
    assert len(ack) == 87 and ack[20:23] == b"\x01\x01V" and ack[23:55] == _id("V_alice")
    punch = Punch(2, ("V_alice", "V_5")).encode()
    assert len(punch) == 86 and punch[7] == 3 and punch[20:22] == b"\x01\x02"
    assert punch[0x36:0x56] == _id("V_5")


def test_connect_readings() -> None:
    r_style = Connect(9, header_counter=9).encode()
    assert len(r_style) == 21 and struct.unpack_from(">I", r_style, 8)[0] == 9
    assert r_style[20] == 9
    k_style = Connect(1).encode()
    assert struct.unpack_from(">I", k_style, 8)[0] == 0
    assert decode(b"SDNK\x01\x00\x00\x04" + bytes(12)) == Connect(None)
    assert decode(Connected(7).encode()) == Connected(7)


def test_is_sdnk_separates_media() -> None:
    assert is_sdnk(Connected(1).encode())
    assert not is_sdnk(b"\x01\x00\x00\x00\x01\x00\x00\x00\x80\x60")
    assert not is_sdnk(b"SDNK\x01\x07\x01")  # K's talkback envelope is not a control packet


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"SDNK\x01\x00", "shorter than the header"),
        (b"SDNX\x01\x00\x00\x01" + bytes(12), "bad magic"),
        (b"SDNK\x01\x00\x00\x09" + bytes(12), "unknown SDNK packet type 9"),
        (b"SDNK\x01\x00\x00\x01" + bytes(8) + struct.pack(">I", 5) + bytes(3), "length field"),
        (b"SDNK\x01\x00\x00\x01" + bytes(12), "REGISTER payload is 0 bytes"),
        (b"SDNK\x01\x00\x00\x05" + bytes(8) + struct.pack(">I", 2) + b"ab", "expected 0 or 1"),
    ],
)
def test_malformed_packets_raise_sdnk_error(wire: bytes, message: str) -> None:
    with pytest.raises(SdnkError, match=message):
        decode(wire)


@pytest.mark.parametrize(
    "packet",
    [
        Register(0, "V", Address("not-ip", 1), ("V_1", "V_1")),
        Register(0, "V", Address("1.2.3.4", 70000), ("V_1", "V_1")),
        Register(300, "V", Address("1.2.3.4", 1), ("V_1", "V_1")),
        Register(0, "VV", Address("1.2.3.4", 1), ("V_1", "V_1")),
        Punch(0, ("x" * 33, "V_1")),
        Punch(0, ("é", "V_1")),
        Connect(1, header_counter=-1),
    ],
)
def test_unbuildable_packets_raise_sdnk_error(packet: Register | Punch | Connect) -> None:
    with pytest.raises(SdnkError):
        packet.encode()


media_ids = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=127), min_size=0, max_size=32
)
addresses = st.builds(
    Address,
    st.ip_addresses(v=4).map(str),
    st.integers(0, 0xFFFF),
)
byte = st.integers(0, 255)
id_pairs = st.tuples(media_ids, media_ids)
packets = st.one_of(
    st.builds(Register, byte, st.sampled_from("VA"), addresses, id_pairs),
    st.builds(Peers, st.tuples(addresses, addresses, addresses, addresses), st.binary(max_size=8)),
    st.builds(RelayAck, byte, st.sampled_from("VA"), id_pairs),
    st.builds(Punch, byte, id_pairs),
    st.builds(Connect, st.none() | byte, st.integers(0, 0xFFFFFFFF)),
    st.builds(Connected, st.none() | byte),
)


@given(packets)
def test_round_trip(packet: Register) -> None:
    wire = packet.encode()
    assert is_sdnk(wire)
    assert decode(wire) == packet


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_sdnk_error(wire: bytes) -> None:
    try:
        decode(wire)
    except SdnkError:
        pass


@given(st.integers(0, 255), st.binary(max_size=120))
def test_arbitrary_payloads_raise_only_sdnk_error(type_byte: int, payload: bytes) -> None:
    wire = b"SDNK\x01\x00\x00" + bytes((type_byte,)) + bytes(8) + struct.pack(">I", len(payload))
    try:
        decode(wire + payload)
    except SdnkError:
        pass
