"""The unit every video part passes around: one coded picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Codec = Literal["h264", "jpeg"]


@dataclass(frozen=True, slots=True)
class MediaFrame:
    """One picture: an H.264 access unit in Annex-B form (start codes) or a whole JPEG image."""

    codec: Codec
    data: bytes
    timestamp: float  # seconds, increasing within one stream
    keyframe: bool
