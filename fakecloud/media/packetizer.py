"""MediaFrame → camera media datagrams: the simulated camera's side of the depacketizer.

H.264 goes out as `w1` (AES-128-CBC with the camera's p2pKey when one is given), JPEG as an
unencrypted `w0` (the F7D7601 profile, a hypothesis: see fakecloud/net/wframe.py). One picture
becomes one RTP packet (marker set, 90 kHz timestamp), or several with the same timestamp when it
is too big for one chunked packet; each RTP packet becomes the chunks of one chunk frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from fakecloud.media.depacketizer import split_annexb
from fakecloud.media.frames import MediaFrame
from fakecloud.net.chunks import HEADER_SIZE as CHUNK_HEADER_SIZE
from fakecloud.net.chunks import MAX_CHUNKS, split_packet
from fakecloud.net.rtp import FIXED_SIZE as RTP_HEADER_SIZE
from fakecloud.net.rtp import VIDEO_CLOCK_RATE, RtpPacket, build_rtp
from fakecloud.net.wframe import (
    BLOCK_SIZE,
    IV_SIZE,
    KEY_SIZE,
    LENGTH,
    WKind,
    build_subframe,
    join_records,
    make_meta,
    seal,
)
from fakecloud.net.wframe import (
    HEADER_SIZE as WFRAME_HEADER_SIZE,
)

DEFAULT_MTU = 1400  # stays under a 1500-byte Ethernet MTU with IP and UDP headers
DEFAULT_PAYLOAD_TYPE = 96  # dynamic; the value Tend cameras use is not published
SEQUENCE_MODULO = 1 << 16
COUNTER_MODULO = 1 << 32


class PacketizerError(ValueError):
    """A frame cannot be sent (a single NAL unit too big for one packet, bad settings)."""


class Packetizer:
    """Turns one camera's frames into datagrams; keeps the RTP and chunk counters between calls."""

    def __init__(
        self,
        p2p_key: bytes | None,
        *,
        mtu: int = DEFAULT_MTU,
        ssrc: int = 0x5EED0001,
        payload_type: int = DEFAULT_PAYLOAD_TYPE,
        first_sequence: int = 0,
        first_timestamp: int = 0,
        first_frame_number: int = 0,
        clock_rate: int = VIDEO_CLOCK_RATE,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if p2p_key is not None and len(p2p_key) != KEY_SIZE:
            raise PacketizerError(f"p2pKey must be {KEY_SIZE} bytes, got {len(p2p_key)}")
        overhead = RTP_HEADER_SIZE + WFRAME_HEADER_SIZE + IV_SIZE + BLOCK_SIZE
        # Plaintext that fits one RTP packet split into at most MAX_CHUNKS chunks.
        self.record_budget = MAX_CHUNKS * (mtu - CHUNK_HEADER_SIZE) - overhead
        if self.record_budget < 1024:
            raise PacketizerError(f"mtu {mtu} is too small")
        self.p2p_key = p2p_key
        self.mtu = mtu
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self._sequence = first_sequence % SEQUENCE_MODULO
        self._first_timestamp = first_timestamp
        self._frame_number = first_frame_number % COUNTER_MODULO
        self._random_bytes = random_bytes

    def packetize(self, frame: MediaFrame) -> list[bytes]:
        """The datagrams that carry `frame`, in sending order."""
        if not frame.data:
            raise PacketizerError("empty frame")
        timestamp = (self._first_timestamp + round(frame.timestamp * self.clock_rate)) % (
            COUNTER_MODULO
        )
        groups = list(self._record_groups(frame))
        datagrams: list[bytes] = []
        for position, records in enumerate(groups):
            rtp = RtpPacket(
                payload_type=self.payload_type,
                sequence=self._sequence,
                timestamp=timestamp,
                ssrc=self.ssrc,
                payload=self._subframe(frame, records),
                marker=position == len(groups) - 1,
            )
            datagrams.extend(split_packet(self._frame_number, build_rtp(rtp), self.mtu))
            self._sequence = (self._sequence + 1) % SEQUENCE_MODULO
            self._frame_number = (self._frame_number + 1) % COUNTER_MODULO
        return datagrams

    def _record_groups(self, frame: MediaFrame) -> Iterator[list[bytes]]:
        """Records per RTP packet: whole NAL units for H.264, plain slices of a JPEG."""
        budget = self.record_budget
        if frame.codec == "jpeg":
            step = budget - LENGTH.size
            for start in range(0, max(1, len(frame.data)), step):
                yield [frame.data[start : start + step]]
            return
        group: list[bytes] = []
        used = 0
        for unit in split_annexb(frame.data):
            size = LENGTH.size + len(unit)
            if size > budget:
                raise PacketizerError(f"a NAL unit of {len(unit)} bytes exceeds {budget}")
            if group and used + size > budget:
                yield group
                group, used = [], 0
            group.append(unit)
            used += size
        yield group

    def _subframe(self, frame: MediaFrame, records: list[bytes]) -> bytes:
        plaintext = join_records(records)
        if frame.codec == "jpeg":
            return build_subframe(WKind.W0, make_meta(encrypted=False, keyframe=True), plaintext)
        encrypted = self.p2p_key is not None
        meta = make_meta(encrypted=encrypted, keyframe=frame.keyframe)
        if self.p2p_key is not None:
            plaintext = seal(plaintext, self.p2p_key, self._random_bytes(IV_SIZE))
        return build_subframe(WKind.W1, meta, plaintext)
