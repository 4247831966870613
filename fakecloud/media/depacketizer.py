"""Camera media datagrams to pictures: chunks → RTP → `w0`/`w1` sub-frames → MediaFrame.

One Depacketizer serves one camera's video stream. It is pure (no sockets, no clock): the relay
hands it each datagram with the current time, and calls `poll` now and then so that waiting for
a lost packet ends even when no more datagrams arrive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fakecloud.core.recording import Recorder
from fakecloud.media.frames import Codec, MediaFrame
from fakecloud.net.chunks import ChunkAssembler, ChunkError, parse_chunk
from fakecloud.net.rtp import VIDEO_CLOCK_RATE, RtpError, RtpPacket, parse_rtp
from fakecloud.net.wframe import (
    ANNEX_B_START,
    JPEG_SOI,
    SubFrame,
    WFrameError,
    WKind,
    detect_codec,
    open_subframe,
    parse_subframes,
    split_records,
)

START_CODE = b"\x00\x00\x00\x01"
NAL_SLICE, NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD = 1, 5, 6, 7, 8, 9
# NAL types that can only open an access unit (H.264 §7.4.1.2.3).
AU_OPENERS = frozenset({NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD})
SEQUENCE_MODULO = 1 << 16
TIMESTAMP_MODULO = 1 << 32
DEFAULT_MAX_FRAME_BYTES = 8 << 20
DEFAULT_MAX_RECORDED_ERRORS = 20


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B stream, each with its own start code; they join back to `data`."""
    starts: list[int] = []
    position = data.find(b"\x00\x00\x01")
    while position >= 0:
        starts.append(position - 1 if position and data[position - 1] == 0 else position)
        position = data.find(b"\x00\x00\x01", position + 3)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [data[begin:end] for begin, end in zip(starts, [*starts[1:], len(data)], strict=True)]


def nal_header(unit: bytes) -> tuple[int, int] | None:
    """(NAL type, first payload byte or -1) of a start-code-prefixed unit, None if none."""
    position = unit.find(b"\x00\x00\x01")
    if position < 0 or position + 3 >= len(unit):
        return None
    body = unit[position + 3 :]
    return body[0] & 0x1F, body[1] if len(body) > 1 else -1


def opens_access_unit(unit: bytes) -> bool:
    header = nal_header(unit)
    if header is None:
        return False
    nal_type, first_payload_byte = header
    if nal_type in AU_OPENERS:
        return True
    # A slice whose first_mb_in_slice is 0 starts a picture; ue(v) 0 is the single bit 1.
    return nal_type in (NAL_SLICE, NAL_IDR) and first_payload_byte >= 0x80


class DepacketizerError(ValueError):
    """A datagram or packet could not be turned into media (counted, never raised by feed)."""


@dataclass
class DepacketizerStats:
    datagrams: int = 0
    bad_chunks: int = 0
    bad_rtp: int = 0
    bad_subframes: int = 0
    decrypt_failures: int = 0
    unknown_media: int = 0
    audio_subframes: int = 0
    rtp_late: int = 0  # already delivered or skipped: duplicates and stragglers
    rtp_lost: int = 0  # sequence numbers given up on
    frames: int = 0
    keyframes: int = 0
    frames_dropped: int = 0  # pictures with a part missing, or too big
    streams: int = 0  # SSRCs seen in turn


@dataclass
class _Pending:
    codec: Codec
    timestamp: int
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    damaged: bool = False


