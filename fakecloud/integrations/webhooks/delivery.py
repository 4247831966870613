"""One webhook URL: its own bounded queue and one task that POSTs what is in it, in order,
retrying with backoff.

Each URL has its own queue and task, so a receiver that is down or slow delays only its own
deliveries. A delivery is retried on connection errors, timeouts, 429 and 5xx, with exponential
backoff and jitter, up to `attempts` times, then given up (counted, and the last error shown on
the status page). Other 4xx answers are given up at once: the receiver refused it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from fakecloud.integrations.webhooks.payloads import Delivery, headers_for

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6  # 15 to 31 s of trying at the default backoff
    first_backoff: float = 1.0
    max_backoff: float = 30.0
    timeout: float = 10.0  # per attempt: connect, send, and the answer's status line

    def backoff(self, attempt: int) -> float:
        """Seconds before retry `attempt` (1, 2, ...): doubling, capped, with full jitter."""
        ceiling = min(self.max_backoff, self.first_backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def redacted(url: str) -> str:
    """The URL as logs and the status page show it: no user, password, query or fragment
    (Security consideration: receivers often take their secret there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RetryableError(Exception):
    """An answer worth trying again (429, 5xx)."""


class RefusedError(Exception):
    """An answer that says the receiver will not take it (4xx, a redirect): not retried."""


class Endpoint:
    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        secret: bytes | None,
        policy: RetryPolicy,
        queue_limit: int,
    ) -> None:
        self.url = url
        self.shown = redacted(url)
        self._client = client
        self._secret = secret
        self._policy = policy
        self._queue: deque[Delivery] = deque(maxlen=queue_limit)
        self._ready = asyncio.Event()
        self._sending: Delivery | None = None  # taken off the queue, being tried
        self._task: asyncio.Task[None] | None = None
        self.counters = {"delivered": 0, "retries": 0, "given_up": 0, "dropped": 0}
        self.last_error: str | None = None
        self.last_delivered: float | None = None  # time.time()

    def offer(self, delivery: Delivery) -> None:
        """Queue a delivery; when the queue is full the oldest waiting one is dropped."""
        if len(self._queue) == self._queue.maxlen:
            self.counters["dropped"] += 1
            log.warning("webhook %s: queue full, oldest delivery dropped", self.shown)
        self._queue.append(delivery)
        self._ready.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"webhook {self.shown}"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            self._sending = self._queue.popleft()
            await self._deliver(self._sending)
            self._sending = None

    async def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(1, self._policy.attempts + 1):
            if attempt > 1:
                self.counters["retries"] += 1
                await asyncio.sleep(self._policy.backoff(attempt - 1))
            try:
                await self._post(delivery)
            except (httpx.HTTPError, RetryableError) as error:
                self.last_error = f"{delivery.event}: {describe(error)}"
                continue
            except RefusedError as refusal:
                self.last_error = f"{delivery.event}: {refusal}"
                break
            self.counters["delivered"] += 1
            self.last_delivered = time.time()
            return
        self.counters["given_up"] += 1
        log.warning("webhook %s: gave up on %s (%s)", self.shown, delivery.event, self.last_error)

    async def _post(self, delivery: Delivery) -> None:
        headers = headers_for(delivery, int(time.time()), self._secret)
        # The answer's body is never read: only its status matters, and it may be anything.
        async with self._client.stream(
            "POST", self.url, content=delivery.body, headers=headers
        ) as response:
            status = response.status_code
        if status == 429 or status >= 500:
            raise RetryableError(f"HTTP {status}")
        if status >= 300:  # redirects are not followed: a webhook URL names its receiver
            raise RefusedError(f"HTTP {status}, not retried")

    def status(self) -> dict[str, Any]:
        return {
            "url": self.shown,
            "queued": len(self._queue) + (self._sending is not None),
            **self.counters,
            "last_error": self.last_error,
            "last_delivered": self.last_delivered,
        }


def describe(error: Exception) -> str:
    """A one-line reason that never repeats the URL (it may hold credentials)."""
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.ConnectError):
        return "cannot connect"
    if isinstance(error, httpx.HTTPError):
        return type(error).__name__
    return str(error)
