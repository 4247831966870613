"""One URL's deliveries against a real HTTP receiver on 127.0.0.1: order, retries, refusals,
a full queue, and a receiver that is not there."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from fakecloud.integrations.webhooks.delivery import Endpoint, RetryPolicy, redacted
from fakecloud.integrations.webhooks.payloads import DELIVERY_HEADER, Delivery
from tests.integrations.webhooks.receiver import receiver

FAST = RetryPolicy(attempts=3, first_backoff=0.01, max_backoff=0.05, timeout=5.0)
WITHIN = 10.0


def delivery(number: int) -> Delivery:
    return Delivery("camera.online", f"d{number}", json.dumps({"n": number}).encode())


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=FAST.timeout, trust_env=False) as opened:
        yield opened


async def started(endpoint: Endpoint) -> Endpoint:
    endpoint.start()
    return endpoint


async def until(predicate: object, within: float = WITHIN) -> None:
    """Bounded polling on an endpoint's counters (they change on its own task)."""
    async with asyncio.timeout(within):
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_deliveries_arrive_in_order_and_are_counted(client: httpx.AsyncClient) -> None:
    with receiver() as got:
        endpoint = await started(
            Endpoint(
                f"http://127.0.0.1:{got.port}/hook",
                client,
                secret=b"k",
                policy=FAST,
                queue_limit=16,
            )
        )
        for number in range(5):
            endpoint.offer(delivery(number))
        seen = [await got.next() for _ in range(5)]
        await until(lambda: endpoint.counters["delivered"] == 5)
        await endpoint.stop()
    assert [item.headers[DELIVERY_HEADER] for item in seen] == [f"d{n}" for n in range(5)]
    assert all(item.path == "/hook" for item in seen)


async def test_a_failing_receiver_is_retried_until_it_takes_it(client: httpx.AsyncClient) -> None:
    with receiver() as got:
        got.answers.put(503)
        got.answers.put(500)
        endpoint = await started(
            Endpoint(
                f"http://127.0.0.1:{got.port}/", client, secret=None, policy=FAST, queue_limit=16
            )
        )
        endpoint.offer(delivery(1))
        attempts = [await got.next() for _ in range(3)]
        await until(lambda: endpoint.counters["delivered"] == 1)
        await endpoint.stop()
    assert {item.headers[DELIVERY_HEADER] for item in attempts} == {"d1"}
    assert endpoint.counters["retries"] == 2 and endpoint.counters["given_up"] == 0


async def test_a_refusal_is_not_retried_and_the_next_one_goes(client: httpx.AsyncClient) -> None:
    with receiver() as got:
        got.answers.put(400)
        endpoint = await started(
            Endpoint(
                f"http://127.0.0.1:{got.port}/", client, secret=None, policy=FAST, queue_limit=16
            )
        )
        endpoint.offer(delivery(1))
        endpoint.offer(delivery(2))
        first, second = await got.next(), await got.next()
        await until(lambda: endpoint.counters["delivered"] == 1)
        await endpoint.stop()
    assert (first.headers[DELIVERY_HEADER], second.headers[DELIVERY_HEADER]) == ("d1", "d2")
    assert endpoint.counters["given_up"] == 1 and endpoint.counters["retries"] == 0
    assert endpoint.status()["last_error"] == "camera.online: HTTP 400, not retried"


async def test_a_receiver_that_is_not_there_costs_a_bounded_queue(
    client: httpx.AsyncClient,
) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    endpoint = Endpoint(
        f"http://user:secret@127.0.0.1:{port}/hook?token=abc",
        client,
        secret=None,
        policy=FAST,
        queue_limit=4,
    )
    endpoint.start()
    for number in range(20):
        endpoint.offer(delivery(number))
    await until(lambda: endpoint.counters["given_up"] >= 2)
    status = endpoint.status()
    await endpoint.stop()
    assert status["queued"] <= 5 and endpoint.counters["dropped"] >= 15
    assert status["last_error"] == "camera.online: cannot connect"
    assert status["url"] == f"http://127.0.0.1:{port}/hook"  # no credentials, no query


def test_shown_urls_keep_neither_credentials_nor_query() -> None:
    assert redacted("https://u:p@[fd00::2]:8443/a/b?key=1#x") == "https://[fd00::2]:8443/a/b"
    assert redacted("http://example.test/") == "http://example.test/"


async def test_a_stopped_endpoint_sends_nothing_more(client: httpx.AsyncClient) -> None:
    with receiver() as got:
        endpoint = await started(
            Endpoint(
                f"http://127.0.0.1:{got.port}/", client, secret=None, policy=FAST, queue_limit=16
            )
        )
        endpoint.offer(delivery(1))
        await got.next()
        await endpoint.stop()
        endpoint.offer(delivery(2))
        await asyncio.sleep(0)  # a running task would now take it
        assert got.nothing_more()
