"""The webhooks part: camera events from the bus, POSTed as JSON to every configured URL."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

import httpx

from fakecloud.core.events import (
    CameraEvent,
    CameraOffline,
    CameraOnline,
    EventBus,
    Motion,
    RecordingFinished,
    consume,
)
from fakecloud.integrations.webhooks.delivery import Endpoint, RetryPolicy
from fakecloud.integrations.webhooks.payloads import delivery_for
from fakecloud.runtime import Runtime

# Deliveries waiting per URL while its receiver is down (the oldest go first).
QUEUE_LIMIT = 256
# Security consideration: a receiver may answer slowly or hold connections; every attempt has
# a deadline (RetryPolicy.timeout) and each URL gets at most this many connections.
CONNECTIONS_PER_URL = 2


class WebhooksPart:
    name = "webhooks"

    def __init__(
        self,
        bus: EventBus,
        urls: list[str],
        *,
        secret: bytes | None = None,
        policy: RetryPolicy | None = None,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self.bus = bus
        self.policy = policy or RetryPolicy()
        self._client = httpx.AsyncClient(
            timeout=self.policy.timeout,
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment must not see the events
            limits=httpx.Limits(max_connections=CONNECTIONS_PER_URL * len(urls)),
        )
        self.endpoints = [
            Endpoint(url, self._client, secret=secret, policy=self.policy, queue_limit=queue_limit)
            for url in urls
        ]
        self._events: asyncio.Task[None] | None = None

    async def start(self) -> None:
        kinds = (CameraOnline, CameraOffline, Motion, RecordingFinished)
        subscription = self.bus.subscribe(self.name, *kinds)
        for endpoint in self.endpoints:
            endpoint.start()
        self._events = asyncio.get_running_loop().create_task(
            consume(subscription, self._heard), name="webhooks-events"
        )

    async def _heard(self, event: CameraEvent) -> None:
        delivery = delivery_for(event, secrets.token_hex(8), datetime.now(UTC))
        if delivery is None:
            return
        for endpoint in self.endpoints:
            endpoint.offer(delivery)

    async def stop(self) -> None:
        if self._events is not None:
            self._events.cancel()
            await asyncio.gather(self._events, return_exceptions=True)
            self._events = None
        for endpoint in self.endpoints:
            await endpoint.stop()
        await self._client.aclose()

    def status(self) -> dict[str, Any]:
        return {"endpoints": [endpoint.status() for endpoint in self.endpoints]}


def webhooks_part(runtime: Runtime) -> WebhooksPart | None:
    """The part for the configured URLs (None when there are none)."""
    settings = runtime.settings
    if not settings.webhook_urls:
        return None
    secret = settings.webhook_secret
    return WebhooksPart(
        runtime.services.bus,
        settings.webhook_urls,
        secret=None if secret is None else secret.get_secret_value().encode(),
    )
