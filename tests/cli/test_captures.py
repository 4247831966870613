"""`fakecloud captures list|show|export` on captures written by a real CaptureLog."""

from __future__ import annotations

import json
from pathlib import Path

from fakecloud.capture import CaptureLog
from tests.conftest import run_cli

PASSWORD = "hunter2 hunter2"
MAC = "00:11:22:AA:BB:CC"


def write_captures(data_dir: Path) -> None:
    log = CaptureLog(data_dir / "captures", max_bytes=2048, keep=4)
    for index in range(12):
        log.record(
            "connection",
            data=f"CX_UNAME=bob\nCX_PASSWD={PASSWORD}\nmac={MAC}\n#{index}\n".encode(),
            peer="127.0.0.1:40000",
            connection=f"c{index}",
            direction="in",
            tls=False,
        )
    log.record("login", peer="127.0.0.1:40001", decoded={"CX_PASSWD": PASSWORD, "mac": MAC})
    log.close()
    with (data_dir / "captures" / "capture.jsonl").open("a") as damaged:
        damaged.write('{"kind": "cut short\n')


def test_list_show_and_export(tmp_path: Path) -> None:
    write_captures(tmp_path)
    summaries = json.loads(run_cli("captures", "list", "--json", data_dir=tmp_path).stdout)
    assert [s["file"] for s in summaries][-1] == "capture.jsonl" and len(summaries) >= 2
    assert sum(s["kinds"].get("connection", 0) for s in summaries) == 12
    assert summaries[-1]["kinds"]["login"] == 1 and summaries[-1]["unreadable_lines"] == 1
    assert "records" in run_cli("captures", "list", data_dir=tmp_path).stdout

    shown = run_cli("captures", "show", "--limit", "2", data_dir=tmp_path).stdout.splitlines()
    assert len(shown) == 2 and " login " in shown[1] and "[c11]" in shown[0]
    assert "|CX_UNAME=bob.CX_PASSWD=" in shown[0]
    only = run_cli("captures", "show", "capture.jsonl", "--kind", "login", data_dir=tmp_path)
    assert len(only.stdout.splitlines()) == 1

    exported = run_cli("captures", "export", data_dir=tmp_path).stdout
    records = [json.loads(line) for line in exported.splitlines()]
    assert len(records) == 13
    raw_text = "".join(bytes.fromhex(r["hex"]).decode() for r in records if "hex" in r)
    for secret in (PASSWORD, MAC, MAC.replace(":", "")):
        assert secret not in exported and secret not in raw_text
    assert "CX_PASSWD=PASSWORD-1\nmac=MAC-1" in raw_text
    assert records[-1]["decoded"] == {"CX_PASSWD": "PASSWORD-1", "mac": "MAC-1"}

    output = tmp_path / "share.jsonl"
    written = run_cli("captures", "export", "--output", str(output), data_dir=tmp_path)
    assert "13 redacted records" in written.stdout
    assert output.read_text() == exported


def test_empty_and_wrong_inputs(tmp_path: Path) -> None:
    assert "no captures" in run_cli("captures", "list", data_dir=tmp_path).stdout
    export = run_cli("captures", "export", data_dir=tmp_path)
    assert export.returncode == 2 and "no captures" in export.stderr
    limit = run_cli("captures", "show", "--limit", "0", data_dir=tmp_path)
    assert limit.returncode == 2 and "--limit" in limit.stderr
