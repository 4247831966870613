"""A public client on its own "LAN": a network namespace the test makes, joined to this machine
by a veth pair. fakecloud binds and announces the root-side address, its DNS shim on port 53
there; the namespace's resolver is that shim (/etc/netns/<name>/resolv.conf), so the client's
hostname lookup, SNI, redirect and relay path are all the real ones. Traffic stays on the veth.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecloud.core.config import Settings
from tests.conftest import REPO
from tests.interop.conftest import interop_settings, is_session_alias, running_cloud
from tests.media.test_viewer_e2e import online

# Addresses on the veth pair this test creates (nothing else uses them); a /30 holds both.
ROOT_ADDRESS, CLIENT_ADDRESS, PREFIX = "10.254.77.1", "10.254.77.2", 30
NAME = f"fcD2{os.getpid() % 100000}"
RUN_TIMEOUT = 90.0


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)


def _cleanup() -> None:
    _ip("netns", "del", NAME)  # takes the namespace's veth end, and so the pair, with it
    _ip("link", "del", f"{NAME}r")
    shutil.rmtree(f"/etc/netns/{NAME}", ignore_errors=True)


@pytest.fixture
def namespace() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    made = _ip("netns", "add", NAME)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {made.stderr.strip()}")
    try:
        steps = [
            ("link", "add", f"{NAME}r", "type", "veth", "peer", "name", f"{NAME}n"),
            ("link", "set", f"{NAME}n", "netns", NAME),
            ("addr", "add", f"{ROOT_ADDRESS}/{PREFIX}", "dev", f"{NAME}r"),
            ("link", "set", f"{NAME}r", "up"),
            ("-n", NAME, "addr", "add", f"{CLIENT_ADDRESS}/{PREFIX}", "dev", f"{NAME}n"),
            ("-n", NAME, "link", "set", f"{NAME}n", "up"),
            ("-n", NAME, "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                pytest.skip(f"cannot set up the veth pair (ip {' '.join(step)}): {done.stderr}")
        resolv = Path(f"/etc/netns/{NAME}")
        resolv.mkdir(parents=True, exist_ok=True)
        (resolv / "resolv.conf").write_text(f"nameserver {ROOT_ADDRESS}\n")
        yield NAME
    finally:
        _cleanup()


async def run_in(namespace: str, *args: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", namespace, sys.executable, "-m", "tests.interop.run_client", *args,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    lines = out.decode().strip().splitlines()
    assert lines, err.decode()
    result = json.loads(lines[-1])
    assert process.returncode == 0 and "error" not in result, (result, err.decode()[-2000:])
    return dict(result)


@pytest.mark.parametrize("style", ["R", "K"])
async def test_a_client_in_its_own_namespace_logs_in_lists_and_watches(
    namespace: str, settings: Settings, style: str
) -> None:
    changes = {"dns_port": 53, "cloud_ports": [5104, 443], "relay_port": 0}
    async with running_cloud(interop_settings(settings, ROOT_ADDRESS, **changes)) as cloud:
        async with online(cloud.camera(20 if style == "R" else 21)) as camera:
            # `--token=`: a token may begin with "-", which argparse would take for an option.
            result = await run_in(
                namespace, "--style", style, f"--token={cloud.token}", "--ca", str(cloud.ca_file),
                "--port", "5104", "--rest-port", "443", "--pictures", "30",
            )  # fmt: skip
        alias = await cloud.account_alias()
    hops = result["hops"]
    assert isinstance(hops, list) and len(hops) == 2, "one redirect, then the session"
    assert is_session_alias(str(result["alias"]), alias)
    assert result["cxnet_cameras"] == [f"{camera.camera_id}:{camera.mac}"]
    assert result["rest_cameras"] == [f"{alias}:{camera.mac}"]
    assert result["relay"] == [ROOT_ADDRESS, cloud.runtime.services.relay.port]
    assert result["sizes"] == [[1280, 720]] and result["decrypt_failures"] == 0
    assert result["media_sent_after_punch"] == 0
