"""`fakecloud serve` as a user runs it: a real child process, real clients."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import cli_env, free_port

READY_LINE = "fakecloud is running"


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    http_port: int
    dns_port: int
    cloud_port: int
    relay_port: int
    data_dir: Path
    log: list[str]

    def get_json(self, path: str) -> object:
        url = f"http://127.0.0.1:{self.http_port}{path}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)


def start_server(data_dir: Path, *args: str, **env: str) -> RunningServer:
    ports = {
        "FAKECLOUD_HTTP_PORT": free_port(),
        "FAKECLOUD_DNS_PORT": free_port(socket.SOCK_DGRAM),
        "FAKECLOUD_CLOUD_PORTS": free_port(),
        "FAKECLOUD_RELAY_PORT": free_port(socket.SOCK_DGRAM),
    }
    environment = cli_env(data_dir, **{k: str(v) for k, v in ports.items()}, **env)
    environment.setdefault("FAKECLOUD_DNS_UPSTREAMS", "127.0.0.1:9")  # never used by these tests
    process = subprocess.Popen(
        [sys.executable, "-m", "fakecloud", "serve", *args],
        env=environment,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    log: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:  # ends when the child exits; pytest-timeout bounds the wait
        log.append(line)
        if READY_LINE in line:
            break
    else:
        process.wait(timeout=10)
        pytest.fail("server exited before it was ready:\n" + "".join(log))
    return RunningServer(
        process,
        ports["FAKECLOUD_HTTP_PORT"],
        ports["FAKECLOUD_DNS_PORT"],
        ports["FAKECLOUD_CLOUD_PORTS"],
        ports["FAKECLOUD_RELAY_PORT"],
        data_dir,
        log,
    )


def stop_server(server: RunningServer, sig: int = signal.SIGTERM) -> int:
    server.process.send_signal(sig)
    try:
        return server.process.wait(timeout=20)
    finally:
        if server.process.stderr:
            server.log.extend(server.process.stderr.read().splitlines(keepends=True))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data")
    yield running
    if running.process.poll() is None:
        stop_server(running)


def test_healthz_and_status_list_running_parts(server: RunningServer) -> None:
    assert server.get_json("/healthz") == {"status": "ok"}
    status = server.get_json("/api/status")
    assert isinstance(status, dict)
    assert status["announce_address"] == "127.0.0.1"
    for part in ("dns", "http", "frontdoor", "relay"):
        assert part in status["parts"], part


def test_dns_shim_answers_dig(server: RunningServer) -> None:
    answer = subprocess.run(
        ["dig", "+short", "+time=2", "+tries=1", "-p", str(server.dns_port),
         "@127.0.0.1", "server.seedonk.com", "A"],
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout.split()  # fmt: skip
    assert answer == ["127.0.0.1"]


def test_sigterm_stops_cleanly(server: RunningServer) -> None:
    assert stop_server(server) == 0
    assert "Traceback" not in "".join(server.log)


def test_data_dir_and_private_keys_are_private(server: RunningServer) -> None:
    keys = list((server.data_dir / "certs").glob("*.key"))
    assert keys
    for key in keys:
        assert os.stat(key).st_mode & 0o777 == 0o600
