"""`w0`/`w1`/`wa` sub-frames: an independently built AES vector, the 2012 `w0` prefixes, fuzzing."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.net.wframe import (
    SubFrame,
    WFrameError,
    WKind,
    build_subframe,
    detect_codec,
    identify,
    join_records,
    make_meta,
    open_subframe,
    parse_subframes,
    parse_w0_hello,
    seal,
    split_records,
    unseal,
)
from tests.conftest import protocol_vector

KEY = b"AbCdEfGh12345678"  # a p2pKey is 16 ASCII characters
IV = bytes(range(16))
SPS = b"\x00\x00\x00\x01\x67\x42\xc0\x1f"
IDR = b"\x00\x00\x00\x01\x65\x88\x84\x00\x33"


def hand_built_w1() -> bytes:
    """A w1 sub-frame written straight from docs/protocol.md §4.3, without the module's builders."""
    plaintext = struct.pack("<I", len(SPS)) + SPS + struct.pack("<I", len(IDR)) + IDR
    pad = 16 - len(plaintext) % 16
    padded = plaintext + bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(IV)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    meta = bytes([0x20, 0, 0, 1])  # top three bits 001: encrypted
    body = meta + IV + ciphertext
    return b"w1" + struct.pack("<I", len(body)) + body


def test_independent_w1_vector_decodes() -> None:
    (subframe,) = parse_subframes(hand_built_w1())
    assert subframe.kind is WKind.W1 and subframe.encrypted
    assert split_records(open_subframe(subframe, KEY)) == [SPS, IDR]


def test_builder_reproduces_the_independent_vector() -> None:
    built = build_subframe(
        WKind.W1,
        make_meta(encrypted=True, keyframe=True),
        seal(join_records([SPS, IDR]), KEY, IV),
    )
    assert built == hand_built_w1()


def test_length_field_is_payload_length_minus_six() -> None:
    data = hand_built_w1()
    assert struct.unpack_from("<I", data, 2)[0] == len(data) - 6


def test_unencrypted_wa_and_back_to_back_subframes() -> None:
    audio = build_subframe(WKind.WA, bytes(4), join_records([b"\xff" * 160]))
    video = build_subframe(WKind.W1, bytes(4), join_records([IDR]))
    first, second = parse_subframes(audio + video)
    assert (first.kind, second.kind) == (WKind.WA, WKind.W1)
    assert not first.encrypted and not second.encrypted
    assert split_records(open_subframe(second, None)) == [IDR]


def test_encrypted_without_key_or_with_wrong_key_fails_cleanly() -> None:
    (subframe,) = parse_subframes(hand_built_w1())
    with pytest.raises(WFrameError, match="no p2pKey"):
        open_subframe(subframe, None)
    with pytest.raises(WFrameError):
        open_subframe(subframe, b"wrong-key-123456")
    with pytest.raises(WFrameError, match="16 bytes"):
        open_subframe(subframe, b"short")


def vector_prefixes() -> list[dict[str, str]]:
    samples = protocol_vector("belkin_l7_samples.json")
    return [entry for entry in samples["prefixes"] if entry["hex"].startswith("7730")]


def test_vectors_contain_w0_prefixes() -> None:
    assert len(vector_prefixes()) >= 3


@pytest.mark.parametrize("entry", vector_prefixes(), ids=lambda entry: entry["name"])
def test_netcam_2012_prefixes_are_recognised_as_w0(entry: dict[str, str]) -> None:
    data = bytes.fromhex(entry["hex"])
    assert identify(data) is WKind.W0
    (subframe,) = parse_subframes(data)
    assert subframe.kind is WKind.W0 and subframe.legacy and not subframe.encrypted
    assert subframe.content == data[2:]
    hello = parse_w0_hello(data)
    assert len(hello.session) == 16
    assert hello.rest.startswith(b"\x42\xa0\x85")


def test_w0_hello_session_matches_the_cameras_cxnet_from() -> None:
    samples = protocol_vector("belkin_l7_samples.json")
    camera_from = bytes.fromhex(samples["frames"][0]["decoded"]["from_hex"])
    first = next(entry for entry in vector_prefixes() if entry["name"] == "video-out-first-1")
    assert parse_w0_hello(bytes.fromhex(first["hex"])).session[:8] == camera_from[:8]


def test_w0_with_w1_shape_is_read_like_w1() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(20) + b"\xff\xd9"
    data = build_subframe(WKind.W0, make_meta(encrypted=False, keyframe=True), join_records([jpeg]))
    (subframe,) = parse_subframes(data)
    assert not subframe.legacy
    assert split_records(open_subframe(subframe, None)) == [jpeg]


@pytest.mark.parametrize(
    ("media", "codec"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (SPS, "h264"),
        (b"\x00\x00\x01\x09\xf0", "h264"),
        (b"\x65\x88", "h264"),
        (b"\x80\x00", None),
        (b"\x00\x12", None),
        (b"", None),
    ],
)
def test_codec_is_detected_from_content(media: bytes, codec: str | None) -> None:
    assert detect_codec(media) == codec


@pytest.mark.parametrize(
    "payload",
    [b"", b"xx", b"w1\x10\x00\x00\x00", b"w1\x02\x00\x00\x00\x00\x00", b"wa" + bytes(20)],
    ids=["empty", "no-magic", "w1-short", "w1-length-below-meta", "wa-length-too-long"],
)
def test_malformed_subframes_are_refused(payload: bytes) -> None:
    with pytest.raises(WFrameError):
        parse_subframes(payload)


def test_malformed_records_and_ciphertexts_are_refused() -> None:
    for plaintext in (b"\x01\x00", b"\x00\x00\x00\x00", b"\x05\x00\x00\x00abc"):
        with pytest.raises(WFrameError):
            split_records(plaintext)
    with pytest.raises(WFrameError):
        join_records([b""])
    with pytest.raises(WFrameError):
        unseal(IV + bytes(15), KEY)
    with pytest.raises(WFrameError):
        seal(b"x", KEY, b"short iv")
    with pytest.raises(WFrameError):
        build_subframe(WKind.W1, b"\x00", b"")


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_parsers_raise_only_wframe_error(data: bytes) -> None:
    for parse in (parse_subframes, split_records, parse_w0_hello):
        try:
            parse(data)
        except WFrameError:
            pass
    try:
        unseal(data, KEY)
    except WFrameError:
        pass


@settings(max_examples=200)
@given(st.binary(max_size=64), st.binary(min_size=4, max_size=4))
def test_opening_arbitrary_encrypted_content_raises_only_wframe_error(
    content: bytes, meta: bytes
) -> None:
    try:
        open_subframe(SubFrame(WKind.W1, meta, content), KEY)
    except WFrameError:
        pass


@settings(max_examples=100)
@given(
    st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=5),
    st.binary(min_size=16, max_size=16),
)
def test_seal_and_records_round_trip(records: list[bytes], iv: bytes) -> None:
    data = build_subframe(
        WKind.W1, make_meta(encrypted=True, keyframe=False), seal(join_records(records), KEY, iv)
    )
    (subframe,) = parse_subframes(data)
    assert split_records(open_subframe(subframe, KEY)) == records
