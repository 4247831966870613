"""The public clients' codecs (tests/interop/wire.py): known bytes, and fuzzing of every parser."""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from tests.interop.wire import (
    PEERS,
    CxFrame,
    FrameReader,
    KAssembler,
    RAssembler,
    ReceptionStats,
    WireError,
    encode_frame,
    k_cameras,
    k_login_frame,
    k_peers,
    k_properties,
    k_redirect,
    k_w1_records,
    load_properties,
    media_id,
    parse_rtp,
    r_login_frame,
    r_peers,
    r_properties,
    r_redirect,
    register,
    relay_offer,
    sdnk,
    w1_records,
)

KEY = b"0123456789abcdef"
TEXT = st.text(st.characters(min_codepoint=1, max_codepoint=255, blacklist_characters="\f"))


def test_the_login_packets_carry_no_user_name_and_the_token() -> None:
    for packet, version in ((r_login_frame("jwt"), 1), (k_login_frame("jwt"), 3)):
        (frame,) = FrameReader().feed(packet)
        options = load_properties(frame.options)
        assert (frame.version, frame.action, frame.crypto) == (version, 519, 2)
        assert options["CX_UNAME"] == "" and options["CX_PASSWD"] == "myQ.accessToken:jwt"
        assert frame.body == (frame.body[: len(frame.body) // 2]) * 2
    assert b"CX_PASSWD=myQ.accessToken\\:jwt" in k_login_frame("jwt"), "K escapes ':' in values"
    (k_frame,) = FrameReader().feed(k_login_frame("jwt"))
    assert k_frame.options.startswith(b"#") and k_frame.body.startswith(b"#")


def test_redirect_readings() -> None:
    assert r_redirect({"1": "broker.seedonk.com:5105"}) == ("broker.seedonk.com", 5105)
    assert r_redirect({"sid": "x"}) is None
    assert k_redirect({"redirectHost": "b.example", "1": "c:1"}) == "b.example"
    assert k_redirect({"1": "broker.seedonk.com:5105"}) == "broker.seedonk.com"


def test_k_reads_the_camera_list_as_cxs_ts_does() -> None:
    cameras = k_cameras(
        {
            "self-list": "7:00:11:22:33:44:55,Porch,cam,online,alice,oc9:00:11:22:33:44:55",
            "device-info-list": "7:00:11:22:33:44:55,MAC=00:11:22:33:44:55+AES=k+LIP=10.0.0.5"
            "+LPORT=9490+PWR_SLEEP_MODE=DEEP\nnot a camera",
        }
    )
    (camera,) = cameras
    assert (camera.device_id, camera.alias, camera.destination) == (
        "7",
        "oc9:00:11:22:33:44:55",
        "7:00:11:22:33:44:55",
    )
    assert (camera.aes_key, camera.local_port, camera.online) == ("k", 9490, False)


def _peers_packet(endpoints: list[tuple[bytes, int]]) -> bytes:
    payload = b"".join(ip + bytes(16) + struct.pack(">H", port) for ip, port in endpoints)
    return sdnk(PEERS, payload)


def test_both_readings_of_a_peers_packet() -> None:
    packet = _peers_packet([(bytes([127, 0, 0, 1]), 1000 + k) for k in range(4)])
    assert len(packet) == 108
    assert k_peers(packet) == [], "K wants exactly 110 bytes"
    assert k_peers(packet + b"\0\0") == [("127.0.0.1", 1000 + k) for k in range(4)]
    found = r_peers(packet)
    assert found is not None and found.port == 1002 and found.lan_ip == "127.0.0.1"


def test_register_layout_matches_both_clients() -> None:
    packet = register(1, "10.1.2.3", 4321, (media_id("alice"), media_id("cam")))
    assert len(packet) == 111 and packet[7] == 1 and packet[0x17] == 1 and packet[0x18] == ord("V")
    assert packet[0x19:0x1D] == bytes([10, 1, 2, 3]) and packet[0x2D:0x2F] == b"\x10\xe1"
    assert packet[0x2F:0x4F].rstrip(b"\0") == b"V_alice"


def _w1(records: list[bytes], key: bytes = KEY) -> bytes:
    plain = b"".join(struct.pack("<I", len(record)) + record for record in records)
    padder = padding.PKCS7(128).padder()
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    body = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    meta = bytes([0x20, 0, 0, 0])
    return b"w1" + struct.pack("<I", 4 + 16 + len(body)) + meta + iv + body


@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=5))
def test_w1_decrypts_to_the_records(records: list[bytes]) -> None:
    payload = _w1(records)
    assert w1_records(payload, KEY) == records == k_w1_records(payload, KEY)
    assert w1_records(payload + payload, KEY) == records * 2, "R reads several sub-frames"
    assert k_w1_records(payload + payload, KEY) == [], "K wants one filling the payload"


