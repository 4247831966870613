"""The command line: useful help, one-line errors, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli("--help", data_dir=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "dns", "certs", "dns-config", "hostnames"):
        assert command in result.stdout


def test_unknown_command_is_one_line(tmp_path: Path) -> None:
    result = run_cli("no-such-command", data_dir=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    result = run_cli("hostnames", data_dir=tmp_path, FAKECLOUD_DNS_TTL="forever")
    assert result.returncode == 2
    assert result.stderr.startswith("fakecloud: error: invalid settings: dns_ttl")
    assert "Traceback" not in result.stderr


def test_hostnames_json_includes_user_names(tmp_path: Path) -> None:
    result = run_cli(
        "hostnames", "--json", data_dir=tmp_path, FAKECLOUD_EXTRA_HOSTNAMES="cam.example.org"
    )
    entries = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert entries["server.seedonk.com"]["redirect"] is True
    assert entries["api.xbcs.net"]["redirect"] is False
    assert entries["cam.example.org"]["confidence"] == "user"
