"""The type checker runs in the tests: `mypy --strict` with the repository's config
(pyproject.toml [tool.mypy]) on every package listed here."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

# What must be strictly typed. Add a package here once `mypy --strict <package>` is clean; the
# modules these import are analysed too, but their own errors count only once they are listed.
STRICTLY_TYPED = [
    "fakecloud/net",
    "fakecloud/core",
    "fakecloud/certs",
    "fakecloud/frontdoor",
    "fakecloud/dns",
    "fakecloud/relay",
    "fakecloud/store",
    "fakecloud/broker",
    "fakecloud/cli",
    "fakecloud/onvif",
    "fakecloud/integrations",
    "fakecloud/doctor",
    "fakecloud/onboard",
    "fakecloud/sim/setup_mode.py",
    "fakecloud/runtime.py",
    "fakecloud/server.py",
    "fakecloud/media/rtsp",
    "fakecloud/media/watchers.py",
    "fakecloud/recording",
    "fakecloud/motion",
    "fakecloud/web/routes_recordings.py",
    "fakecloud/web/routes_events.py",
    "fakecloud/wemo",
    "fakecloud/web/routes_wemo.py",
    "fakecloud/web/ingress.py",
    "fakecloud/web/routes_onboard.py",
]
MYPY_TIMEOUT = 300  # seconds; a cold cache on a busy machine takes well under a minute


def mypy(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "pyproject.toml", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=MYPY_TIMEOUT,
    )


def test_listed_packages_are_strictly_typed() -> None:
    result = mypy(*STRICTLY_TYPED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_fails_on_a_type_error() -> None:
    # Proves the test above can fail: the same command and config reject an Any returned as int.
    result = mypy("-c", "import json\ndef size(text: str) -> int:\n    return json.loads(text)\n")
    assert result.returncode == 1
    assert "no-any-return" in result.stdout