def test_a_wrong_key_is_a_decrypt_failure() -> None:
    try:
        w1_records(_w1([b"\0\0\0\1" + bytes(40)]), b"fedcba9876543210")
    except WireError:
        return
    raise AssertionError("a wrong key went unnoticed")  # (or padding happened to fit: rare)


@given(st.binary(max_size=400), st.binary(min_size=16, max_size=16))
def test_w1_parsing_never_fails_unexpectedly(payload: bytes, key: bytes) -> None:
    try:
        w1_records(payload, key)
        k_w1_records(payload, key)
    except WireError:
        pass


@given(st.binary(min_size=12, max_size=2000), st.integers(1, 9), st.integers(0, 255))
def test_chunks_reassemble_to_the_rtp_packet(packet: bytes, parts: int, frame_id: int) -> None:
    size = -(-len(packet) // parts)
    pieces = [packet[i : i + size] for i in range(0, len(packet), size)]
    r, k = RAssembler(), KAssembler()
    r_done, k_done = [], []
    for index, piece in reversed(list(enumerate(pieces))):  # R sorts by index
        header = bytes([frame_id, 0, 0, 0, len(pieces), 0, index, 0])
        r_done += r.feed(header + piece, 0.0)
    for piece in pieces:
        k_done += k.feed(struct.pack("<I", frame_id) + bytes(4) + piece)
    k_done += k.feed(struct.pack("<I", frame_id + 1) + bytes(4) + b"next")
    assert r_done == k_done == [packet]


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_assemblers_take_any_datagrams(datagrams: list[bytes]) -> None:
    r, k = RAssembler(), KAssembler()
    for moment, datagram in enumerate(datagrams):
        r.feed(datagram, float(moment))
        k.feed(datagram)
    assert len(r.partial) <= 256


@given(st.binary(max_size=300))
def test_sdnk_and_rtp_readers_take_any_bytes(data: bytes) -> None:
    r_peers(data)
    k_peers(data)
    parse_rtp(data)
    stats = ReceptionStats()
    stats.observe_rtcp(data, 1.0)
    try:
        relay_offer(data)
    except WireError:
        pass


@given(st.dictionaries(TEXT, TEXT, max_size=6))
def test_properties_round_trip_in_both_styles(values: dict[str, str]) -> None:
    values = {key: value for key, value in values.items() if key}
    assert load_properties(r_properties(values)) == values
    assert load_properties(k_properties(values)) == values


@given(st.binary(max_size=500))
def test_properties_parse_any_bytes(data: bytes) -> None:
    load_properties(data)
    k_cameras(load_properties(data))


@given(
    st.lists(
        st.builds(
            CxFrame,
            action=st.integers(0, 65535),
            block=st.sampled_from([bytes(16), os.urandom(32)]),
            options=st.binary(max_size=200),
            body=st.binary(max_size=500),
            version=st.integers(0, 255),
            crypto=st.integers(0, 65535),
        ),
        max_size=4,
    ),
    st.integers(1, 50),
)
def test_frames_survive_any_split(frames: list[CxFrame], step: int) -> None:
    stream = b"".join(encode_frame(frame) for frame in frames)
    reader, decoded = FrameReader(), []
    for start in range(0, len(stream), step):
        decoded += reader.feed(stream[start : start + step])
    assert decoded == frames


@given(st.binary(max_size=300))
def test_frame_reader_takes_any_bytes(data: bytes) -> None:
    try:
        FrameReader().feed(data)
    except WireError:
        pass


def test_receiver_report_after_media() -> None:
    stats = ReceptionStats()
    assert stats.receiver_report(1, 0.0) is None, "K reports only once media came"
    for sequence in (65534, 65535, 0, 1):
        rtp = bytes([0x80, 96]) + struct.pack(">HII", sequence, 0, 42)
        packet = parse_rtp(rtp)
        assert packet is not None
        stats.observe(packet)
    report = stats.receiver_report(7, 1.0)
    assert report is not None and len(report) == 32 and report[1] == 201
    assert struct.unpack_from(">II", report, 4) == (7, 42)
    assert struct.unpack_from(">I", report, 16)[0] == 0x10001, "the sequence wrapped once"
