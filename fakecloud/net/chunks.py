"""Media datagram chunks: an 8-byte header and a fragment of one RTP packet (docs/protocol.md §4.2).

Header as the two public Tend clients read it (both must keep working)::

    0 frame number u32 LE (K; R reads only byte 0 as the frame id)
    4 chunk count  u8      (R; K's single-chunk talkback writes u16 LE 1 here)
    5 reserved     u8      (kept verbatim; meaning unknown)
    6 chunk index  u8      (R)
    7 reserved     u8

The fragments of one frame, ordered by index, concatenate to one RTP packet. Whether indices
start at 0 or 1 is not published (R sorts them, K relies on arrival order), so the assembler
accepts either.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field

HEADER = struct.Struct("<IBBBB")
HEADER_SIZE = HEADER.size  # 8
# R reads the count and index as single bytes, so no frame may use more chunks than this.
MAX_CHUNKS = 255


class ChunkError(ValueError):
    """The bytes are not a well-formed media chunk (or a chunk cannot be built)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    frame_number: int
    chunk_count: int
    chunk_index: int
    fragment: bytes
    reserved: bytes = b"\x00\x00"  # header bytes 5 and 7, in that order


def parse_chunk(datagram: bytes) -> Chunk:
    if len(datagram) < HEADER_SIZE:
        raise ChunkError(f"datagram of {len(datagram)} bytes is shorter than a chunk header")
    frame_number, count, reserved_5, index, reserved_7 = HEADER.unpack_from(datagram)
    if count == 0:
        raise ChunkError("chunk count 0")
    if index > count:
        raise ChunkError(f"chunk index {index} beyond count {count}")
    return Chunk(
        frame_number, count, index, datagram[HEADER_SIZE:], bytes((reserved_5, reserved_7))
    )


def build_chunk(chunk: Chunk) -> bytes:
    if not 0 <= chunk.frame_number <= 0xFFFFFFFF:
        raise ChunkError(f"frame number {chunk.frame_number} does not fit in 32 bits")
    if not 1 <= chunk.chunk_count <= MAX_CHUNKS or not 0 <= chunk.chunk_index <= chunk.chunk_count:
        raise ChunkError(f"chunk {chunk.chunk_index} of {chunk.chunk_count} is out of range")
    if len(chunk.reserved) != 2:
        raise ChunkError("reserved must be 2 bytes")
    header = HEADER.pack(
        chunk.frame_number,
        chunk.chunk_count,
        chunk.reserved[0],
        chunk.chunk_index,
        chunk.reserved[1],
    )
    return header + chunk.fragment


def split_packet(frame_number: int, packet: bytes, mtu: int) -> list[bytes]:
    """Datagrams of at most `mtu` bytes carrying `packet`, indices counted from 0."""
    fragment_size = mtu - HEADER_SIZE
    if fragment_size < 1:
        raise ChunkError(f"mtu {mtu} leaves no room after the {HEADER_SIZE}-byte header")
    count = max(1, -(-len(packet) // fragment_size))
    if count > MAX_CHUNKS:
        raise ChunkError(f"packet of {len(packet)} bytes needs {count} chunks (max {MAX_CHUNKS})")
    return [
        build_chunk(
            Chunk(
                frame_number,
                count,
                index,
                packet[index * fragment_size : (index + 1) * fragment_size],
            )
        )
        for index in range(count)
    ]


@dataclass
class AssemblerStats:
    chunks: int = 0
    completed: int = 0
    lost: int = 0  # frames given up with chunks missing
    duplicates: int = 0  # chunks already held for a frame in flight
    stale: int = 0  # chunks of a frame already completed or given up
    inconsistent: int = 0  # chunks whose count disagrees with the frame's earlier chunks


@dataclass
class _Assembly:
    count: int
    first_seen: float
    completed_before: int  # the assembler's completed count when this frame began
    fragments: dict[int, bytes] = field(default_factory=dict)

    def packet(self) -> bytes | None:
        """The whole packet once every index of a 0- or 1-based numbering is present."""
        for first in (0, 1):
            indices = range(first, first + self.count)
            if all(index in self.fragments for index in indices):
                return b"".join(self.fragments[index] for index in indices)
        return None


class ChunkAssembler:
    """Reassembles chunks into RTP packets, tolerating reordering, duplicates and loss.

    Pure: the caller passes the current time, so tests control it and nothing sleeps.
    A frame with a chunk missing is given up (and counted lost) after `timeout` seconds, once
    `reorder_window` later frames have completed, or when `max_in_flight` frames are pending.
    A finished frame's number is remembered for `timeout` seconds so that late copies of its
    chunks are not taken for a new frame; after that a sender may reuse it (a restart).
    """

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        reorder_window: int = 16,
        max_in_flight: int = 32,
        remembered: int = 64,
    ) -> None:
        self.timeout = timeout
        self.reorder_window = reorder_window
        self.max_in_flight = max_in_flight
        self.stats = AssemblerStats()
        # Security consideration: every structure here is bounded (frames in flight, chunks per
        # frame, remembered frame numbers), so a flood of bogus chunks cannot grow memory.
        self._pending: OrderedDict[int, _Assembly] = OrderedDict()
        self._recent: OrderedDict[int, float] = OrderedDict()
        self._remembered = remembered

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def add(self, chunk: Chunk, now: float) -> bytes | None:
        """Take one chunk; return the RTP packet it completes, if any."""
        self.stats.chunks += 1
        self.expire(now)
        number = chunk.frame_number
        finished = self._recent.get(number)
        if finished is not None and now - finished <= self.timeout:
            self.stats.stale += 1
            return None
        assembly = self._pending.get(number)
        if assembly is None:
            assembly = _Assembly(chunk.chunk_count, now, self.stats.completed)
            self._pending[number] = assembly
            while len(self._pending) > self.max_in_flight:
                self._give_up(next(iter(self._pending)), now)
        elif assembly.count != chunk.chunk_count:
            self.stats.inconsistent += 1
            return None
        if chunk.chunk_index in assembly.fragments:
            self.stats.duplicates += 1
            return None
        assembly.fragments[chunk.chunk_index] = chunk.fragment
        packet = assembly.packet()
        if packet is None:
            return None
        del self._pending[number]
        self._remember(number, now)
        self.stats.completed += 1
        return packet

    def expire(self, now: float) -> None:
        """Give up frames that waited too long or were overtaken by enough complete frames."""
        stale = [
            number
            for number, assembly in self._pending.items()
            if now - assembly.first_seen > self.timeout
            or self.stats.completed - assembly.completed_before > self.reorder_window
        ]
        for number in stale:
            self._give_up(number, now)

    def _give_up(self, number: int, now: float) -> None:
        del self._pending[number]
        self._remember(number, now)
        self.stats.lost += 1

    def _remember(self, number: int, now: float) -> None:
        self._recent.pop(number, None)
        self._recent[number] = now
        while len(self._recent) > self._remembered:
            self._recent.popitem(last=False)
