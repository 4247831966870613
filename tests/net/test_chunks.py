"""Media chunks: header layout as both public clients read it, and reassembly under loss."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.net.chunks import (
    MAX_CHUNKS,
    Chunk,
    ChunkAssembler,
    ChunkError,
    build_chunk,
    parse_chunk,
    split_packet,
)


def test_header_matches_both_readings() -> None:
    datagram = build_chunk(Chunk(0x01020304, 3, 2, b"frag", b"\xaa\xbb"))
    # K: u32 LE frame number; R: byte 0 frame id, byte 4 count, byte 6 index.
    assert struct.unpack_from("<I", datagram)[0] == 0x01020304
    assert datagram[0] == 0x04
    assert datagram[4] == 3 and datagram[6] == 2
    assert datagram[5] == 0xAA and datagram[7] == 0xBB
    assert datagram[8:] == b"frag"
    assert parse_chunk(datagram) == Chunk(0x01020304, 3, 2, b"frag", b"\xaa\xbb")


def test_k_style_single_chunk_talkback_header_parses() -> None:
    # K's talkback: u32 LE frame index, then u16 LE 1 at offset 4, index bytes zero.
    datagram = struct.pack("<IH", 7, 1) + b"\x00\x00" + b"rtp"
    assert parse_chunk(datagram) == Chunk(7, 1, 0, b"rtp")


@pytest.mark.parametrize(
    "datagram",
    [b"", b"\x00" * 7, bytes(8), struct.pack("<IBBBB", 1, 2, 0, 3, 0)],
    ids=["empty", "short", "count-zero", "index-beyond-count"],
)
def test_malformed_chunks_are_refused(datagram: bytes) -> None:
    with pytest.raises(ChunkError):
        parse_chunk(datagram)


@pytest.mark.parametrize(
    "chunk",
    [
        Chunk(-1, 1, 0, b""),
        Chunk(1 << 32, 1, 0, b""),
        Chunk(0, 0, 0, b""),
        Chunk(0, MAX_CHUNKS + 1, 0, b""),
        Chunk(0, 2, 3, b""),
        Chunk(0, 1, 0, b"", b"\x00"),
    ],
)
def test_unbuildable_chunks_are_refused(chunk: Chunk) -> None:
    with pytest.raises(ChunkError):
        build_chunk(chunk)


def test_split_packet_respects_mtu_and_concatenates_back() -> None:
    packet = bytes(range(256)) * 10
    datagrams = split_packet(5, packet, mtu=100)
    assert all(len(datagram) <= 100 for datagram in datagrams)
    chunks = [parse_chunk(datagram) for datagram in datagrams]
    assert [chunk.chunk_index for chunk in chunks] == list(range(len(chunks)))
    assert {chunk.chunk_count for chunk in chunks} == {len(chunks)} == {28}
    assert b"".join(chunk.fragment for chunk in chunks) == packet


def test_split_packet_refuses_what_cannot_be_sent() -> None:
    with pytest.raises(ChunkError):
        split_packet(0, b"x", mtu=8)
    with pytest.raises(ChunkError):
        split_packet(0, bytes(MAX_CHUNKS * 2 + 1), mtu=10)
    assert len(split_packet(0, bytes(MAX_CHUNKS * 2), mtu=10)) == MAX_CHUNKS


def chunks_of(frame_number: int, packet: bytes, mtu: int = 20) -> list[Chunk]:
    return [parse_chunk(datagram) for datagram in split_packet(frame_number, packet, mtu)]


def test_out_of_order_chunks_complete_once() -> None:
    assembler = ChunkAssembler()
    packet = b"0123456789" * 5
    chunks = chunks_of(1, packet)
    results = [assembler.add(chunk, 0.0) for chunk in reversed(chunks)]
    assert results[:-1] == [None] * (len(chunks) - 1)
    assert results[-1] == packet
    assert assembler.stats.completed == 1 and assembler.in_flight == 0


def test_one_based_indices_are_accepted() -> None:
    assembler = ChunkAssembler()
    assert assembler.add(Chunk(9, 2, 2, b"world"), 0.0) is None
    assert assembler.add(Chunk(9, 2, 1, b"hello "), 0.0) == b"hello world"


def test_duplicates_and_late_chunks_are_counted_not_delivered_twice() -> None:
    assembler = ChunkAssembler()
    first, second = chunks_of(3, b"a" * 24)
    assert assembler.add(first, 0.0) is None
    assert assembler.add(first, 0.0) is None
    assert assembler.add(second, 0.0) == b"a" * 24
    assert assembler.add(second, 0.0) is None
    assert (assembler.stats.duplicates, assembler.stats.stale) == (1, 1)


def test_chunk_count_disagreement_is_counted() -> None:
    assembler = ChunkAssembler()
    assembler.add(Chunk(4, 3, 0, b"x"), 0.0)
    assert assembler.add(Chunk(4, 2, 1, b"y"), 0.0) is None
    assert assembler.stats.inconsistent == 1


def test_incomplete_frame_times_out() -> None:
    assembler = ChunkAssembler(timeout=2.0)
    first, _ = chunks_of(1, b"b" * 24)
    assembler.add(first, 10.0)
    assembler.expire(11.9)
    assert assembler.in_flight == 1
    assembler.expire(12.1)
    assert (assembler.in_flight, assembler.stats.lost) == (0, 1)


def test_incomplete_frame_is_given_up_when_newer_frames_complete() -> None:
    assembler = ChunkAssembler(reorder_window=3)
    assembler.add(chunks_of(0, b"c" * 30)[0], 0.0)
    for number in range(1, 5):
        (single,) = chunks_of(number, b"d")
        assert assembler.add(single, 0.0) == b"d"
    assembler.expire(0.0)
    assert (assembler.in_flight, assembler.stats.lost) == (0, 1)


def test_frames_in_flight_are_bounded() -> None:
    assembler = ChunkAssembler(max_in_flight=4)
    for number in range(100):
        assembler.add(Chunk(number, 2, 0, b"e"), 0.0)
        assert assembler.in_flight <= 4
    assert assembler.stats.lost == 96


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_parse_chunk_raises_only_chunk_error(data: bytes) -> None:
    try:
        chunk = parse_chunk(data)
    except ChunkError:
        return
    assert build_chunk(chunk) == data


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),
            st.integers(1, 4),
            st.integers(0, 4),
            st.binary(max_size=4),
            st.floats(0, 10),
        ),
        max_size=60,
    )
)
def test_assembler_survives_any_chunk_sequence(
    events: list[tuple[int, int, int, bytes, float]],
) -> None:
    assembler = ChunkAssembler(max_in_flight=3, remembered=4)
    now = 0.0
    for number, count, index, fragment, step in events:
        now += step
        result = assembler.add(Chunk(number, count, min(index, count), fragment), now)
        assert result is None or isinstance(result, bytes)
        assert assembler.in_flight <= 3
