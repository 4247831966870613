"""The hosts people start fakecloud on, each for real: `fakecloud serve` as a child process in
a network namespace of its own (so port 53 is really taken, or really free), or as an
unprivileged user against a data folder it cannot write (a Docker bind mount)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env

READY_LINE = "fakecloud is running"
NOT_RUNNING = "the DNS shim is NOT running"
# Inside a namespace of the test's own every port is free: fixed, unprivileged ones.
HTTP_PORT, CLOUD_PORT, RELAY_PORT = 8080, 5104, 5105
WITHIN = 60

# Holds port 53 on UDP and TCP as another DNS server would, until its stdin closes.
HOLDER = """
import socket, sys
held = []
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((sys.argv[1], 53))
    if kind == socket.SOCK_STREAM:
        s.listen()
    held.append(s)
print("holding", flush=True)
sys.stdin.read()
"""
# What a LAN client sees: the HTTP app's answer and whether the CXNet port takes a connection.
CLIENT = """
import json, socket, sys, urllib.request
http, cloud = int(sys.argv[1]), int(sys.argv[2])
with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=10) as response:
    health = json.load(response)
with socket.create_connection(("127.0.0.1", cloud), timeout=10):
    pass
print(json.dumps({"health": health, "cloud_connected": True}))
"""


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A network namespace with only its loopback up, removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    name = f"fcH4{os.getpid() % 100000}{request.node.name[-12:]}".translate(
        str.maketrans("[]-", "___")
    )
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {made.stderr.strip()}")
    try:
        up = _ip("-n", name, "link", "set", "lo", "up")
        if up.returncode != 0:
            pytest.skip(f"cannot bring up the namespace's loopback: {up.stderr.strip()}")
        yield name
    finally:
        _ip("netns", "del", name)


def _in(namespace: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


@contextlib.contextmanager
def holding_port_53(namespace: str, address: str) -> Iterator[None]:
    """Another DNS server (systemd-resolved, Pi-hole) on `address` port 53 in the namespace."""
    holder = subprocess.Popen(
        _in(namespace, sys.executable, "-c", HOLDER, address),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"  # pytest-timeout bounds the wait
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=WITHIN)


@dataclass
class Served:
    log: list[str]
    client: dict[str, object]


def serve_in(namespace: str, data_dir: Path, **env: str) -> Served:
    """Start `fakecloud serve` in the namespace, wait until it is ready, ask it as a client
    would, then stop it."""
    environment = cli_env(
        data_dir,
        FAKECLOUD_BIND_ADDRESS="0.0.0.0",
        FAKECLOUD_DNS_PORT="53",
        FAKECLOUD_HTTP_PORT=str(HTTP_PORT),
        FAKECLOUD_CLOUD_PORTS=str(CLOUD_PORT),
        FAKECLOUD_RELAY_PORT=str(RELAY_PORT),
        FAKECLOUD_BROKER_PORT="0",
        FAKECLOUD_DNS_UPSTREAMS="127.0.0.1:9",
        **env,
    )
    server = subprocess.Popen(
        _in(namespace, sys.executable, "-m", "fakecloud", "serve"),
        env=environment, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    log: list[str] = []
    try:
        _read_until_ready(server, log)
        asked = subprocess.run(
            _in(namespace, sys.executable, "-c", CLIENT, str(HTTP_PORT), str(CLOUD_PORT)),
            capture_output=True, text=True, timeout=WITHIN, check=False,
        )  # fmt: skip
        assert asked.returncode == 0, asked.stderr
    finally:
        server.terminate()
        server.wait(timeout=WITHIN)
        assert server.stderr is not None
        log += server.stderr.readlines()
    assert server.returncode == 0, "".join(log)
    return Served(log, json.loads(asked.stdout))


def _read_until_ready(server: subprocess.Popen[str], log: list[str]) -> None:
    """Append the server's log lines to `log` up to its ready line (pytest-timeout bounds it)."""
    assert server.stderr is not None
    while not log or READY_LINE not in log[-1]:
        line = server.stderr.readline()
        if not line:
            pytest.fail("serve exited before it was ready:\n" + "".join(log))
        log.append(line)


def _the_one_dns_warning(served: Served) -> str:
    text = "".join(served.log)
    assert "Traceback" not in text
    warnings = [line for line in served.log if NOT_RUNNING in line]
    assert len(warnings) == 1, text
    assert served.client == {"health": {"status": "ok"}, "cloud_connected": True}
    return warnings[0]


def test_stock_ubuntu_with_systemd_resolved_on_127_0_0_53(namespace: str, tmp_path: Path) -> None:
    with holding_port_53(namespace, "127.0.0.53"):
        warning = _the_one_dns_warning(serve_in(namespace, tmp_path / "data"))
    assert "0.0.0.0 port 53" in warning and "already in use" in warning
    assert "systemd-resolved" in warning and "127.0.0.53" in warning
    assert "FAKECLOUD_BIND_ADDRESS" in warning and "FAKECLOUD_DNS_ENABLED=false" in warning


def test_pi_hole_on_every_address(namespace: str, tmp_path: Path) -> None:
    with holding_port_53(namespace, "0.0.0.0"):
        warning = _the_one_dns_warning(serve_in(namespace, tmp_path / "data"))
    assert "already in use" in warning and "Pi-hole" in warning
    assert "FAKECLOUD_DNS_ENABLED=false" in warning and "dns-config" in warning


def test_a_free_port_53_runs_the_dns_shim(namespace: str, tmp_path: Path) -> None:
    """The control: the same start with nothing on port 53 gives no warning."""
    served = serve_in(namespace, tmp_path / "data")
    assert not any(NOT_RUNNING in line for line in served.log), "".join(served.log)
    assert served.client["cloud_connected"] is True


AS_NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--"]


@pytest.fixture
def root_owned_folder() -> Iterator[Path]:
    """A folder as a Docker bind mount often arrives: root's, 0755, inside a path anyone can
    reach (pytest's own temporary folders are private to root)."""
    if os.geteuid() != 0:
        pytest.skip("running the server as another user needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run as an unprivileged user")
    reachable = subprocess.run(
        [*AS_NOBODY, sys.executable, "-c", "import fakecloud"],
        cwd="/", capture_output=True, timeout=WITHIN, check=False,
    )  # fmt: skip
    if reachable.returncode != 0:
        pytest.skip("this checkout or its virtual environment is not readable by nobody")
    parent = Path(tempfile.mkdtemp(prefix="fakecloud-bind-"))
    try:
        parent.chmod(0o755)
        folder = parent / "data"
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(parent)


@pytest.mark.parametrize("command", [("serve",), ("account", "list")])
def test_a_bind_mount_the_user_cannot_write_is_one_line_with_the_fix(
    root_owned_folder: Path, command: tuple[str, ...]
) -> None:
    result = subprocess.run(
        [*AS_NOBODY, sys.executable, "-m", "fakecloud", *command],
        env=cli_env(root_owned_folder, FAKECLOUD_HTTP_PORT=str(HTTP_PORT), HOME="/nonexistent"),
        cwd=REPO, capture_output=True, text=True, timeout=WITHIN, check=False,
    )  # fmt: skip
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    (line,) = lines
    assert str(root_owned_folder) in line and "nobody (uid 65534" in line
    assert "permission denied" in line.lower()
    assert "chown -R 65534:65534" in line and "PUID/PGID" in line
    assert not any(root_owned_folder.iterdir())  # nothing half-made
