"""WS-Discovery with real multicast, inside a network namespace this test creates (root only):
fakecloud's ONVIF part answers the WSDiscovery package's client and our own Probe, announces
each camera with a Hello, and rate-limits a flood. Nothing reaches the real network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecloud.onvif.discovery import SOURCE_BURST

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="a network namespace needs root and iproute2 (ip)",
)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=TIMEOUT)


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"fc-onvif-{uuid.uuid4().hex[:8]}"
    ip("netns", "add", name)
    try:
        # Loopback for HTTP, and a veth pair with private addresses: the WSDiscovery client
        # probes from every non-loopback address only.
        ip("-n", name, "link", "set", "lo", "up")
        ip("-n", name, "link", "add", "fca", "type", "veth", "peer", "name", "fcb")
        for device, address in (("fca", "10.99.0.1/24"), ("fcb", "10.99.0.2/24")):
            ip("-n", name, "address", "add", address, "dev", device)
            ip("-n", name, "link", "set", device, "up", "multicast", "on")
        ip("-n", name, "route", "add", "224.0.0.0/4", "dev", "fca")
        yield name
    finally:
        ip("netns", "delete", name)


def peer(namespace: str, *args: str) -> subprocess.Popen[str]:
    command = ["ip", "netns", "exec", namespace, sys.executable, "-m", "tests.onvif.discovery_peer"]
    return subprocess.Popen(
        [*command, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    text = process.stdout.readline()  # each peer has its own deadline; none waits for ever
    if not text:
        process.wait(TIMEOUT)
        raise AssertionError(process.stderr.read() if process.stderr else "no output")
    return text


def finished(process: subprocess.Popen[str]) -> list[str]:
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    return out.splitlines()


def test_hello_probe_and_a_real_client(namespace: str, tmp_path: Path) -> None:
    listener = peer(namespace, "hello")
    assert line(listener).strip() == "joined"
    responder = peer(namespace, "responder", str(tmp_path / "data"))
    try:
        devices = json.loads(line(responder))
        xaddrs = sorted(devices.values())
        assert len(xaddrs) == 2 and all(x.startswith("http://127.0.0.1:") for x in xaddrs)
        assert json.loads(finished(listener)[0])[0] in xaddrs  # the first Hello names a device

        found, scopes = (json.loads(text) for text in finished(peer(namespace, "wsdiscovery")))
        assert found == xaddrs
        assert "onvif://www.onvif.org/name/Camera_0" in scopes
        assert "onvif://www.onvif.org/Profile/Streaming" in scopes

        matches = json.loads(finished(peer(namespace, "probe", "2"))[0])
        assert sorted(xaddr for _, (xaddr,), _ in matches) == xaddrs
        assert len({address for address, _, _ in matches}) == 2
    finally:
        counters = finished(responder) if responder.poll() is None else []
    assert json.loads(counters[-1])["hellos_sent"] == 2


def test_a_probe_flood_is_rate_limited(namespace: str, tmp_path: Path) -> None:
    responder = peer(namespace, "responder", str(tmp_path / "data"))
    try:
        line(responder)
        probes, answered = 20, SOURCE_BURST * 2  # two cameras answer each admitted probe
        matches = json.loads(finished(peer(namespace, "flood", str(probes), str(answered)))[0])
        assert len(matches) == answered
    finally:
        counters = json.loads(finished(responder)[-1])
    assert counters["probes"] < probes / 2
    assert counters["rate_limited"] >= probes - counters["probes"]
