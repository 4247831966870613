"""`fakecloud account` and `fakecloud camera`, run as real commands against a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fakecloud.store import Store
from tests.conftest import cli_env, run_cli
from tests.store.conftest import FAST_HASHER

PASSWORD = "correct horse battery"


def test_account_lifecycle(tmp_path: Path) -> None:
    data = tmp_path / "data"  # does not exist yet: the CLI creates it
    added = run_cli("account", "add", "Alice", "--password", PASSWORD, data_dir=data)
    assert added.returncode == 0, added.stderr
    duplicate = run_cli("account", "add", "alice", "--password", PASSWORD, data_dir=data)
    assert duplicate.returncode == 2
    assert duplicate.stderr.strip() == "fakecloud: error: an account named 'alice' already exists"
    short = run_cli("account", "add", "bob", "--password", "short", data_dir=data)
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert "Traceback" not in short.stderr

    from_stdin = subprocess.run(
        [sys.executable, "-m", "fakecloud", "account", "add", "bob", "--password-stdin"],
        input=PASSWORD + "\n",
        env=cli_env(data),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert from_stdin.returncode == 0, from_stdin.stderr

    token = run_cli("account", "token", "alice", data_dir=data).stdout.strip()
    assert token.startswith("myQ.accessToken:")
    listed = json.loads(run_cli("account", "list", "--json", data_dir=data).stdout)
    assert [(row["login"], row["tokens"]) for row in listed] == [("Alice", 1), ("bob", 0)]
    with Store(data / "fakecloud.sqlite3", hasher=FAST_HASHER) as store:
        assert [row["alias"] for row in listed] == [a.alias for a in store.list_accounts()]

    assert (
        run_cli("account", "passwd", "bob", "--password", "new password!", data_dir=data).returncode
        == 0
    )
    assert run_cli("account", "remove", "bob", data_dir=data).returncode == 0
    with Store(data / "fakecloud.sqlite3", hasher=FAST_HASHER) as store:
        assert store.verify_password("alice", PASSWORD) is not None
        assert store.verify_token("alice", token) is not None
        assert store.get_account("bob") is None
    missing = run_cli("account", "remove", "bob", data_dir=data)
    assert missing.returncode == 2 and "no account named 'bob'" in missing.stderr


def test_no_password_and_no_terminal_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fakecloud", "account", "add", "carol"],
        stdin=subprocess.DEVNULL,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "--password-stdin" in result.stderr


def test_camera_list_show_forget(tmp_path: Path) -> None:
    with Store(tmp_path / "fakecloud.sqlite3", hasher=FAST_HASHER) as store:
        alice = store.add_account("alice", PASSWORD)
        camera = store.upsert_camera(mac="00:11:22:AA:BB:CC", owner="alice", name="Porch")
        store.set_camera_presence(camera.id, True, ip="127.0.0.1")
        store.add_event(camera.id, "motion-event", {"args": ["1"]})

    listed = json.loads(run_cli("camera", "list", "--json", data_dir=tmp_path).stdout)
    alias = f"{alice.alias}:00:11:22:AA:BB:CC"
    assert listed == [listed[0] | {"id": camera.id, "alias": alias, "mac": "00:11:22:AA:BB:CC"}]
    assert listed[0]["name"] == "Porch" and listed[0]["online"] is True
    assert "p2p_key" not in listed[0]

    shown = json.loads(
        run_cli("camera", "show", str(camera.id), "--json", data_dir=tmp_path).stdout
    )
    assert shown["recent_events"][0]["kind"] == "motion-event"
    text = run_cli("camera", "show", str(camera.id), "--show-key", data_dir=tmp_path).stdout
    assert camera.p2p_key in text and f"{camera.id}:00:11:22:AA:BB:CC" in text

    assert run_cli("camera", "forget", str(camera.id), data_dir=tmp_path).returncode == 0
    unknown = run_cli("camera", "show", str(camera.id), data_dir=tmp_path)
    assert unknown.returncode == 2 and f"no camera {camera.id}" in unknown.stderr
    assert json.loads(run_cli("camera", "list", "--json", data_dir=tmp_path).stdout) == []
