"""Low-latency HLS (RFC 8216bis, protocol version 9), pure: the media playlist text, the
blocking-reload query (`_HLS_msn`, `_HLS_part`) and when such a request is answered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

INIT_URI = "ll_init.mp4"
# A blocking request for a segment further ahead than this is refused (RFC 8216bis 6.2.5.2).
MAX_SEGMENTS_AHEAD = 2
# Players start this many part targets behind the live edge (the RFC asks for at least 2, and
# recommends 3, so a late part does not stall playback).
PART_HOLD_BACK_PARTS = 3
MAX_QUERY_DIGITS = 15  # larger numbers are no sequence this server will reach


def segment_uri(sequence: int) -> str:
    return f"ll_segment_{sequence}.m4s"


def part_uri(sequence: int, index: int) -> str:
    return f"ll_part_{sequence}_{index}.m4s"


@dataclass(frozen=True, slots=True)
class Part:
    duration: float  # seconds
    independent: bool  # starts with a keyframe
    data: bytes


@dataclass(frozen=True, slots=True)
class LlSegment:
    """A finished segment: its parts, whose bytes together are the segment's."""

    sequence: int
    parts: tuple[Part, ...]

    @property
    def duration(self) -> float:
        return sum(part.duration for part in self.parts)

    @property
    def size(self) -> int:
        return sum(len(part.data) for part in self.parts)

    def data(self) -> bytes:
        return b"".join(part.data for part in self.parts)


@dataclass(frozen=True, slots=True)
class LivePlaylist:
    """What a playlist shows: finished segments, then the parts of the one being made."""

    segments: Sequence[LlSegment]
    open_sequence: int
    open_parts: Sequence[Part]
    target_duration: int  # whole seconds, at least the longest segment
    part_target: float  # seconds, at least the longest part


def _part_line(sequence: int, index: int, part: Part) -> str:
    independent = ",INDEPENDENT=YES" if part.independent else ""
    return (
        f'#EXT-X-PART:DURATION={part.duration:.5f},URI="{part_uri(sequence, index)}"{independent}'
    )


def build_playlist(live: LivePlaylist) -> str:
    first = live.segments[0].sequence if live.segments else live.open_sequence
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:9",
        f"#EXT-X-TARGETDURATION:{live.target_duration}",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
        f"PART-HOLD-BACK={PART_HOLD_BACK_PARTS * live.part_target:.5f}",
        f"#EXT-X-PART-INF:PART-TARGET={live.part_target:.5f}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
        f'#EXT-X-MAP:URI="{INIT_URI}"',
    ]
    for segment in live.segments:
        lines += [_part_line(segment.sequence, i, part) for i, part in enumerate(segment.parts)]
        lines += [f"#EXTINF:{segment.duration:.5f},", segment_uri(segment.sequence)]
    lines += [_part_line(live.open_sequence, i, part) for i, part in enumerate(live.open_parts)]
    hint = part_uri(live.open_sequence, len(live.open_parts))
    lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{hint}"')
    return "\n".join(lines) + "\n"


class ReloadQueryError(ValueError):
    """A blocking-reload query that cannot be answered (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class ReloadRequest:
    """Hold the playlist until it holds segment `msn` (finished) or, with `part`, that part."""

    msn: int
    part: int | None = None


def _number(name: str, values: list[str]) -> int:
    if len(values) != 1:
        raise ReloadQueryError(f"{name} is given {len(values)} times")
    value = values[0]
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_QUERY_DIGITS:
        raise ReloadQueryError(
            f"{name} must be a whole number of at most {MAX_QUERY_DIGITS} digits"
        )
    return int(value)


def parse_reload_query(items: Sequence[tuple[str, str]]) -> ReloadRequest | None:
    """The blocking request in a playlist URL's query items, None when there is none. Other
    parameters (a player's cache busters, `_HLS_skip`: delta updates are not offered) are
    ignored."""
    found: dict[str, list[str]] = {"_HLS_msn": [], "_HLS_part": []}
    for name, value in items:
        if name in found:
            found[name].append(value)
    if not found["_HLS_msn"]:
        if found["_HLS_part"]:
            raise ReloadQueryError("_HLS_part needs _HLS_msn")
        return None
    msn = _number("_HLS_msn", found["_HLS_msn"])
    part = _number("_HLS_part", found["_HLS_part"]) if found["_HLS_part"] else None
    return ReloadRequest(msn, part)


def too_far_ahead(request: ReloadRequest, open_sequence: int) -> bool:
    return request.msn > open_sequence + MAX_SEGMENTS_AHEAD


def reload_satisfied(
    request: ReloadRequest, finished_parts: Mapping[int, int], open_sequence: int, open_parts: int
) -> bool:
    """Whether the playlist now holds what `request` waits for. `finished_parts`: parts per
    finished segment still kept. A part number past the end of a finished segment means the
    next segment's first part (the player could not know the segment would end there)."""
    if request.part is None:
        return request.msn < open_sequence
    if request.msn < open_sequence:
        count = finished_parts.get(request.msn)
        if count is not None and request.part >= count:
            return reload_satisfied(
                ReloadRequest(request.msn + 1, 0), finished_parts, open_sequence, open_parts
            )
        return True
    return request.msn == open_sequence and request.part < open_parts
