"""Where clips live on disk, how they are listed, and what retention deletes (blocking I/O).

Layout: `<data_dir>/recordings/<camera id>/<UTC start>-<reason>.mp4`, e.g.
`recordings/7/20260102T030405Z-motion.mp4`; the name alone says which camera, when and why, so
listing needs no index that a crash could leave stale.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".mp4"
CLIP_NAME = re.compile(r"(\d{8}T\d{6}(?:\.\d{3})?Z)-(motion|continuous)\.mp4")
TIME_FORMAT = "%Y%m%dT%H%M%S"


@dataclass(frozen=True, slots=True)
class Clip:
    camera_id: int
    name: str
    path: Path
    started: datetime
    reason: str
    bytes: int
    modified: datetime

    @property
    def seconds(self) -> float:
        """About how long the clip runs: from its start to its file's last write."""
        return max(0.0, (self.modified - self.started).total_seconds())


def clip_name(started: datetime, reason: str) -> str:
    stamp = started.astimezone(UTC).strftime(TIME_FORMAT) + f".{started.microsecond // 1000:03d}Z"
    return f"{stamp}-{reason}{SUFFIX}"


def parse_clip(camera_id: int, path: Path) -> Clip | None:
    """The clip a file is, or None for a file recordings did not write."""
    match = CLIP_NAME.fullmatch(path.name)
    if match is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return None  # deleted meanwhile (retention)
    stamp = match.group(1).rstrip("Z")
    started = datetime.strptime(stamp.partition(".")[0], TIME_FORMAT).replace(tzinfo=UTC)
    if "." in stamp:
        started = started.replace(microsecond=int(stamp.partition(".")[2]) * 1000)
    modified = datetime.fromtimestamp(info.st_mtime, UTC)
    return Clip(camera_id, path.name, path, started, match.group(2), info.st_size, modified)


class ClipFolder:
    """The recordings folder: paths for new clips, listing, retention and the free-space floor."""

    def __init__(self, root: Path, max_age_seconds: float, max_bytes: int, min_free_bytes: int):
        self.root = root
        self.max_age_seconds = max_age_seconds
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self.deleted = 0

    def new_path(self, camera_id: int, reason: str, started: datetime) -> Path:
        folder = self.root / str(camera_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / clip_name(started, reason)

    def clips(self, camera_id: int | None = None) -> list[Clip]:
        """Newest first."""
        found: list[Clip] = []
        if camera_id is not None:
            folders = [self.root / str(camera_id)]
        else:
            try:
                folders = [entry for entry in self.root.iterdir() if entry.name.isdigit()]
            except OSError:
                return []
        for folder in folders:
            try:
                paths = list(folder.iterdir())
            except OSError:
                continue
            found += [c for p in paths if (c := parse_clip(int(folder.name), p)) is not None]
        return sorted(found, key=lambda clip: clip.started, reverse=True)

    def find(self, camera_id: int, name: str) -> Clip | None:
        if CLIP_NAME.fullmatch(name) is None:  # Security consideration: no path from a URL
            return None
        return parse_clip(camera_id, self.root / str(camera_id) / name)

    def free_bytes(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        usage = os.statvfs(self.root)
        return usage.f_bavail * usage.f_frsize

    def has_room(self, reserve: int = 0) -> bool:
        """False when writing `reserve` more bytes would take the disk under the floor."""
        return self.free_bytes() - reserve >= self.min_free_bytes

    def prune(self, keep: frozenset[Path] = frozenset()) -> int:
        """Delete clips past the age limit, then the oldest while over the byte budget; clips
        being written (`keep`) stay. Returns how many were deleted."""
        now = time.time()
        clips = sorted(self.clips(), key=lambda clip: clip.started)
        total = sum(clip.bytes for clip in clips)
        deleted = 0
        for clip in clips:
            age = now - clip.modified.timestamp()
            too_old = self.max_age_seconds and age > self.max_age_seconds
            too_much = self.max_bytes and total > self.max_bytes
            if clip.path in keep or not (too_old or too_much):
                continue
            try:
                clip.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as error:
                log.warning("cannot delete old recording %s: %s", clip.path, error)
                continue
            total -= clip.bytes
            deleted += 1
        self.deleted += deleted
        return deleted
