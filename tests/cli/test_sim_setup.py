"""`fakecloud sim setup-mode` as a child process, asked over real HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import cli_env, free_port


def test_the_setup_mode_simulator_serves_until_stopped(tmp_path: Path) -> None:
    silent = f"127.0.0.1:{free_port()}"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakecloud",
            "sim",
            "setup-mode",
            "--port=0",
            "--ssid=Home",
            "--wifi-password-stdin",
            f"--resolver={silent}",
        ],
        env=cli_env(tmp_path / "data"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdin and child.stdout
        child.stdin.write("home-password\n")
        child.stdin.close()
        ready = child.stdout.readline()  # pytest-timeout bounds the wait
        url = ready.split()[3].rstrip("/")
        with httpx.Client(base_url=url, auth=("admin", "admin"), timeout=5) as client:
            assert "SSID:Home " in client.post("/goform/getApSitesInfo").text
            form = {"apcli_ssid": "Home", "apcli_wpapsk": "home-password"}
            client.post("/goform/wirelessAplist", data=form)
            answers = [client.post("/goform/verifyApcliMode").text for _ in range(2)]
        assert answers == ["connecting", "fail to dns"]
    finally:
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=20) == 0
