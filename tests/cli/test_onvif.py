"""`fakecloud onvif password` prints what the ONVIF part checks digests with; `ports` lists the
kept device ports."""

from __future__ import annotations

from pathlib import Path

from fakecloud.onvif.auth import load_key, onvif_password
from fakecloud.onvif.ports import PortBook
from fakecloud.store import Store
from tests.conftest import run_cli
from tests.store.conftest import FAST_HASHER


def test_password_and_ports(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert (
        run_cli("account", "add", "alice", "--password", "long enough", data_dir=data).returncode
        == 0
    )
    printed = run_cli("onvif", "password", "alice", data_dir=data)
    assert printed.returncode == 0, printed.stderr
    with Store(data / "fakecloud.sqlite3", hasher=FAST_HASHER) as store:
        account = store.get_account("alice")
        camera = store.upsert_camera(mac="94:10:3e:00:00:01", owner="alice", name="Porch")
    assert account is not None
    assert printed.stdout.strip() == onvif_password(load_key(data), account)
    assert run_cli("onvif", "password", "bob", data_dir=data).returncode == 2

    assert "no camera has an ONVIF device yet" in run_cli("onvif", "ports", data_dir=data).stdout
    PortBook(data, 8900).port_for(camera.id)
    listed = run_cli("onvif", "ports", data_dir=data, FAKECLOUD_ANNOUNCE_ADDRESS="192.0.2.7")
    assert (
        f" 8900  camera {camera.id}  Porch  http://192.0.2.7:8900/onvif/device_service"
        in listed.stdout
    )
