"""The differencing detector on test-pattern pictures: thresholds, zones and hysteresis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.media.testpattern import TestPattern
from fakecloud.motion.detector import (
    GRID,
    MotionDetector,
    MotionPolicy,
    Zone,
    cells,
    parse_zones,
    share_needed,
    zone_mask,
)

FPS = 15


def luma(pattern: TestPattern, index: int) -> np.ndarray:
    return pattern.picture(index).to_ndarray(format="gray")


def feed_seconds(detector: MotionDetector, pattern: TestPattern, seconds: range) -> list[str]:
    """One picture a second (as keyframes come), the changes the detector reports."""
    changes = []
    for second in seconds:
        if change := detector.feed(luma(pattern, second * FPS), now=float(second)):
            changes.append(change)
    return changes


def test_the_still_pattern_is_no_motion_and_the_block_is() -> None:
    still, moving = (
        TestPattern(width=640, height=360),
        TestPattern(width=640, height=360, motion=True),
    )
    detector = MotionDetector(MotionPolicy(start_pictures=2, quiet_seconds=3))
    assert feed_seconds(detector, still, range(0, 6)) == []
    assert detector.last_share < detector.threshold
    assert feed_seconds(detector, moving, range(6, 12)) == ["start"]  # one event, however long
    assert feed_seconds(detector, still, range(12, 20)) == ["end"]
    assert not detector.moving


def test_a_brief_change_is_not_yet_motion() -> None:
    still, moving = (
        TestPattern(width=640, height=360),
        TestPattern(width=640, height=360, motion=True),
    )
    # One picture with the block changes two comparisons (it appears, it goes): under three.
    detector = MotionDetector(MotionPolicy(start_pictures=3))
    changes = feed_seconds(detector, still, range(0, 2))
    changes += feed_seconds(detector, moving, range(2, 3))
    changes += feed_seconds(detector, still, range(3, 6))
    assert changes == []


def test_masked_zones_hide_motion() -> None:
    moving = TestPattern(width=640, height=360, motion=True)
    band = MotionPolicy(zones=(Zone(0, 0.25, 1, 0.5),), start_pictures=1)
    assert feed_seconds(MotionDetector(band), moving, range(0, 6)) == []
    everything = MotionPolicy(zones=(Zone(0, 0, 1, 1),), start_pictures=1)
    assert feed_seconds(MotionDetector(everything), moving, range(0, 6)) == []


def test_no_pictures_ends_motion_after_the_quiet_time() -> None:
    moving = TestPattern(width=640, height=360, motion=True)
    detector = MotionDetector(MotionPolicy(start_pictures=1, quiet_seconds=5))
    assert feed_seconds(detector, moving, range(0, 2)) == ["start"]
    assert detector.quiet(now=4.0) is None and detector.quiet(now=6.0) == "end"


def test_sensitivity_sets_the_share_of_cells() -> None:
    assert share_needed(0) == 0.25 and share_needed(1) == pytest.approx(0.01)
    assert share_needed(0.5) < share_needed(0.2)
    with pytest.raises(ValueError):
        share_needed(1.5)


def test_cells_and_masks_fit_any_picture_size() -> None:
    assert cells(np.zeros((720, 1280), np.uint8)).shape == GRID
    assert cells(np.zeros((101, 333), np.uint8)).shape == GRID
    with pytest.raises(ValueError, match="smaller"):
        cells(np.zeros((10, 10), np.uint8))
    mask = zone_mask([Zone(0.5, 0, 0.5, 1)])
    assert mask[:, : GRID[1] // 2].all() and not mask[:, GRID[1] // 2 :].any()


def test_zone_settings_parse_or_fail_clearly() -> None:
    assert parse_zones(None) == ()
    assert parse_zones([[0, 0.5, 1, 0.5]]) == (Zone(0, 0.5, 1, 0.5),)
    for bad in ("x", [[0, 0, 1]], [[0, 0, 2, 1]], [["a", 0, 1, 1]], [[0, 0, 1, 1]] * 17):
        with pytest.raises(ValueError):
            parse_zones(bad)


@given(st.recursive(st.none() | st.floats() | st.integers() | st.text(), st.lists, max_leaves=20))
def test_any_zone_setting_parses_or_raises_value_error(value: object) -> None:
    try:
        zones = parse_zones(value)
    except ValueError:
        return
    assert all(0 <= z.left <= 1 and 0 <= z.height <= 1 for z in zones)
    zone_mask(zones)
