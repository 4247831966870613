"""Shared test helpers: isolated settings, free loopback ports, running the CLI for real."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fakecloud.core.config import Settings

REPO = Path(__file__).resolve().parent.parent
# Public protocol vectors, kept in the repository so a clone tests on its own (docs/protocol.md 8)
PROTOCOL_VECTORS = REPO / "tests" / "fixtures" / "protocol"


def protocol_vector(name: str) -> dict:
    """One vector file of tests/fixtures/protocol, e.g. "belkin_l7_samples.json", parsed."""
    return json.loads((PROTOCOL_VECTORS / name).read_text())


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port the kernel says is free now (tests that can bind port 0 should do that instead)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for an in-process server: loopback only, kernel-chosen ports, a private data dir."""
    for key in list(os.environ):
        if key.startswith("FAKECLOUD_"):
            monkeypatch.delenv(key)
    return Settings(
        data_dir=tmp_path / "data",
        announce_address="127.0.0.1",
        bind_address="127.0.0.1",
        dns_port=0,
        http_port=0,
        relay_port=0,
        rtsp_port=0,
        cloud_ports=[],
        dns_upstreams=[],
    )


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FAKECLOUD_")}
    env["FAKECLOUD_DATA_DIR"] = str(data_dir)
    env["FAKECLOUD_ANNOUNCE_ADDRESS"] = "127.0.0.1"
    env["FAKECLOUD_BIND_ADDRESS"] = "127.0.0.1"
    env["FAKECLOUD_RTSP_PORT"] = "0"  # never the fixed 8554, which parallel servers would share
    env.update(extra)
    return env


def run_cli(
    *args: str, data_dir: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the real `fakecloud` command in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "fakecloud", *args],
        env=cli_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
