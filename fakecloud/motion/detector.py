"""Motion from pictures: frame differencing on a coarse grayscale grid, with masked zones and
hysteresis. Pure: pictures (numpy luma planes) and times in, "start"/"end" out; no I/O.

Each picture is averaged into GRID cells (averaging hides compression noise); a cell changed
when its mean brightness moved by more than CELL_CHANGE levels since the previous picture. A
picture "changed" when the share of unmasked cells that changed exceeds the threshold the
sensitivity sets. Motion starts after `start_pictures` changed pictures in a row and ends once
no picture changed for `quiet_seconds`, so one event is one event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

GRID = (18, 32)  # rows, columns: 16:9 cells of a 720p picture are 40 pixels square
CELL_CHANGE = 10.0  # mean luma levels (of 219 in limited range) a cell must move
# Share of cells that must change: from 25% (sensitivity 0) down to 1% (sensitivity 1).
LEAST_SHARE, MOST_SHARE = 0.01, 0.25
MAX_ZONES = 16

Luma = npt.NDArray[np.uint8]
Cells = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Zone:
    """A masked rectangle, in fractions of the picture (0..1) so it fits any resolution."""

    left: float
    top: float
    width: float
    height: float


def parse_zones(value: Any) -> tuple[Zone, ...]:
    """Zones from a camera's `motion_zones` setting: a list of [left, top, width, height]
    fractions. Raises ValueError on anything else (settings are user input)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ZONES:
        raise ValueError(f"motion_zones must be a list of at most {MAX_ZONES} rectangles")
    zones = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 4):
            raise ValueError("each motion zone is [left, top, width, height]")
        if not all(isinstance(n, int | float) and 0 <= n <= 1 for n in item):
            raise ValueError("motion zone values are fractions of the picture, 0 to 1")
        zones.append(Zone(*(float(n) for n in item)))
    return tuple(zones)


def zone_mask(zones: Iterable[Zone], grid: tuple[int, int] = GRID) -> npt.NDArray[np.bool_]:
    """True for the grid cells that count (outside every zone)."""
    rows, columns = grid
    counted = np.ones(grid, dtype=bool)
    for zone in zones:
        top, left = int(zone.top * rows), int(zone.left * columns)
        bottom = int(np.ceil((zone.top + zone.height) * rows))
        right = int(np.ceil((zone.left + zone.width) * columns))
        counted[top:bottom, left:right] = False
    return counted


def cells(luma: Luma, grid: tuple[int, int] = GRID) -> Cells:
    """The picture's mean brightness per grid cell (edges that do not fill a cell are cut)."""
    rows, columns = grid
    height, width = luma.shape
    cell_height, cell_width = height // rows, width // columns
    if not cell_height or not cell_width:
        raise ValueError(f"a {width}x{height} picture is smaller than the {columns}x{rows} grid")
    cropped = luma[: rows * cell_height, : columns * cell_width].astype(np.float32)
    result: Cells = cropped.reshape(rows, cell_height, columns, cell_width).mean(axis=(1, 3))
    return result


def share_needed(sensitivity: float) -> float:
    if not 0 <= sensitivity <= 1:
        raise ValueError("sensitivity is between 0 and 1")
    return MOST_SHARE - sensitivity * (MOST_SHARE - LEAST_SHARE)


@dataclass(frozen=True, slots=True)
class MotionPolicy:
    sensitivity: float = 0.5
    start_pictures: int = 2
    quiet_seconds: float = 10.0
    zones: Sequence[Zone] = ()


class MotionDetector:
    """Feed it pictures in time order; it answers "start" or "end" when motion does."""

    def __init__(self, policy: MotionPolicy) -> None:
        self.policy = policy
        self.threshold = share_needed(policy.sensitivity)
        self._counted = zone_mask(policy.zones)
        self._previous: Cells | None = None
        self._changed_in_a_row = 0
        self._last_change = 0.0
        self.moving = False
        self.last_share = 0.0

    def score(self, picture: Cells) -> float:
        """The share of counted cells that changed since the previous picture (0 for the first
        one, or when every cell is masked)."""
        previous, self._previous = self._previous, picture
        if previous is None or previous.shape != picture.shape or not self._counted.any():
            return 0.0
        changed = np.abs(picture - previous) > CELL_CHANGE
        return float(changed[self._counted].mean())

    def quiet(self, now: float) -> Literal["end"] | None:
        """No picture came: "end" once the quiet time has passed since the last change."""
        if self.moving and now - self._last_change >= self.policy.quiet_seconds:
            self.moving = False
            return "end"
        return None

    def feed(self, luma: Luma, now: float) -> Literal["start", "end"] | None:
        self.last_share = self.score(cells(luma))
        if self.last_share > self.threshold:
            self._changed_in_a_row += 1
            self._last_change = now
        else:
            self._changed_in_a_row = 0
        if not self.moving and self._changed_in_a_row >= self.policy.start_pictures:
            self.moving = True
            return "start"
        return self.quiet(now)
