"""Depacketizer: round trips through loss, reordering and duplication; fuzzing; PyAV decoding."""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

import av
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakecloud.media.depacketizer import (
    NAL_PPS,
    NAL_SPS,
    Depacketizer,
    nal_header,
    split_annexb,
)
from fakecloud.media.frames import MediaFrame
from fakecloud.media.packetizer import Packetizer
from fakecloud.media.testpattern import TestPattern, read_counter
from fakecloud.net.chunks import Chunk, build_chunk, split_packet
from fakecloud.net.rtp import RtpPacket, build_rtp
from fakecloud.net.wframe import WKind, build_subframe, join_records, make_meta

KEY = b"0123456789abcdef"
FPS = 15


@cache
def h264_frames() -> tuple[MediaFrame, ...]:
    return tuple(TestPattern("h264", 320, 180, fps=FPS, gop=5).frames(20))


@cache
def jpeg_frames() -> tuple[MediaFrame, ...]:
    return tuple(TestPattern("jpeg", 320, 180, fps=FPS).frames(8))


def datagrams_per_frame(
    frames: tuple[MediaFrame, ...], packetizer: Packetizer
) -> list[list[bytes]]:
    return [packetizer.packetize(frame) for frame in frames]


def feed_all(
    depacketizer: Depacketizer, datagrams: list[bytes], start: float = 0.0
) -> list[MediaFrame]:
    """Feed 1 ms apart, then let every wait expire."""
    out: list[MediaFrame] = []
    for index, datagram in enumerate(datagrams):
        out.extend(depacketizer.feed(datagram, start + index * 0.001))
    out.extend(depacketizer.poll(start + 60.0))
    return out


def assert_same(got: list[MediaFrame], expected: list[MediaFrame]) -> None:
    assert [frame.data for frame in got] == [frame.data for frame in expected]
    assert [frame.keyframe for frame in got] == [frame.keyframe for frame in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert abs(mine.timestamp - theirs.timestamp) < 1e-9
        assert mine.codec == theirs.codec


def test_h264_round_trip_is_exact() -> None:
    frames = h264_frames()
    per_frame = datagrams_per_frame(frames, Packetizer(KEY, mtu=300))
    depacketizer = Depacketizer(KEY)
    got = feed_all(depacketizer, [d for group in per_frame for d in group])
    assert_same(got, list(frames))
    assert depacketizer.stats.keyframes == 4
    json.dumps(depacketizer.status())


def test_jpeg_round_trip_is_exact() -> None:
    frames = jpeg_frames()
    per_frame = datagrams_per_frame(frames, Packetizer(None, mtu=1400))
    got = feed_all(Depacketizer(None), [d for group in per_frame for d in group])
    assert_same(got, list(frames))


def test_shuffled_and_duplicated_datagrams_give_identical_frames() -> None:
    frames = h264_frames()
    flat = [d for group in datagrams_per_frame(frames, Packetizer(KEY, mtu=200)) for d in group]
    shuffler = random.Random(4)
    # Reorder within windows of 12 datagrams and repeat some. The first picture stays in order:
    # the stream's first RTP packet fixes where sequence numbering starts.
    opening = len(Packetizer(KEY, mtu=200).packetize(frames[0]))
    mixed = flat[:opening]
    for start in range(opening, len(flat), 12):
        window = flat[start : start + 12]
        window += shuffler.sample(window, k=min(3, len(window)))
        shuffler.shuffle(window)
        mixed.extend(window)
    depacketizer = Depacketizer(KEY)
    got = feed_all(depacketizer, mixed)
    assert_same(got, list(frames))
    assert depacketizer.assembler.stats.duplicates + depacketizer.assembler.stats.stale > 0
    assert depacketizer.stats.frames_dropped == 0


def test_lost_datagrams_lose_only_their_frames_and_are_counted() -> None:
    frames = h264_frames()
    per_frame = datagrams_per_frame(frames, Packetizer(KEY, mtu=60))
    lost = {3, 11}
    assert all(len(per_frame[index]) > 1 for index in lost)
    datagrams = [
        datagram
        for index, group in enumerate(per_frame)
        for position, datagram in enumerate(group)
        if not (index in lost and position == 1)
    ]
    depacketizer = Depacketizer(KEY)
    got = feed_all(depacketizer, datagrams)
    assert_same(got, [frame for index, frame in enumerate(frames) if index not in lost])
    assert depacketizer.assembler.stats.lost == 2
    assert depacketizer.stats.rtp_lost == 2


def test_picture_missing_a_middle_rtp_packet_is_dropped() -> None:
    (frame,) = TestPattern("jpeg", 1280, 720).frames(1)
    packetizer = Packetizer(None, mtu=60)
    follower = MediaFrame("jpeg", frame.data, 1.0, True)
    first = packetizer.packetize(frame)
    second = packetizer.packetize(follower)
    chunks_per_packet = 255
    kept = first[:chunks_per_packet] + first[2 * chunks_per_packet :] + second
    depacketizer = Depacketizer(None)
    got = feed_all(depacketizer, kept)
    assert [item.timestamp for item in got] == [1.0]
    assert depacketizer.stats.frames_dropped == 1


def test_decoded_output_shows_the_right_counters() -> None:
    frames = h264_frames()
    flat = [d for group in datagrams_per_frame(frames, Packetizer(KEY)) for d in group]
    decoder = av.CodecContext.create("h264", "r")
    counters = []
    for frame in feed_all(Depacketizer(KEY), flat):
        for picture in decoder.decode(av.Packet(frame.data)):
            counters.append(read_counter(picture.to_ndarray(format="gray")))
    assert counters == list(range(len(frames)))


def without_parameter_sets(frame: MediaFrame) -> MediaFrame:
    def is_parameter_set(unit: bytes) -> bool:
        header = nal_header(unit)
        return header is not None and header[0] in (NAL_SPS, NAL_PPS)

    units = [unit for unit in split_annexb(frame.data) if not is_parameter_set(unit)]
    return MediaFrame(frame.codec, b"".join(units), frame.timestamp, frame.keyframe)


def test_idr_without_parameter_sets_gets_the_remembered_ones() -> None:
    frames = h264_frames()
    stripped = [frames[0], *(without_parameter_sets(frame) for frame in frames[1:])]
    packetizer = Packetizer(KEY)
    depacketizer = Depacketizer(KEY)
    got = feed_all(depacketizer, [d for frame in stripped for d in packetizer.packetize(frame)])
    assert got[5].keyframe and got[5].data != stripped[5].data
    assert got[5].data.endswith(stripped[5].data)
    # A viewer joining at that keyframe can decode it.
    decoder = av.CodecContext.create("h264", "r")
    pictures = [p for frame in got[5:] for p in decoder.decode(av.Packet(frame.data))]
    assert [read_counter(p.to_ndarray(format="gray")) for p in pictures] == list(range(5, 20))


def raw_datagram(payload: bytes, sequence: int, timestamp: int, ssrc: int = 1) -> bytes:
    rtp = build_rtp(RtpPacket(96, sequence, timestamp, ssrc, payload, marker=True))
    return split_packet(sequence, rtp, 1400)[0]


def test_records_without_start_codes_get_them() -> None:
    nal = b"\x65\x88\x84\x00"
    payload = build_subframe(
        WKind.W1, make_meta(encrypted=False, keyframe=True), join_records([nal])
    )
    (frame,) = Depacketizer(None).feed(raw_datagram(payload, 0, 0), 0.0)
    assert frame.data == b"\x00\x00\x00\x01" + nal and frame.keyframe


def test_legacy_w0_with_a_jpeg_inside_is_understood() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(30) + b"\xff\xd9"
    payload = b"w0" + bytes(24) + jpeg  # not the w1 shape: the length field does not fit
    (frame,) = Depacketizer(None).feed(raw_datagram(payload, 0, 0), 0.0)
    assert frame == MediaFrame("jpeg", jpeg, 0.0, True)


class ListRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, bytes | None, dict[str, Any]]] = []

    def record(self, kind: str, *, data: bytes | None = None, **fields: Any) -> None:
        self.events.append((kind, data, fields))


