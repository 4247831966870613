"""A strict reader of the LL-HLS media playlists fakecloud serves (RFC 8216bis rules that a
player relies on); it raises AssertionError on anything it does not expect."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"\n]*"|[^",\s]+)(?:,|$)')
KNOWN_TAGS = {
    "#EXT-X-VERSION",
    "#EXT-X-TARGETDURATION",
    "#EXT-X-SERVER-CONTROL",
    "#EXT-X-PART-INF",
    "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-MAP",
    "#EXT-X-PART",
    "#EXTINF",
    "#EXT-X-PRELOAD-HINT",
}


def attributes(text: str) -> dict[str, str]:
    found = {}
    position = 0
    while position < len(text):
        match = ATTRIBUTE.match(text, position)
        assert match, f"bad attribute list at {text[position:]!r}"
        found[match[1]] = match[2].strip('"')
        position = match.end()
    return found


@dataclass
class CheckedPart:
    uri: str
    duration: float
    independent: bool


@dataclass
class CheckedSegment:
    uri: str
    duration: float
    parts: list[CheckedPart]


@dataclass
class CheckedPlaylist:
    media_sequence: int
    target_duration: int
    part_target: float
    segments: list[CheckedSegment] = field(default_factory=list)
    open_parts: list[CheckedPart] = field(default_factory=list)
    hint: str = ""

    @property
    def open_sequence(self) -> int:
        return self.media_sequence + len(self.segments)


def check_playlist(text: str) -> CheckedPlaylist:
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and text.endswith("\n")
    header: dict[str, str] = {}
    parts: list[CheckedPart] = []
    segments: list[CheckedSegment] = []
    hint = ""
    pending_duration: float | None = None
    for line in lines[1:]:
        assert not hint, "EXT-X-PRELOAD-HINT must come last"
        if pending_duration is not None:
            assert line and not line.startswith("#"), f"a segment URI must follow EXTINF: {line}"
            segments.append(CheckedSegment(line, pending_duration, parts))
            parts, pending_duration = [], None
            continue
        tag, _, value = line.partition(":")
        assert tag in KNOWN_TAGS, f"unexpected line {line!r}"
        if tag == "#EXT-X-PART":
            assert "#EXT-X-MAP" in header, "EXT-X-MAP must come before the media"
            part = attributes(value)
            assert set(part) <= {"DURATION", "URI", "INDEPENDENT"}, part
            assert part.get("INDEPENDENT", "YES") == "YES"
            parts.append(CheckedPart(part["URI"], float(part["DURATION"]), "INDEPENDENT" in part))
        elif tag == "#EXTINF":
            assert "#EXT-X-MAP" in header, "EXT-X-MAP must come before the media"
            assert value.endswith(","), line
            pending_duration = float(value[:-1])
        elif tag == "#EXT-X-PRELOAD-HINT":
            hint_attributes = attributes(value)
            assert hint_attributes["TYPE"] == "PART", line
            hint = hint_attributes["URI"]
        else:
            assert tag not in header, f"{tag} twice"
            header[tag] = value
    assert pending_duration is None, "EXTINF without its URI"
    assert header["#EXT-X-VERSION"] == "9"
    target = int(header["#EXT-X-TARGETDURATION"])
    part_target = float(attributes(header["#EXT-X-PART-INF"])["PART-TARGET"])
    control = attributes(header["#EXT-X-SERVER-CONTROL"])
    assert control["CAN-BLOCK-RELOAD"] == "YES"
    assert float(control["PART-HOLD-BACK"]) >= 2 * part_target  # RFC 8216bis: at least twice
    assert attributes(header["#EXT-X-MAP"])["URI"]
    checked = CheckedPlaylist(int(header["#EXT-X-MEDIA-SEQUENCE"]), target, part_target)
    checked.segments, checked.open_parts, checked.hint = segments, parts, hint
    for segment in segments:
        assert round(segment.duration) <= target, f"{segment} is longer than {target}"
        assert segment.parts and segment.parts[0].independent, f"{segment.uri} starts no GOP"
        assert math.isclose(sum(p.duration for p in segment.parts), segment.duration, abs_tol=1e-3)
    for part in [p for s in segments for p in s.parts] + parts:
        assert 0 < part.duration <= part_target + 1e-6, f"{part} exceeds PART-TARGET"
    assert hint, "no EXT-X-PRELOAD-HINT"
    return checked
