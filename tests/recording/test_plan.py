"""The clip planner: when clips open and close, and what the pre-roll keeps."""

from __future__ import annotations

from fakecloud.media.frames import MediaFrame
from fakecloud.recording.plan import ClipPlanner, ClipPolicy, Close, Open, PreRoll, Step

FPS = 10
GOP = 10  # a keyframe each second


def frame(index: int, size: int = 100) -> MediaFrame:
    return MediaFrame("h264", bytes(size), index / FPS, keyframe=index % GOP == 0)


def run(planner: ClipPlanner, indexes: range) -> list[Step]:
    steps: list[Step] = []
    for index in indexes:
        steps += planner.frame(frame(index), now=index / FPS)
    return steps


def kinds(steps: list[Step]) -> list[str]:
    return [type(step).__name__ for step in steps]


def test_pre_roll_keeps_whole_groups_covering_its_seconds() -> None:
    pre_roll = PreRoll(seconds=2.0, max_bytes=1 << 20)
    for index in range(55):
        pre_roll.add(frame(index))
    kept = pre_roll.take()
    assert kept[0].keyframe and kept[0].timestamp == 3.0  # 3.0 .. 5.4 covers at least 2 s
    assert len(kept) == 25 and pre_roll.take() == []


def test_pre_roll_never_holds_more_than_its_bytes() -> None:
    pre_roll = PreRoll(seconds=60.0, max_bytes=2500)
    for index in range(100):
        pre_roll.add(frame(index))
        assert pre_roll.bytes <= 2500
    assert pre_roll.take()[0].timestamp == 8.0
    huge = PreRoll(seconds=60.0, max_bytes=50)  # one group alone is too big: nothing kept
    for index in range(3):
        huge.add(frame(index))
    assert huge.take() == []


def test_motion_opens_with_pre_roll_and_post_roll_closes() -> None:
    planner = ClipPlanner(ClipPolicy("motion", pre_roll_seconds=1.0, post_roll_seconds=2.0))
    assert run(planner, range(35)) == []  # no motion, no clip
    planner.motion(True, now=3.5)
    (opened,) = planner.frame(frame(35), now=3.5)
    assert isinstance(opened, Open) and opened.reason == "motion"
    assert opened.frames[0].timestamp == 2.0 and opened.frames[-1].timestamp == 3.5
    assert kinds(run(planner, range(36, 50))) == ["Write"] * 14
    planner.motion(False, now=5.0)
    steps = run(planner, range(50, 80))
    assert kinds(steps) == ["Write"] * 20 + ["Close"]  # closed at 7.0 s, 2 s after the end
    assert isinstance(steps[-1], Close) and not planner.recording


def test_a_clip_opens_only_on_a_keyframe() -> None:
    planner = ClipPlanner(ClipPolicy("continuous"))
    assert planner.frame(frame(3), now=0.3) == []
    (opened,) = planner.frame(frame(10), now=1.0)
    assert isinstance(opened, Open) and opened.frames == [frame(10)]


def test_continuous_recording_is_cut_at_the_segment_length() -> None:
    planner = ClipPlanner(ClipPolicy("continuous", segment_seconds=2.0))
    steps = run(planner, range(0, 50))
    assert kinds(steps).count("Open") == 3 and kinds(steps).count("Close") == 2
    cut = kinds(steps).index("Close")
    assert isinstance(steps[cut + 1], Open) and steps[cut + 1].frames[0].timestamp == 2.0


def test_a_long_motion_is_cut_at_max_clip_seconds() -> None:
    planner = ClipPlanner(ClipPolicy("motion", max_clip_seconds=3.0))
    planner.motion(True, now=0.0)
    steps = run(planner, range(0, 70))
    assert kinds(steps).count("Open") == 3


def test_paused_and_stalled_close_the_clip() -> None:
    planner = ClipPlanner(ClipPolicy("continuous"))
    run(planner, range(0, 5))
    planner.paused = True
    assert kinds(planner.frame(frame(5), now=0.5)) == ["Close"]
    assert run(planner, range(6, 30)) == []
    planner.paused = False
    assert kinds(run(planner, range(30, 31))) == ["Open"]
    assert kinds(planner.stalled()) == ["Close"] and planner.stalled() == []
    assert run(planner, range(31, 40)) == []  # until the next keyframe
    assert kinds(run(planner, range(40, 42))) == ["Open", "Write"]
