"""bench/streams runs end to end: one camera, short phases, the whole server in its own process,
real RTSP, WebRTC (aiortc) and ffmpeg-relay viewers; the table row is printed and plausible."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

RUN = REPO / "bench" / "streams" / "run.py"


@pytest.mark.slow
def test_one_camera_prints_cpu_and_latency_for_every_viewer_kind() -> None:
    result = subprocess.run(
        [sys.executable, str(RUN), "--cameras", "1", "--seconds", "2", "--settle", "1"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["1"])
    # Three latency cells "p50/p99", each under a second on loopback, p50 <= p99.
    cells = [field for field in row.split() if field.count("/") == 1 and "x" not in field]
    assert len(cells) == 3, row
    for text in cells:
        p50, p99 = (float(number) for number in text.split("/"))
        assert 0 < p50 <= p99 < 1000, row
    assert row.count("x)") == 4, row  # every fakecloud figure has its ratio to the reference
    assert row.rstrip().endswith(" ms"), row  # the bench loop's own lag