class Depacketizer:
    """Turns one camera's media datagrams into MediaFrames (H.264 access units or JPEGs)."""

    def __init__(
        self,
        p2p_key: bytes | None,
        *,
        recorder: Recorder | None = None,
        clock_rate: int = VIDEO_CLOCK_RATE,
        reorder_depth: int = 32,
        reorder_delay: float = 0.5,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_recorded_errors: int = DEFAULT_MAX_RECORDED_ERRORS,
        assembler: ChunkAssembler | None = None,
    ) -> None:
        self.p2p_key = p2p_key
        self.clock_rate = clock_rate
        self.reorder_depth = reorder_depth
        self.reorder_delay = reorder_delay
        self.max_frame_bytes = max_frame_bytes
        self.stats = DepacketizerStats()
        self.assembler = assembler or ChunkAssembler()
        self._recorder = recorder
        # Security consideration: a broken or hostile sender can produce an error per datagram;
        # only the first few are recorded so the capture log cannot be flooded.
        self._recordings_left = max_recorded_errors
        self._ssrc: int | None = None
        self._expected = 0  # the next RTP sequence number to process
        self._waiting: dict[int, tuple[float, RtpPacket]] = {}
        self._gap = False
        self._pending: _Pending | None = None
        self._last_timestamp = 0
        self._extended_timestamp = 0
        self._sps: bytes | None = None
        self._pps: bytes | None = None

    def feed(self, datagram: bytes, now: float) -> list[MediaFrame]:
        """Frames completed by this datagram; bad input is counted and skipped, never raised."""
        self.stats.datagrams += 1
        frames: list[MediaFrame] = []
        try:
            chunk = parse_chunk(datagram)
        except ChunkError as error:
            self.stats.bad_chunks += 1
            self._record("chunk", error, datagram)
            return self.poll(now)
        packet_bytes = self.assembler.add(chunk, now)
        if packet_bytes is not None:
            try:
                packet = parse_rtp(packet_bytes)
            except RtpError as error:
                self.stats.bad_rtp += 1
                self._record("rtp", error, packet_bytes)
            else:
                self._admit(packet, now, frames)
        frames.extend(self.poll(now))
        return frames

    def poll(self, now: float) -> list[MediaFrame]:
        """Give up on packets that waited too long; return the frames that become ready."""
        self.assembler.expire(now)
        frames: list[MediaFrame] = []
        self._release(now, frames)
        return frames

    def status(self) -> dict[str, Any]:
        return {
            **asdict(self.stats),
            "chunks": asdict(self.assembler.stats),
            "chunk_frames_in_flight": self.assembler.in_flight,
            "rtp_waiting": len(self._waiting),
            "encrypted": self.p2p_key is not None,
        }

    # RTP reordering: packets are processed strictly in sequence order.

    def _admit(self, packet: RtpPacket, now: float, frames: list[MediaFrame]) -> None:
        if packet.ssrc != self._ssrc:
            self._start_stream(packet)
        behind = (self._expected - packet.sequence) % SEQUENCE_MODULO
        if 0 < behind < SEQUENCE_MODULO // 2 or packet.sequence in self._waiting:
            self.stats.rtp_late += 1
            return
        self._waiting[packet.sequence] = (now, packet)
        self._release(now, frames)

    def _start_stream(self, packet: RtpPacket) -> None:
        self.stats.streams += 1
        if self._pending is not None:
            self.stats.frames_dropped += 1
        self._ssrc = packet.ssrc
        self._expected = packet.sequence
        self._waiting.clear()
        self._gap = False
        self._pending = None
        self._last_timestamp = packet.timestamp
        self._extended_timestamp = 0

    def _release(self, now: float, frames: list[MediaFrame]) -> None:
        # Each pass delivers or skips at least one waiting packet, so this ends.
        while self._waiting:
            entry = self._waiting.pop(self._expected, None)
            if entry is not None:
                self._expected = (self._expected + 1) % SEQUENCE_MODULO
                self._depacketize(entry[1], frames)
                continue
            oldest = min(arrival for arrival, _ in self._waiting.values())
            if len(self._waiting) <= self.reorder_depth and now - oldest <= self.reorder_delay:
                return
            nearest = min(
                self._waiting, key=lambda sequence: (sequence - self._expected) % SEQUENCE_MODULO
            )
            self.stats.rtp_lost += (nearest - self._expected) % SEQUENCE_MODULO
            self._expected = nearest
            self._gap = True

    # Sub-frames to access units.

    def _depacketize(self, packet: RtpPacket, frames: list[MediaFrame]) -> None:
        gap, self._gap = self._gap, False
        pending = self._pending
        if pending is not None and packet.timestamp != pending.timestamp:
            # A new timestamp ends the previous picture; it is whole only if nothing was lost.
            pending.damaged |= gap
            self._finish(frames)
            pending = None
        elif pending is not None and gap:
            pending.damaged = True
        try:
            parts = self._media_parts(packet.payload)
        except DepacketizerError as error:
            self._record("payload", error, packet.payload)
            if pending is not None:
                pending.damaged = True
            return
        if not parts:  # audio only
            return
        if pending is None:
            pending = self._open(packet.timestamp, parts[0], gap)
            if pending is None:
                return
        if pending.codec == "h264":
            parts = [
                part if part.startswith(ANNEX_B_START) else START_CODE + part for part in parts
            ]
            if not pending.parts:
                # After a loss, a picture whose opening packet went missing shows it here.
                pending.damaged |= not opens_access_unit(parts[0])
        for part in parts:
            pending.parts.append(part)
            pending.size += len(part)
        if pending.size > self.max_frame_bytes:
            pending.damaged = True
        if packet.marker:
            self._finish(frames)

    def _open(self, timestamp: int, first_part: bytes, after_gap: bool) -> _Pending | None:
        codec = detect_codec(first_part)
        if codec is None:
            if after_gap:  # most likely the tail of a picture whose start was lost
                self.stats.frames_dropped += 1
                return None
            self.stats.unknown_media += 1
            self._record("media", DepacketizerError("neither H.264 nor JPEG"), first_part)
            return None
        self._pending = _Pending(codec, timestamp)
        return self._pending

    def _media_parts(self, payload: bytes) -> list[bytes]:
        """The media records of every video sub-frame in one RTP payload."""
        try:
            subframes = parse_subframes(payload)
        except WFrameError as error:
            self.stats.bad_subframes += 1
            raise DepacketizerError(str(error)) from error
        parts: list[bytes] = []
        for subframe in subframes:
            if subframe.kind is WKind.WA:
                self.stats.audio_subframes += 1
                continue
            parts.extend(self._records(subframe))
        return parts

    def _records(self, subframe: SubFrame) -> list[bytes]:
        try:
            plaintext = open_subframe(subframe, self.p2p_key)
        except WFrameError as error:
            self.stats.decrypt_failures += 1
            raise DepacketizerError(str(error)) from error
        try:
            return split_records(plaintext)
        except WFrameError as error:
            if subframe.kind is not WKind.W0:
                self.stats.bad_subframes += 1
                raise DepacketizerError(str(error)) from error
        # A w0 of unknown layout (hypothesis territory): look for a JPEG in it.
        start = plaintext.find(JPEG_SOI + b"\xff")
        if start < 0:
            self.stats.unknown_media += 1
            raise DepacketizerError("w0 payload of unknown layout without a JPEG")
        return [plaintext[start:]]

    def _finish(self, frames: list[MediaFrame]) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if pending.damaged or not pending.parts:
            self.stats.frames_dropped += 1
            return
        data = b"".join(pending.parts)
        keyframe = True
        if pending.codec == "h264":
            data, keyframe = self._complete_access_unit(data)
        frames.append(MediaFrame(pending.codec, data, self._seconds(pending.timestamp), keyframe))
        self.stats.frames += 1
        self.stats.keyframes += keyframe

    def _complete_access_unit(self, data: bytes) -> tuple[bytes, bool]:
        """Remember SPS/PPS; an IDR without them gets the last ones seen, so it can be joined."""
        types: set[int] = set()
        for unit in split_annexb(data):
            header = nal_header(unit)
            if header is None:
                continue
            types.add(header[0])
            if header[0] == NAL_SPS:
                self._sps = unit
            elif header[0] == NAL_PPS:
                self._pps = unit
        if NAL_IDR not in types:
            return data, False
        prefix = b""
        if NAL_SPS not in types and self._sps is not None:
            prefix += self._sps
        if NAL_PPS not in types and self._pps is not None:
            prefix += self._pps
        return prefix + data, True

    def _seconds(self, timestamp: int) -> float:
        # Extend the 32-bit RTP clock across wraps, relative to the stream's first timestamp.
        step = (timestamp - self._last_timestamp) % TIMESTAMP_MODULO
        if step >= TIMESTAMP_MODULO // 2:
            step -= TIMESTAMP_MODULO
        self._extended_timestamp += step
        self._last_timestamp = timestamp
        return self._extended_timestamp / self.clock_rate

    def _record(self, stage: str, error: Exception, data: bytes) -> None:
        if self._recorder is None or self._recordings_left <= 0:
            return
        self._recordings_left -= 1
        self._recorder.record("media-error", data=data[:256], stage=stage, error=str(error))
