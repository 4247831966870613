"""`fakecloud doctor` against a real `fakecloud serve` on loopback: healthy, and broken."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict

from tests.conftest import free_port, run_cli
from tests.test_serve import RunningServer, start_server, stop_server

# TEST-NET-2: configured as the announce address only; the doctor must never send to it.
FOREIGN_ADDRESS = "198.51.100.7"


class CheckJson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    status: Literal["ok", "warn", "fail", "skip"]
    what: str
    why: str
    fix: str
    details: dict[str, object]


class ReportJson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    created: str
    healthy: bool
    counts: dict[Literal["ok", "warn", "fail", "skip"], int]
    checks: list[CheckJson]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("doctor") / "data")
    yield running
    if running.process.poll() is None:
        stop_server(running)


def doctor(server: RunningServer, *args: str, **env: str) -> tuple[int, ReportJson]:
    ports = {
        "FAKECLOUD_HTTP_PORT": str(server.http_port),
        "FAKECLOUD_DNS_PORT": str(server.dns_port),
        "FAKECLOUD_CLOUD_PORTS": str(server.cloud_port),
        "FAKECLOUD_RELAY_PORT": str(server.relay_port),
        "FAKECLOUD_BROKER_PORT": "0",  # the server's is kernel-chosen; not checked here
    }
    done = run_cli("doctor", "--json", *args, data_dir=server.data_dir, **(ports | env))
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, ReportJson.model_validate_json(done.stdout)


def by_name(report: ReportJson) -> dict[str, CheckJson]:
    return {check.name: check for check in report.checks}


def test_a_healthy_server_passes(server: RunningServer) -> None:
    code, report = doctor(server)
    checks = by_name(report)
    assert code == 0 and report.healthy, report
    assert checks["server"].status == "ok"
    for label in (f"tcp/{server.http_port}", f"udp/{server.dns_port}", f"udp/{server.relay_port}"):
        assert checks[f"port {label}"].status == "ok"
        assert "fakecloud listens" in checks[f"port {label}"].what
    assert checks["dns"].status == "ok"
    assert checks["certificates"].status == "ok"
    assert checks["clock"].status == "ok"
    # Loopback is right for this test and wrong for cameras on a LAN: a warning, not a failure.
    assert checks["announce address"].status == "warn"
    assert checks["ping"].status in ("ok", "skip")


def test_the_text_report_names_the_fix(server: RunningServer) -> None:
    done = run_cli(
        "doctor",
        "--resolver",
        f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
        "--server",
        f"http://127.0.0.1:{server.http_port}",
        data_dir=server.data_dir,
        FAKECLOUD_HTTP_PORT=str(server.http_port),
    )
    assert done.returncode == 1
    assert "[FAIL] dns:" in done.stdout and "fix:" in done.stdout
    assert "something would stop cameras" in done.stdout


def test_a_taken_http_port_is_named_with_its_holder(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = run_cli(
            "doctor",
            "--json",
            data_dir=tmp_path / "data",
            FAKECLOUD_HTTP_PORT=str(port),
            FAKECLOUD_DNS_ENABLED="false",
        )
    assert done.returncode == 1, done.stderr
    report = ReportJson.model_validate_json(done.stdout)
    taken = by_name(report)[f"port tcp/{port}"]
    assert taken.status == "fail"
    assert "taken by" in taken.what and "FAKECLOUD_HTTP_PORT" in taken.fix
    # The squatter is this very process, whose descriptors /proc always shows this user.
    assert taken.details["pids"] == [os.getpid()]
    assert by_name(report)["server"].status == "fail"
    assert not (tmp_path / "data").exists()  # the doctor never creates the data folder


def test_an_announce_address_of_another_host_fails(server: RunningServer) -> None:
    code, report = doctor(server, FAKECLOUD_ANNOUNCE_ADDRESS=FOREIGN_ADDRESS)
    checks = by_name(report)
    assert code == 1
    assert checks["announce address"].status == "fail"
    assert "not an address of this host" in checks["announce address"].what
    assert checks["ping"].status == "skip"  # nothing is sent to a foreign address
    # The shim still answers the server's own announce address, which is not the configured one.
    assert checks["dns"].status == "fail" and "127.0.0.1" in checks["dns"].what


def test_a_resolver_that_does_not_answer_fails(server: RunningServer) -> None:
    silent = f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    code, report = doctor(server, "--resolver", silent)
    dns = by_name(report)["dns"]
    assert code == 1
    assert dns.status == "fail" and "does not answer" in dns.what


def test_dns_off_without_a_resolver_is_advice(server: RunningServer) -> None:
    _, report = doctor(server, FAKECLOUD_DNS_ENABLED="false")
    assert by_name(report)["dns"].status == "warn"
    assert "--resolver" in by_name(report)["dns"].fix


def test_the_server_reports_the_same_checks_at_api_doctor(server: RunningServer) -> None:
    report = ReportJson.model_validate(server.get_json("/api/doctor"))
    checks = by_name(report)
    assert report.healthy
    assert checks["server"].status == "ok" and checks["dns"].status == "ok"
    assert checks["vendor lookups"].status in ("ok", "warn")
