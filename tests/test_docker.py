"""Build the image for real where a Docker engine is available (skipped, with the reason, where
it is not: this sandbox has none). The structure is checked in tests/test_packaging.py."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

BUILD_SECONDS = 1800


def _docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(
        ["docker", "info"], capture_output=True, text=True, timeout=60, check=False
    )
    return None if info.returncode == 0 else f"no Docker engine answers: {info.stderr.strip()}"


@pytest.mark.timeout(BUILD_SECONDS + 300)
def test_the_image_builds_and_its_command_runs() -> None:
    reason = _docker_unavailable()
    if reason:
        pytest.skip(reason)
    tag = "fakecloud:test-build"
    subprocess.run(["docker", "build", "-t", tag, str(REPO)], check=True, timeout=BUILD_SECONDS)
    try:
        version = subprocess.run(
            ["docker", "run", "--rm", tag, "--version"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert version.stdout.startswith("fakecloud ")
        help_text = subprocess.run(
            ["docker", "run", "--rm", tag, "healthcheck", "--help"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert "/healthz" in help_text.stdout
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, check=False)
