"""SIGKILL in the middle of store activity loses nothing that was committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from fakecloud.store import Store
from tests.conftest import REPO
from tests.store.conftest import FAST_HASHER

CHILD = Path(__file__).with_name("durability_child.py")
LINES_BEFORE_KILL = 400


def test_committed_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    reported: list[str] = []
    try:
        for line in child.stdout:  # bounded: the child stops by itself after 60 s
            reported.append(line)
            if len(reported) >= LINES_BEFORE_KILL:
                break
        os.kill(child.pid, signal.SIGKILL)
        remaining, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    reported += remaining.splitlines(keepends=True)
    complete = [line.split() for line in reported if line.endswith("\n")]
    logins = [fields[1] for fields in complete if fields[0] == "account"]
    cameras = [(int(fields[1]), fields[2]) for fields in complete if fields[0] == "camera"]
    assert len(logins) >= LINES_BEFORE_KILL // 2 - 1

    with Store(path, hasher=FAST_HASHER) as reopened:
        assert reopened.integrity_check() == "ok"
        for login in logins:
            assert reopened.verify_password(login, "a long password"), login
        for camera_id, mac in cameras:
            camera = reopened.get_camera(camera_id)
            assert camera is not None and camera.mac == mac and camera.online
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
