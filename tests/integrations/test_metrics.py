"""/metrics of a real server, scraped over HTTP and read with prometheus-client's own parser:
the values move when a simulated camera logs in, a REST login fails, a part logs an error and
the event loop stalls."""

from __future__ import annotations

import asyncio
import logging
import time

import dns.asyncquery
import dns.message
import httpx
from prometheus_client.parser import text_string_to_metric_families

from fakecloud.core.config import Settings
from fakecloud.integrations.metrics import LAG_INTERVAL, ErrorCounter
from tests.media.test_viewer_e2e import OWNER, PASSWORD, WITHIN, Cloud, online, running_cloud

STALL = LAG_INTERVAL + 0.3
LAG = "fakecloud_event_loop_lag_seconds"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(cloud: Cloud) -> Samples:
    async with httpx.AsyncClient(timeout=WITHIN) as client:
        response = await client.get(cloud.url("/metrics"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_values_move_as_a_camera_logs_in_and_a_login_fails(cloud: Cloud) -> None:
    before = await scrape(cloud)
    assert value(before, "fakecloud_cameras_online") == 0
    assert value(before, "fakecloud_logins_total", kind="camera", result="ok") == 0
    async with online(cloud.camera(0)):
        during = await scrape(cloud)
        async with httpx.AsyncClient(timeout=WITHIN) as client:
            refused = await client.post(
                cloud.url("/cxs/api/auth/login"),
                json={"username": OWNER, "password": "not " + PASSWORD},
                headers={"AntiCSRF": "1"},
            )
        assert refused.status_code == 401
        after = await scrape(cloud)
    assert value(during, "fakecloud_cameras_online") == 1
    assert value(during, "fakecloud_sessions") == 1
    assert value(during, "fakecloud_logins_total", kind="camera", result="ok") == 1
    assert value(after, "fakecloud_logins_total", kind="rest", result="refused") == 1
    assert value(during, "fakecloud_captures_total", result="written") >= 1  # the login
    for output in ("relay", "mjpeg", "hls", "webrtc"):
        assert ("fakecloud_viewers", (("output", output),)) in during


async def test_errors_and_event_loop_lag_are_measured(cloud: Cloud) -> None:
    logging.getLogger("fakecloud.broker.test").error("an error the metrics must count")
    samples = await scrape(cloud)
    assert value(samples, "fakecloud_errors_total", part="broker") == 1
    # Stall the server's event loop (it runs in this process) for longer than the monitor's
    # interval, so its timer surely runs late by at least STALL - LAG_INTERVAL.
    time.sleep(STALL)  # noqa: ASYNC251 - the point of the test
    async with asyncio.timeout(WITHIN):
        # Scraping until the monitor's next tick has recorded the stall.
        while value(await scrape(cloud), LAG) < STALL - LAG_INTERVAL:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def test_errors_are_labelled_by_a_bounded_set_of_parts() -> None:
    counter = ErrorCounter()
    for name in ("fakecloud.dns.udp", "fakecloud", "uvicorn.error", "fakecloud.broker"):
        counter.handle(logging.LogRecord(name, logging.ERROR, __file__, 1, "x", None, None))
    assert counter.counts == {"dns": 1, "core": 1, "other": 1, "broker": 1}


async def test_dns_queries_are_counted_by_outcome(settings: Settings) -> None:
    async with running_cloud(settings, dns_enabled=True) as cloud:
        dns_port = cloud.runtime.part("dns").port  # type: ignore[union-attr]
        query = dns.message.make_query("broker.seedonk.com", "A")
        answer = await dns.asyncquery.udp(query, "127.0.0.1", port=dns_port, timeout=WITHIN)
        assert answer.answer  # redirected to fakecloud
        samples = await scrape(cloud)
    assert value(samples, "fakecloud_dns_queries_total", outcome="redirected") == 1
    assert value(samples, "fakecloud_dns_queries_total", outcome="forwarded") == 0
