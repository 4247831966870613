"""`fakecloud certs` run for real in a child process."""

from __future__ import annotations

import json
import plistlib
import stat
from pathlib import Path

from cryptography import x509

from tests.conftest import run_cli


def test_create_show_export_renew(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = run_cli("certs", "create", data_dir=data_dir)
    assert created.returncode == 0, created.stderr
    assert "sha256" in created.stdout
    certs_dir = data_dir / "certs"
    assert stat.S_IMODE((certs_dir / "ca.key").stat().st_mode) == 0o600

    shown = run_cli("certs", "show", "--json", data_dir=data_dir)
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)
    assert [entry["role"] for entry in described] == ["ca", "device", "app"]
    assert "DNS:*.seedonk.com" in described[1]["sans"]
    assert "IP:127.0.0.1" in described[1]["sans"]
    text = run_cli("certs", "show", data_dir=data_dir)
    assert described[0]["sha256"] in text.stdout and "2049-12-31" in text.stdout

    pem = run_cli("certs", "export", data_dir=data_dir)
    assert pem.stdout.encode() == (certs_dir / "ca.pem").read_bytes()
    der_file = tmp_path / "ca.der"
    der = run_cli(
        "certs", "export", "--format", "der", "--output", str(der_file), data_dir=data_dir
    )
    assert der.returncode == 0, der.stderr
    x509.load_der_x509_certificate(der_file.read_bytes())
    profile_file = tmp_path / "ca.mobileconfig"
    run_cli(
        "certs",
        "export",
        "--format",
        "mobileconfig",
        "--output",
        str(profile_file),
        data_dir=data_dir,
    )
    assert plistlib.loads(profile_file.read_bytes())["PayloadType"] == "Configuration"

    renewed = run_cli("certs", "renew", data_dir=data_dir)
    assert renewed.returncode == 0, renewed.stderr
    after = json.loads(run_cli("certs", "show", "--json", data_dir=data_dir).stdout)
    assert after[0]["sha256"] == described[0]["sha256"]
    assert after[1]["sha256"] == described[1]["sha256"]
    assert after[2]["sha256"] != described[2]["sha256"]


def test_extra_hostnames_reach_the_leaves(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run_cli("certs", "create", data_dir=data_dir)
    changed = run_cli(
        "certs", "create", data_dir=data_dir, FAKECLOUD_EXTRA_HOSTNAMES="cam.example.net"
    )
    assert changed.returncode == 0, changed.stderr
    assert "DNS:cam.example.net" in changed.stdout


def test_user_mistakes_are_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for args in (("certs", "show"), ("certs", "export")):
        result = run_cli(*args, data_dir=data_dir)
        assert result.returncode == 2
        assert result.stderr.startswith("fakecloud: error: no certificate authority in")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    bad_name = run_cli(
        "certs", "create", data_dir=data_dir, FAKECLOUD_EXTRA_HOSTNAMES="bad name.example"
    )
    assert bad_name.returncode == 2
    assert "not a DNS name" in bad_name.stderr and bad_name.stderr.count("\n") == 1
    run_cli("certs", "create", data_dir=data_dir)
    unwritable = run_cli(
        "certs", "export", "--output", str(tmp_path / "missing" / "ca.pem"), data_dir=data_dir
    )
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr
