"""One client's RTP numbering: continuous sequence and timestamps across camera restarts."""

from __future__ import annotations

from fakecloud.media.rtsp.sdp import Track, track_of
from fakecloud.media.rtsp.stream import ContinuousClock, RtpStream
from fakecloud.media.testpattern import TestPattern
from fakecloud.net.rtp import parse_rtp


def test_clock_follows_the_camera_and_bridges_a_restart() -> None:
    clock = ContinuousClock(start=1000)
    assert clock.ticks(5.0, now=100.0) == 1000
    assert clock.ticks(5.1, now=100.1) == 1000 + 9000
    # The camera reconnected and counts from 0 again, 0.8 s of wall time later.
    assert clock.ticks(0.0, now=100.9) == 1000 + 9000 + 72000
    assert clock.ticks(0.1, now=101.0) == 1000 + 9000 + 72000 + 9000
    # A jump far forward is a new stream too: time goes on by the wall clock, not by the jump.
    assert clock.ticks(3600.0, now=101.5) == 1000 + 9000 + 72000 + 9000 + 45000


def test_packets_are_numbered_and_marked() -> None:
    frames = list(TestPattern("h264", 640, 360).frames(3))
    stream = RtpStream(track_of("h264", frames[0].data), ssrc=0x1234)
    sent = [
        [parse_rtp(packet) for packet in stream.packets(frame, now=index / 15)]
        for index, frame in enumerate(frames)
    ]
    packets = [packet for frame in sent for packet in frame]
    sequences = [packet.sequence for packet in packets]
    assert sequences == [(stream.first_sequence + n) % 65536 for n in range(len(packets))]
    assert all(packet.ssrc == 0x1234 and packet.payload_type == 96 for packet in packets)
    for frame in sent:
        assert [packet.marker for packet in frame] == [False] * (len(frame) - 1) + [True]
        assert len({packet.timestamp for packet in frame}) == 1
    assert sent[1][0].timestamp - sent[0][0].timestamp == 6000  # 1/15 s at 90 kHz


def test_jpeg_frames_use_rfc_2435() -> None:
    picture = next(TestPattern("jpeg", 320, 240).frames(1))
    stream = RtpStream(Track("jpeg"))
    packets = [parse_rtp(packet) for packet in stream.packets(picture, now=0.0)]
    assert {packet.payload_type for packet in packets} == {26}
    assert packets[-1].marker and packets[0].payload[1:4] == b"\x00\x00\x00"
