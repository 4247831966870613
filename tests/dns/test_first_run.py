"""First run on a host whose DNS port is taken or privileged: fakecloud serves the rest."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from fakecloud.core.config import Settings
from fakecloud.server import build_runtime, close_services, start_parts, stop_parts
from tests.conftest import cli_env, free_port

READY_LINE = "fakecloud is running"


def get_json(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.load(response)


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM])
async def test_serve_goes_on_when_the_dns_port_is_in_use(settings: Settings, kind: int) -> None:
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            holder.listen()
        taken = settings.model_copy(update={"dns_port": holder.getsockname()[1]})
        runtime = build_runtime(taken)
        try:
            await start_parts(runtime)
            try:
                http = runtime.part("http")
                assert http is not None
                port = int(http.status()["address"].rsplit(":", 1)[1])
                status = await asyncio.to_thread(get_json, port, "/api/status")
            finally:
                await stop_parts(runtime)
        finally:
            await close_services(runtime)
    dns = status["parts"]["dns"]
    assert dns["running"] is False and "already in use" in dns["error"]
    assert "FAKECLOUD_DNS_ENABLED=false" in dns["fix"]
    assert status["parts"]["http"]["listening"] is True


def _without_bind_privilege() -> list[str]:
    """A command prefix under which binding a port below 1024 is refused (EACCES)."""
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if start <= 53:
        pytest.skip(f"this host lets anyone bind port 53 (ip_unprivileged_port_start={start})")
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_NET_BIND_SERVICE as root")
    drop = "-net_bind_service"
    return ["setpriv", "--bounding-set", drop, "--inh-caps", drop, "--"]


def free_udp_and_tcp_port(attempts: int = 20) -> int:
    """A port free for both UDP and TCP now: the relay listens on both."""
    for _ in range(attempts):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # its TCP twin is taken (another test's connection): try another
        return port
    raise OSError("no port free for both UDP and TCP")


def test_serve_without_privilege_for_port_53_says_so_and_serves(tmp_path: Path) -> None:
    prefix = _without_bind_privilege()
    http_port = free_port()
    env = cli_env(
        tmp_path / "data",
        FAKECLOUD_DNS_PORT="53",
        FAKECLOUD_HTTP_PORT=str(http_port),
        FAKECLOUD_CLOUD_PORTS=str(free_port()),
        FAKECLOUD_RELAY_PORT=str(free_udp_and_tcp_port()),
        FAKECLOUD_BROKER_PORT="0",
        FAKECLOUD_DNS_UPSTREAMS="127.0.0.1:9",
    )
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "fakecloud", "serve"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    log: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:  # ends when the child exits; pytest-timeout bounds the wait
            log.append(line)
            if READY_LINE in line:
                break
        else:
            pytest.fail("serve exited:\n" + "".join(log))
        dns = get_json(http_port, "/api/status")["parts"]["dns"]
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert dns["running"] is False and "CAP_NET_BIND_SERVICE" in dns["error"]
    assert "cap_add" in dns["fix"]
    text = "".join(log)
    assert "DNS shim is NOT running" in text and "Traceback" not in text


def test_the_dns_command_without_privilege_exits_with_one_clear_line(tmp_path: Path) -> None:
    prefix = _without_bind_privilege()
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "fakecloud", "dns", "--port", "53"],
        env=cli_env(tmp_path / "data", FAKECLOUD_DNS_UPSTREAMS="127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot run the DNS shim: permission denied" in result.stderr
    assert "Traceback" not in result.stderr
