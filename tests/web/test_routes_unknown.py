"""Requests fakecloud does not serve: 404 and a capture record, on the HTTP port and on a cloud
port (plain and TLS), with secrets redacted before anything reaches the disk."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from fakecloud.web.request_record import MAX_BODY_PREFIX, request_record
from fakecloud.web.routes_unknown import RecordBudget
from tests.media.test_viewer_e2e import OWNER, PASSWORD
from tests.web.conftest import Cloud, captured, tls_context

SECRET = "s3cr3t-Token-Value-0042"


async def test_an_unknown_path_is_recorded_and_answered_404(cloud: Cloud) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        response = await client.post(
            "/cxs/api/devices/42/settings/cam?resolution=720p&access_token=" + SECRET,
            content=b'{"res": "1280x720", "password": "hunter22"}',
            headers={
                "Authorization": f"Bearer {SECRET}",
                "Cookie": f"SeedonkSession={SECRET}; theme=dark",
                "X-Auth-Token": SECRET,
                "partnerid": "myQ",
                "Content-Type": "application/json",
            },
        )
    assert response.status_code == 404
    [record] = captured(cloud)
    decoded = record["decoded"]
    assert decoded["method"] == "POST"
    assert decoded["host"] == f"127.0.0.1:{cloud.http_port}"
    assert decoded["target"].startswith("/cxs/api/devices/42/settings/cam?resolution=720p&")
    assert decoded["headers"]["partnerid"] == "myQ"
    assert decoded["headers"]["authorization"].startswith("Bearer <redacted")
    # Any cookie may be a session: only the names are kept.
    assert decoded["headers"]["cookie"] == "SeedonkSession=<redacted>; theme=<redacted>"
    # The capture log blanks credentials in every record, the body's password too.
    assert decoded["body"] == '{"res": "1280x720", "password": "********"}'
    assert decoded["body_length"] == len(decoded["body"])
    assert decoded["status"] == 404
    assert record["tls"] is False and record["local_port"] == cloud.http_port
    assert record["peer"].startswith("127.0.0.1:")
    # Security consideration: the token is nowhere in the file, in any field.
    assert SECRET not in (cloud.runtime.settings.captures_dir / "capture.jsonl").read_text()


async def test_served_paths_and_their_own_404s_are_not_recorded(cloud: Cloud) -> None:
    owner = (OWNER, PASSWORD)
    async with httpx.AsyncClient(base_url=cloud.url(""), auth=owner, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/cameras/12345")).status_code == 404  # no such camera
        assert (await client.get("/cxs/api/events/12345/media/thumbnail")).status_code == 404
    assert captured(cloud) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/cxs/api/devices"),  # a served path, a method it does not serve
        ("SUBSCRIBE", "/upnp/event/basicevent1"),  # a WeMo-style UPnP method
        ("GET", "/app/c/login.html"),  # the portal page its client loads first
    ],
)
async def test_unserved_methods_are_recorded_too(cloud: Cloud, method: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        response = await client.request(method, path)
    assert response.status_code == 404
    [record] = captured(cloud)
    assert (record["decoded"]["method"], record["decoded"]["target"]) == (method, path)


async def test_cloud_ports_record_plain_and_tls_requests(cloud: Cloud) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        plain = await client.get(f"http://127.0.0.1:{cloud.cloud_port}/mobile/unknown?x=1")
    async with httpx.AsyncClient(verify=tls_context(cloud), timeout=10) as client:
        tls = await client.get(
            f"https://127.0.0.1:{cloud.cloud_port}/cxs/api/unknown",
            headers={"Host": "netcam.belkin.com"},
            extensions={"sni_hostname": "netcam.belkin.com"},
        )
    assert plain.status_code == tls.status_code == 404
    first, second = captured(cloud)
    assert (first["tls"], first["local_port"], first["decoded"]["target"]) == (
        False,
        cloud.cloud_port,
        "/mobile/unknown?x=1",
    )
    assert (second["tls"], second["decoded"]["host"]) == (True, "netcam.belkin.com")


async def test_a_large_body_keeps_only_its_start(cloud: Cloud) -> None:
    body = b"A" * 100_000
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        response = await client.put("/upload/firmware", content=body)
        # The connection is still usable: the rest of the body was read and dropped.
        follow_up = await client.get("/healthz")
    assert response.status_code == 404 and follow_up.status_code == 200
    [record] = captured(cloud)
    assert record["decoded"]["body"] == "A" * MAX_BODY_PREFIX
    assert record["decoded"]["body_length"] == len(body)
    assert record["decoded"]["truncated"] == ["body"]


async def test_a_flood_is_answered_but_recorded_within_the_budget(cloud: Cloud) -> None:
    budget: RecordBudget = cloud.runtime.services.http_capture_budget
    started = time.monotonic()
    budget.clock = lambda: started  # the flood arrives in one instant: no refill meanwhile
    requests = int(budget.burst) + 150
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:

        async def probe(number: int) -> int:
            return (await client.get(f"/scan/{number}")).status_code

        statuses = await asyncio.gather(*(probe(number) for number in range(requests)))
        assert set(statuses) == {404}  # every request is answered
        assert len(captured(cloud)) == int(budget.burst)
        budget.clock = lambda: started + 60  # a minute later the bucket is full again
        assert (await client.get("/after/flood")).status_code == 404
    records = captured(cloud)
    assert records[-1]["decoded"]["target"] == "/after/flood"
    assert records[-1]["left_out_before"] == requests - int(budget.burst)


def test_the_budget_refills_at_its_rate() -> None:
    now = time.monotonic()
    budget = RecordBudget(rate=1000.0, burst=3.0, clock=lambda: now)
    assert [budget.take() for _ in range(3)] == [True, True, True]
    assert budget.take() is False and budget.left_out == 1
    budget.clock = lambda: now + 0.01  # ten milliseconds later: ten tokens, capped at the burst
    assert [budget.take() for _ in range(4)] == [True, True, True, False]


def test_records_stay_json_for_any_method_and_path() -> None:
    """A record is written with json.dumps; a request line h11 accepts always serialises."""
    record = request_record("M-SEARCH", "/%FF\x7f", "a=%00&b", [("host", "\x80")], b"\xff", 1)
    assert json.loads(json.dumps(record))["method"] == "M-SEARCH"
