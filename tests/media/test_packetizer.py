"""The simulated camera's packetizer, checked layer by layer with independent decoding."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fakecloud.media.frames import MediaFrame
from fakecloud.media.packetizer import Packetizer, PacketizerError
from fakecloud.media.testpattern import TestPattern

KEY = b"0123456789abcdef"


def unchunk(datagrams: list[bytes]) -> list[bytes]:
    """RTP packets, assuming in-order chunks (K's reading: a new frame number ends a packet)."""
    packets: dict[int, bytes] = {}
    for datagram in datagrams:
        (number,) = struct.unpack_from("<I", datagram)
        packets[number] = packets.get(number, b"") + datagram[8:]
    return list(packets.values())


def records_of(plaintext: bytes) -> list[bytes]:
    records = []
    while plaintext:
        (length,) = struct.unpack_from("<I", plaintext)
        records.append(plaintext[4 : 4 + length])
        plaintext = plaintext[4 + length :]
    return records


def decrypt(blob: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(blob[:16])).decryptor()
    padded = decryptor.update(blob[16:]) + decryptor.finalize()
    return padded[: -padded[-1]]


def test_h264_frames_become_encrypted_w1_in_rtp_in_chunks() -> None:
    frames = list(TestPattern("h264", 320, 180, fps=15).frames(3))
    packetizer = Packetizer(KEY, mtu=200, ssrc=0xABCD, first_sequence=65535)
    for index, frame in enumerate(frames):
        datagrams = packetizer.packetize(frame)
        assert all(len(datagram) <= 200 for datagram in datagrams)
        (rtp,) = unchunk(datagrams)
        assert rtp[0] >> 6 == 2 and rtp[1] & 0x80  # version 2, marker
        sequence, timestamp, ssrc = struct.unpack_from("!HII", rtp, 2)
        assert (sequence, timestamp, ssrc) == ((65535 + index) % 65536, 6000 * index, 0xABCD)
        payload = rtp[12:]
        assert payload[:2] == b"w1"
        assert struct.unpack_from("<I", payload, 2)[0] == len(payload) - 6
        assert payload[6] >> 5 == 1 and payload[9] == frame.keyframe
        records = records_of(decrypt(payload[10:]))
        assert all(record.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")) for record in records)
        assert b"".join(records) == frame.data


def test_without_key_h264_goes_out_unencrypted() -> None:
    (frame,) = TestPattern("h264", 160, 96).frames(1)
    (rtp,) = unchunk(Packetizer(None).packetize(frame))
    assert rtp[12:14] == b"w1" and rtp[18] >> 5 == 0
    assert b"".join(records_of(rtp[22:])) == frame.data


def test_jpeg_goes_out_as_unencrypted_w0() -> None:
    (frame,) = TestPattern("jpeg", 160, 96).frames(1)
    (rtp,) = unchunk(Packetizer(KEY).packetize(frame))
    assert rtp[12:14] == b"w0" and rtp[18] >> 5 == 0
    assert records_of(rtp[22:]) == [frame.data]


def test_big_jpeg_spans_several_rtp_packets_with_one_timestamp() -> None:
    (frame,) = TestPattern("jpeg", 1280, 720).frames(1)
    packetizer = Packetizer(None, mtu=60)
    assert len(frame.data) > packetizer.record_budget
    packets = unchunk(packetizer.packetize(frame))
    assert len(packets) > 1
    assert {struct.unpack_from("!I", packet, 4)[0] for packet in packets} == {0}
    assert [bool(packet[1] & 0x80) for packet in packets] == [False] * (len(packets) - 1) + [True]
    assert b"".join(records_of(packet[22:])[0] for packet in packets) == frame.data


def test_counters_wrap() -> None:
    packetizer = Packetizer(None, first_sequence=65535, first_frame_number=0xFFFFFFFF)
    frame = MediaFrame("h264", b"\x00\x00\x00\x01\x65\x88", 0.0, True)
    first, second = (packetizer.packetize(frame)[0] for _ in range(2))
    assert struct.unpack_from("<I", first)[0] == 0xFFFFFFFF
    assert struct.unpack_from("<I", second)[0] == 0
    assert struct.unpack_from("!H", second, 10)[0] == 0


def test_impossible_input_is_refused() -> None:
    with pytest.raises(PacketizerError):
        Packetizer(b"short")
    with pytest.raises(PacketizerError):
        Packetizer(None, mtu=10)
    packetizer = Packetizer(None, mtu=20)
    with pytest.raises(PacketizerError):
        packetizer.packetize(MediaFrame("h264", b"", 0.0, False))
    huge_nal = b"\x00\x00\x00\x01\x65" + bytes(packetizer.record_budget)
    with pytest.raises(PacketizerError):
        packetizer.packetize(MediaFrame("h264", huge_nal, 0.0, True))