def test_wrong_or_missing_key_is_counted_and_recorded_within_bounds() -> None:
    frames = h264_frames()
    flat = [d for group in datagrams_per_frame(frames, Packetizer(KEY)) for d in group]
    recorder = ListRecorder()
    depacketizer = Depacketizer(None, recorder=recorder, max_recorded_errors=3)
    assert feed_all(depacketizer, flat) == []
    assert depacketizer.stats.decrypt_failures == len(frames)
    assert len(recorder.events) == 3 and recorder.events[0][0] == "media-error"
    wrong = Depacketizer(b"fedcba9876543210")
    assert feed_all(wrong, flat) == []
    # Now and then a wrong key still yields valid padding; the records then fail instead.
    assert wrong.stats.decrypt_failures + wrong.stats.bad_subframes == len(frames)


def test_audio_and_garbage_are_counted() -> None:
    audio = build_subframe(WKind.WA, bytes(4), join_records([b"\xff" * 160]))
    depacketizer = Depacketizer(None)
    assert depacketizer.feed(raw_datagram(audio, 0, 0), 0.0) == []
    assert depacketizer.feed(b"short", 0.0) == []
    assert depacketizer.feed(build_chunk(Chunk(9, 1, 0, b"\x40" * 12)), 0.0) == []
    assert depacketizer.feed(raw_datagram(b"nope", 1, 0), 0.0) == []
    unknown = build_subframe(WKind.W1, bytes(4), join_records([b"\x80\x80"]))
    assert depacketizer.feed(raw_datagram(unknown, 2, 0), 0.0) == []
    stats = depacketizer.stats
    assert (stats.audio_subframes, stats.bad_chunks, stats.bad_rtp) == (1, 1, 1)
    assert (stats.bad_subframes, stats.unknown_media) == (1, 1)


def test_rtp_timestamps_continue_across_the_32_bit_wrap() -> None:
    frames = h264_frames()[:6]
    packetizer = Packetizer(KEY, first_timestamp=(1 << 32) - 9000)
    got = feed_all(Depacketizer(KEY), [d for f in frames for d in packetizer.packetize(f)])
    assert [round(frame.timestamp * FPS) for frame in got] == list(range(6))


def test_a_new_ssrc_starts_a_new_stream() -> None:
    frames = h264_frames()[:5]
    depacketizer = Depacketizer(KEY)
    original = Packetizer(KEY)
    first = feed_all(depacketizer, [d for f in frames for d in original.packetize(f)])
    restarted = Packetizer(KEY, ssrc=77, first_sequence=4000)
    second = feed_all(
        depacketizer, [d for f in frames for d in restarted.packetize(f)], start=100.0
    )
    assert len(first) == len(second) == 5
    assert depacketizer.stats.streams == 2


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=120), max_size=12), st.floats(0, 100))
def test_feed_never_raises_on_arbitrary_datagrams(datagrams: list[bytes], start: float) -> None:
    depacketizer = Depacketizer(KEY)
    for offset, datagram in enumerate(datagrams):
        for frame in depacketizer.feed(datagram, start + offset):
            assert isinstance(frame, MediaFrame)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(0, 3),
            st.booleans(),
            st.sampled_from([b"w0", b"w1", b"wa", b"xx"]),
            st.binary(max_size=60),
        ),
        max_size=15,
    ),
    st.sampled_from([None, KEY]),
)
def test_feed_never_raises_on_well_framed_garbage(
    packets: list[tuple[int, int, bool, bytes, bytes]], key: bytes | None
) -> None:
    """Valid chunk and RTP layers around arbitrary sub-frames reach the deeper code paths."""
    depacketizer = Depacketizer(key, reorder_depth=2)
    for index, (sequence, timestamp, marker, magic, body) in enumerate(packets):
        rtp = RtpPacket(96, sequence, timestamp, 1, magic + body, marker=marker)
        datagram = split_packet(index, build_rtp(rtp), 1400)[0]
        depacketizer.feed(datagram, float(index))
    depacketizer.poll(1000.0)
