"""`fakecloud demo clean` against a data folder as a demo leaves it (the server stopped)."""

from __future__ import annotations

from pathlib import Path

from fakecloud.sim.demo import demo_mac, simulated_mac
from fakecloud.sim.demo_part import DemoRecord, read_demo_record, write_demo_record
from fakecloud.store import Store
from tests.conftest import run_cli

PASSWORD = "correct horse battery"


def test_help_says_what_the_demo_adds_and_how_to_remove_it(tmp_path: Path) -> None:
    assert "demo clean" in run_cli("serve", "--help", data_dir=tmp_path).stdout
    described = run_cli("demo", "clean", "--help", data_dir=tmp_path)
    assert described.returncode == 0
    assert "02:FC:DE" in described.stdout and "stopped" in described.stdout


def test_clean_removes_the_demo_cameras_and_keeps_everyone_elses(tmp_path: Path) -> None:
    with Store(tmp_path / "fakecloud.sqlite3") as store:
        demo = store.add_account("demo", PASSWORD)
        store.add_account("erin", PASSWORD)
        owned = store.upsert_camera(mac=demo_mac(0), owner="demo")
        store.add_pending_camera(mac=demo_mac(1))  # left unowned by an earlier demo
        approved = store.upsert_camera(mac=demo_mac(2), owner="erin")  # erin kept this one
        simulated = store.add_pending_camera(mac=simulated_mac(0))
        store.log_session(owned.id, "demo", "camera", "127.0.0.1:1", "login")
        store.log_session(simulated.id, None, "camera", "127.0.0.1:2", "login")
    write_demo_record(tmp_path, DemoRecord(demo.login, demo.alias))
    cleaned = run_cli("demo", "clean", data_dir=tmp_path)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "'demo', 2 camera(s)" in cleaned.stdout and "1 session log line(s)" in cleaned.stdout
    with Store(tmp_path / "fakecloud.sqlite3") as store:
        assert [account.login for account in store.list_accounts()] == ["erin"]
        assert {camera.id for camera in store.list_cameras()} == {approved.id, simulated.id}
        assert [session.camera_id for session in store.list_sessions()] == [simulated.id]
    assert read_demo_record(tmp_path) is None


def test_clean_never_removes_a_later_account_of_the_same_login(tmp_path: Path) -> None:
    with Store(tmp_path / "fakecloud.sqlite3") as store:
        mine = store.add_account("demo", PASSWORD)
        store.upsert_camera(mac="EC:1A:59:00:00:01", owner="demo")
    # The demo's account was removed and a user made their own "demo" since.
    write_demo_record(tmp_path, DemoRecord("demo", "zz" + mine.alias[2:] + "x"))
    cleaned = run_cli("demo", "clean", data_dir=tmp_path)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "no demo data" in cleaned.stdout and "is kept" in cleaned.stdout
    with Store(tmp_path / "fakecloud.sqlite3") as store:
        assert store.verify_password("demo", PASSWORD) is not None
        assert len(store.list_cameras(owner="demo")) == 1
