"""`fakecloud serve` as a user runs it: a real child process, real clients."""

from __future__ import annotations

import base64
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

from tests.conftest import cli_env, free_port, run_cli

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


# free_port() cannot reserve a port for the child, so another process may take one meanwhile.
START_ATTEMPTS = 3


def start_server(data_dir: Path, *args: str, **env: str) -> RunningServer:
    """A `fakecloud serve` child on fresh loopback ports, started again (with other ports) only
    when one of them was taken before the child could bind it."""
    for _ in range(START_ATTEMPTS):
        ports = {
            "FAKECLOUD_HTTP_PORT": free_port(),
            "FAKECLOUD_DNS_PORT": free_port(socket.SOCK_DGRAM),
            "FAKECLOUD_CLOUD_PORTS": free_port(),
            "FAKECLOUD_RELAY_PORT": free_port(socket.SOCK_DGRAM),
            "FAKECLOUD_BROKER_PORT": free_port(),
        }
        environment = cli_env(data_dir, **{k: str(v) for k, v in ports.items()}, **env)
        environment.setdefault("FAKECLOUD_DNS_UPSTREAMS", "127.0.0.1:9")  # never used here
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
                if any("already in use" in seen for seen in log):
                    process.terminate()  # a port was taken meanwhile; it serves without it
                    continue
                return RunningServer(
                    process,
                    ports["FAKECLOUD_HTTP_PORT"],
                    ports["FAKECLOUD_DNS_PORT"],
                    ports["FAKECLOUD_CLOUD_PORTS"],
                    ports["FAKECLOUD_RELAY_PORT"],
                    data_dir,
                    log,
                )
        process.wait(timeout=10)
        if not any("already in use" in line for line in log):
            break
    pytest.fail("server exited before it was ready:\n" + "".join(log))


def wait_for_log(server: RunningServer, wanted: str, count: int = 1) -> list[str]:
    """Read on until the log holds `count` lines containing `wanted` (pytest-timeout bounds it)."""
    assert server.process.stderr is not None
    matches = [line for line in server.log if wanted in line]
    if len(matches) >= count:
        return matches[:count]
    for line in server.process.stderr:
        server.log.append(line)
        if wanted in line:
            matches.append(line)
            if len(matches) == count:
                return matches
    pytest.fail(f"server exited before logging {wanted!r}:\n" + "".join(server.log))


def camera_list(data_dir: Path) -> list[dict[str, object]]:
    listed = run_cli("camera", "list", "--json", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    cameras = json.loads(listed.stdout)
    assert isinstance(cameras, list)
    return cameras


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
    # One shared bus: the parts that subscribe are subscribed to the one the status shows.
    assert {"viewer", "media-outputs"} <= set(status["events"]["subscribers"])
    assert status["events"]["published"] >= 0


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


def test_demo_brings_simulated_cameras_online_with_video(tmp_path: Path) -> None:
    # Announcing an address nothing listens on (as a LAN address is, seen from loopback) must
    # not keep the demo cameras' video from the relay.
    server = start_server(tmp_path / "data", "--demo", FAKECLOUD_ANNOUNCE_ADDRESS="127.0.0.2")
    try:
        (announcement,) = wait_for_log(server, "demo: 3 simulated cameras")
        password = announcement.split("password ", 1)[1].split()[0]
        wait_for_log(server, "logged in from", count=3)
        listed = camera_list(server.data_dir)
        assert len(listed) == 3
        assert all(camera["online"] for camera in listed)
        assert {"id", "alias", "mac", "name", "online"} <= set(listed[0])
        request = urllib.request.Request(f"http://127.0.0.1:{server.http_port}/api/cameras")
        token = base64.b64encode(f"demo:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert len(json.load(response)) == 3
        snapshot = f"http://127.0.0.1:{server.http_port}/api/cameras/{listed[0]['id']}/snapshot.jpg"
        with urllib.request.urlopen(snapshot, timeout=30) as response:
            assert response.headers["Content-Type"] == "image/jpeg"
            assert response.read(2) == b"\xff\xd8"
    finally:
        assert stop_server(server) == 0
    # A clean stop marks every camera offline at once.
    assert not any(camera["online"] for camera in camera_list(server.data_dir))


def test_sigkill_during_activity_loses_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, "--demo")
    try:
        wait_for_log(server, "logged in from", count=3)
        added = run_cli(
            "account", "add", "alice", "--password", "correct horse 1", data_dir=data_dir
        )
        assert added.returncode == 0, added.stderr
        before = camera_list(data_dir)
    finally:
        stop_server(server, signal.SIGKILL)
    assert len(before) == 3
    # The killed server could not mark its cameras offline; the next start does, before serving.
    restarted = start_server(data_dir)
    try:
        after = camera_list(data_dir)
        assert [c["id"] for c in after] == [c["id"] for c in before]
        assert [c["mac"] for c in after] == [c["mac"] for c in before]
        assert not any(camera["online"] for camera in after)
        accounts = run_cli("account", "list", "--json", data_dir=data_dir)
        assert {a["login"] for a in json.loads(accounts.stdout)} == {"demo", "alice"}
    finally:
        assert stop_server(restarted) == 0


def test_camera_list_shows_a_silent_camera_offline_within_the_keepalive_timeout(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    added = run_cli("account", "add", "alice", "--password", "correct horse 1", data_dir=data_dir)
    assert added.returncode == 0, added.stderr
    server = start_server(data_dir, FAKECLOUD_KEEPALIVE_TIMEOUT="3")
    # Keepalives well inside the timeout: the camera is online until it is frozen, however
    # slowly the `camera list` process below starts.
    camera = subprocess.Popen(
        [sys.executable, "-m", "fakecloud", "sim", "camera", "--no-video", "--keepalive", "0.5",
         "--server", f"127.0.0.1:{server.cloud_port}", "--account", "alice:correct horse 1"],
        env=cli_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_log(server, "logged in from")
        assert [c["online"] for c in camera_list(data_dir)] == [True]
        # A frozen camera keeps its TCP connection open but sends nothing: only the keepalive
        # timeout can tell.
        camera.send_signal(signal.SIGSTOP)
        (offline,) = wait_for_log(server, "went offline")
        assert "timeout" in offline or "silent" in offline
        assert [c["online"] for c in camera_list(data_dir)] == [False]
    finally:
        camera.kill()
        camera.wait(timeout=10)
        assert stop_server(server) == 0
