"""CXNet frame codec: Belkin's 2012/13 vectors, both public field readings, and fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.net.cxnet import (
    HEADER_SIZE,
    Action,
    CXNetError,
    Frame,
    FrameDecoder,
    decode_frame,
    encode_frame,
    looks_like_cxnet,
    looks_like_w0,
)
from tests.conftest import protocol_vector

VECTORS = protocol_vector("belkin_l7_samples.json")
FRAMES = {vector["name"]: vector for vector in VECTORS["frames"]}

# docs/protocol.md field name -> how to read it from a decoded Frame (and its raw bytes)
FIELD_READERS = {
    "name": lambda frame, raw: raw[0],
    "version": lambda frame, raw: frame.version,
    "total_len": lambda frame, raw: HEADER_SIZE + len(frame.session) + len(frame.options),
    "hlen": lambda frame, raw: len(frame.session),
    "direction": lambda frame, raw: frame.direction,
    "data_len": lambda frame, raw: len(frame.body),
    "service": lambda frame, raw: frame.service,
    "action": lambda frame, raw: frame.action,
    "crypto": lambda frame, raw: frame.crypto,
    "server_id": lambda frame, raw: frame.server_id.decode("latin-1"),
    "to": lambda frame, raw: frame.to,
    "from_hex": lambda frame, raw: frame.session.hex(),
    "options_latin1": lambda frame, raw: frame.options.decode("latin-1"),
    "data_latin1": lambda frame, raw: frame.body.decode("latin-1"),
}


@pytest.mark.parametrize(
    ("vector_name", "field"),
    [(name, field) for name, vector in FRAMES.items() for field in vector["decoded"]],
)
def test_belkin_vector_field(vector_name: str, field: str) -> None:
    vector = FRAMES[vector_name]
    raw = bytes.fromhex(vector["hex"])
    frame = decode_frame(raw)
    assert FIELD_READERS[field](frame, raw) == vector["decoded"][field]


@pytest.mark.parametrize("vector_name", FRAMES)
def test_belkin_vector_reencodes_byte_for_byte(vector_name: str) -> None:
    raw = bytes.fromhex(FRAMES[vector_name]["hex"])
    assert encode_frame(decode_frame(raw)) == raw


@pytest.mark.parametrize("prefix", VECTORS["prefixes"], ids=lambda p: p["name"])
def test_belkin_prefixes_are_classified(prefix: dict[str, str]) -> None:
    raw = bytes.fromhex(prefix["hex"])
    if prefix["name"].startswith("video-out"):
        assert looks_like_w0(raw) and not looks_like_cxnet(raw)
    else:
        assert looks_like_cxnet(raw) and not looks_like_w0(raw)


@pytest.mark.parametrize(
    "prefix", [b"GET / HTTP/1.1\r\n", b"\x16\x03\x01\x02\x00\x01", b"A\x03\x10\x00\x10\x00", b"A"]
)
def test_other_protocols_are_not_cxnet(prefix: bytes) -> None:
    assert not looks_like_cxnet(prefix)


def _r_reading(raw: bytes) -> dict[str, object]:
    """Field split as the R client reads it: options = total_len - hlen - 27 after the block."""
    total_len, hlen = struct.unpack_from("<HH", raw, 2)
    (data_len,) = struct.unpack_from("<I", raw, 7)
    return {
        "from": raw[27 : 27 + hlen],
        "options": raw[27 + hlen : total_len],
        "data": raw[total_len : total_len + data_len],
    }


def _k_reading(raw: bytes) -> dict[str, object]:
    """Field split as the K client reads it: body = everything from header_length on."""
    header_length, options_length = struct.unpack_from("<HH", raw, 2)
    return {
        "options": raw[27 : 27 + options_length],
        "source": raw[27 + options_length : header_length],
        "body": raw[header_length:],
    }


def test_both_public_readings_agree_with_the_codec() -> None:
    frame = Frame(
        action=Action.LOGIN,
        session=bytes(range(16)),
        options=b"CX_UNAME=\n",
        body=b"mode=0\n",
        version=1,
        crypto=2,
    )
    raw = encode_frame(frame)
    r_view, k_view = _r_reading(raw), _k_reading(raw)
    assert r_view == {"from": frame.session, "options": frame.options, "data": frame.body}
    assert k_view == {"options": frame.session, "source": frame.options, "body": frame.body}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: b"B" + raw[1:], "marker"),
        (lambda raw: raw[:4] + struct.pack("<H", 8) + raw[6:], "session block"),
        (lambda raw: raw[:4] + struct.pack("<H", 24) + raw[6:], "session block"),
        (lambda raw: raw[:2] + struct.pack("<H", 30) + raw[4:], "total_len"),
        (lambda raw: raw[:-1], "declares"),
        (lambda raw: raw + b"x", "declares"),
        (lambda raw: raw[:10], "shorter"),
    ],
)
def test_malformed_frames_raise_cxnet_error(mutate, message: str) -> None:
    raw = encode_frame(Frame(action=Action.COMMAND, options=b"a=b\n", body=b"x|"))
    with pytest.raises(CXNetError, match=message):
        decode_frame(mutate(raw))


def test_body_limit_is_enforced_from_the_header_alone() -> None:
    raw = encode_frame(Frame(action=Action.COMMAND, body=b"x" * 100))
    decoder = FrameDecoder(max_body=99)
    with pytest.raises(CXNetError, match="limit"):
        decoder.feed(raw[:HEADER_SIZE])


@pytest.mark.parametrize(
    "frame",
    [
        Frame(action=1, session=b"short"),
        Frame(action=1, server_id=b"***"),
        Frame(action=70000),
        Frame(action=1, to=-1),
        Frame(action=1, options=b"x" * 70000),
    ],
)
def test_unencodable_frames_raise_cxnet_error(frame: Frame) -> None:
    with pytest.raises(CXNetError):
        encode_frame(frame)


def test_decoder_handles_byte_by_byte_and_coalesced_reads() -> None:
    frames = [Frame(action=Action.KEEPALIVE), Frame(action=Action.COMMAND, body=b"a|b|")]
    stream = b"".join(encode_frame(frame) for frame in frames)
    decoder = FrameDecoder()
    one_by_one = [got for index in range(len(stream)) for got in decoder.feed(stream[index:][:1])]
    assert one_by_one == frames and decoder.buffered == 0
    assert FrameDecoder().feed(stream + stream) == frames + frames


def test_action_names() -> None:
    assert Frame(action=519).action_name == "login"
    assert Frame(action=4242).action_name == "4242"


frames_strategy = st.builds(
    Frame,
    action=st.integers(0, 0xFFFF),
    session=st.integers(1, 4).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n)),
    options=st.binary(max_size=300),
    body=st.binary(max_size=300),
    version=st.integers(0, 255),
    service=st.integers(0, 0xFFFF),
    crypto=st.integers(0, 0xFFFF),
    server_id=st.binary(min_size=2, max_size=2),
    to=st.integers(0, 2**64 - 1),
    direction=st.integers(0, 255),
)


@given(frames_strategy)
def test_round_trip(frame: Frame) -> None:
    assert decode_frame(encode_frame(frame)) == frame


@given(st.lists(frames_strategy, max_size=4), st.lists(st.integers(0, 2000), max_size=8))
def test_decoder_round_trip_in_random_splits(frames: list[Frame], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(frame) for frame in frames)
    decoder = FrameDecoder()
    got: list[Frame] = []
    last = 0
    for cut in [*sorted(min(cut, len(stream)) for cut in cuts), len(stream)]:
        got += decoder.feed(stream[last:cut])
        last = cut
    assert got == frames


@given(st.binary(max_size=200))
def test_decode_frame_raises_only_its_own_error(data: bytes) -> None:
    try:
        decode_frame(data)
    except CXNetError:
        pass


@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_decoder_raises_only_its_own_error(data: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder(max_body=256)
    last = 0
    try:
        for cut in [*sorted(cuts), len(data)]:
            decoder.feed(data[last:cut])
            last = max(last, cut)
    except CXNetError:
        pass


@given(st.binary(max_size=64))
def test_sniffers_never_raise(data: bytes) -> None:
    assert isinstance(looks_like_cxnet(data), bool) and isinstance(looks_like_w0(data), bool)
