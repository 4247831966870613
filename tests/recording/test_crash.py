"""`fakecloud serve --demo` recording continuously is killed with SIGKILL mid-clip: the clip it
leaves plays, with ffprobe and ffmpeg, up to about the moment of the kill."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.recording.clips import assert_consecutive, counters, probe
from tests.test_serve import start_server, stop_server, wait_for_log

RECORDED_SECONDS = 4.0  # how much the clip holds before the kill
# At most this much before the kill may be lost: the keyframe group the muxer holds (1 s in the
# simulated camera), the frames in flight, and the clip's start time rounding.
LOST_AT_MOST = 2.0
POLL_SECONDS = 0.1
MAX_POLLS = 300


def test_a_clip_survives_sigkill(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--demo", FAKECLOUD_RECORD_MODE="continuous")
    try:
        (line,) = wait_for_log(server, ": recording ")
        path = Path(re.split(r": recording ", line.strip())[-1])
        started = datetime.strptime(path.name[:19], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
        # Bounded polling of the file's age (what is being waited for is on disk, not an event).
        for _ in range(MAX_POLLS):
            if (datetime.now(UTC) - started).total_seconds() >= RECORDED_SECONDS:
                break
            time.sleep(POLL_SECONDS)
        killed_at = datetime.now(UTC)
        assert stop_server(server, signal.SIGKILL) == -signal.SIGKILL
    finally:
        if server.process.poll() is None:
            stop_server(server)
    recorded = (killed_at - started).total_seconds()
    found = probe(path)
    assert found["codec_name"] == "h264"
    assert recorded - LOST_AT_MOST <= float(found["duration"]) <= recorded + 0.5, found
    # ffmpeg decodes the whole file without one error, and every picture is in order.
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert decoded.stderr == ""
    assert_consecutive(counters(path))
