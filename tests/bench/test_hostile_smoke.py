"""bench/hostile runs end to end: a short run of two attacks against the whole server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

RUN = REPO / "bench" / "hostile" / "run.py"


@pytest.mark.slow
def test_a_short_hostile_run_prints_the_table_and_the_server_survives() -> None:
    attacks = "cxnet-flood,relay-flood"
    result = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--attacks",
            attacks,
            "--quiet-seconds",
            "1",
            "--attack-seconds",
            "1",
            "--ramp-seconds",
            "2",
            "--recovery-seconds",
            "1",
            "--samples",
            "5",
            "--flood-rate",
            "10",
            "--relay-rate",
            "200",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = result.stdout.splitlines()
    for attack in attacks.split(","):
        # One row per attack carries RSS, descriptors and "alive".
        row = next(line for line in rows if line.startswith(attack))
        assert row.rstrip().endswith("yes"), row
        assert "camera login" in row
    assert any(line.startswith("cxnet-flood: refused") for line in rows), result.stdout
    # The relay sent the spoofed victim nothing (or at most what it "sent"): the bench read it.
    assert "bytes the relay sent the victim" in result.stdout
    assert "logged in (!)" not in result.stdout  # no wrong password got in
    assert "targets (" in result.stdout
