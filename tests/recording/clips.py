"""What the recording tests share: reading a clip back with real decoders."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import av

from fakecloud.media.testpattern import read_counter

LOOP = 150  # the simulated camera's counter runs 0..149, then again (sim/video.py)


def probe(path: Path) -> dict[str, str]:
    """The clip's video stream and duration as the real ffprobe reads them."""
    result = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames"),
            *("-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration"),
            *("-of", "json", str(path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(result.stdout)
    return {**found["streams"][0], "duration": found["format"]["duration"]}


def counters(path: Path) -> list[int]:
    """The test-pattern counter of every picture PyAV decodes from the clip."""
    with av.open(str(path)) as container:
        return [read_counter(p.to_ndarray(format="gray")) for p in container.decode(video=0)]


def assert_consecutive(values: list[int], loop: int = LOOP) -> None:
    """Every picture follows the one before (a lost frame would skip; the counter wraps)."""
    steps = [(later - earlier) % loop for earlier, later in itertools.pairwise(values)]
    assert values and set(steps) <= {1}, steps
