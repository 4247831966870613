"""`fakecloud dns` and `fakecloud dns-config` as a user runs them."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_env, free_port, run_cli

READY = "DNS shim is running"


def test_dns_command_serves_until_sigterm(tmp_path: Path) -> None:
    port = free_port(socket.SOCK_DGRAM)
    process = subprocess.Popen(
        [sys.executable, "-m", "fakecloud", "dns", "--port", str(port),
         "--upstream", "127.0.0.1:9"],
        env=cli_env(tmp_path), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    log = []
    for line in process.stderr:  # ends if the child exits; pytest-timeout bounds the wait
        log.append(line)
        if READY in line:
            break
    try:
        answer = subprocess.run(
            ["dig", "+short", "+time=2", "+tries=2", "-p", str(port), "@127.0.0.1",
             "server.seedonk.com"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout.split()  # fmt: skip
        assert answer == ["127.0.0.1"], "".join(log)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    rest = process.stderr.read()
    assert "127.0.0.1 asked for server.seedonk.com" in rest
    assert "Traceback" not in rest
    assert "forwarding the rest to 127.0.0.1:9" in "".join(log)


def test_dns_command_rejects_a_bad_upstream(tmp_path: Path) -> None:
    result = run_cli("dns", "--port", "0", "--upstream", "dns.google", data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("fakecloud: error: dns_upstreams: upstream 'dns.google'")
    assert result.stderr.count("\n") == 1


def test_dns_config_prints_a_recipe(tmp_path: Path) -> None:
    result = run_cli(
        "dns-config", "--format", "dnsmasq", "--address", "192.0.2.7", data_dir=tmp_path
    )
    assert result.returncode == 0
    assert "address=/seedonk.com/192.0.2.7" in result.stdout.splitlines()
    default = run_cli("dns-config", "--format", "hosts", data_dir=tmp_path)
    assert "127.0.0.1 server.seedonk.com" in default.stdout.splitlines()


def test_dns_config_rejects_a_bad_address(tmp_path: Path) -> None:
    result = run_cli(
        "dns-config", "--format", "unbound", "--address", "nas.local", data_dir=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.startswith("fakecloud: error:") and "Traceback" not in result.stderr
