"""The legitimate client's measures, all from 127.0.0.1: a camera login, a keepalive round trip on
a logged-in session, a DNS query (UDP and TCP) and an authenticated HTTP request."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import dns.asyncquery
import dns.message
import dns.rdatatype
from common import (
    DNS_NAME,
    EXCHANGE_TIMEOUT,
    KEEPALIVE_MAC,
    LOGIN_MAC,
    OWNER,
    OWNER_PASSWORD,
    SERVER,
    Link,
    Target,
    http_request,
    keepalive_frame,
    login_frame,
    one_login,
)

from fakecloud.net.cxnet import Action

MEASURES = ("camera login", "keepalive", "dns udp", "dns tcp", "http get")
# Between two samples of one measure: a client that asks now and then, not a load of its own.
SAMPLE_GAP = 0.05


class MeasureFailed(Exception):
    """The server answered, but not as it answers a legitimate client."""


@dataclass
class Samples:
    """Seconds per successful sample; failures (refused, timed out, closed) are counted apart."""

    seconds: list[float] = field(default_factory=list)
    failures: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        reason = f"{type(error).__name__}: {error}"[:60] if str(error) else type(error).__name__
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def percentile(self, q: int) -> float:
        """Milliseconds; a failure counts as the exchange timeout, so it shows in p99."""
        values = sorted(self.seconds + [EXCHANGE_TIMEOUT] * self.failures)
        if not values:
            return math.nan
        if len(values) == 1:
            return values[0] * 1000
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


class LegitClient:
    """The owner's cameras and apps; one camera's session stays open for the keepalives."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._keepalive_link: Link | None = None
        self._session = b""

    async def camera_login(self) -> None:
        reply = await one_login(
            self.target.cxnet_port, login_frame(OWNER, OWNER_PASSWORD, LOGIN_MAC)
        )
        if reply.action != Action.LOGIN:
            raise MeasureFailed(f"login answered with action {reply.action}")

    async def log_in_keepalive_session(self) -> None:
        """(Again, after the server closed it: that is counted as a failed keepalive.)"""
        link = await Link.connect(self.target.cxnet_port)
        reply = await link.login(login_frame(OWNER, OWNER_PASSWORD, KEEPALIVE_MAC))
        if reply.action != Action.LOGIN:
            link.abort()
            raise MeasureFailed(f"keepalive session login answered {reply.action}")
        self._keepalive_link, self._session = link, reply.session

    async def keepalive(self) -> None:
        link = self._keepalive_link
        if link is None:
            raise MeasureFailed("no keepalive session")
        try:
            async with asyncio.timeout(EXCHANGE_TIMEOUT):
                await link.send(keepalive_frame(self._session))
                while (await link.receive()).action != Action.KEEPALIVE:
                    pass  # commands or notices meant for the camera
        except BaseException:
            self.close()
            raise

    async def dns_udp(self) -> None:
        await self._dns(dns.asyncquery.udp)

    async def dns_tcp(self) -> None:
        await self._dns(dns.asyncquery.tcp)

    async def _dns(self, query: Callable[..., Awaitable[dns.message.Message]]) -> None:
        question = dns.message.make_query(DNS_NAME, dns.rdatatype.A)
        answer = await query(question, SERVER, port=self.target.dns_port, timeout=EXCHANGE_TIMEOUT)
        if not answer.answer:
            raise MeasureFailed(f"no answer for {DNS_NAME}")

    async def http_get(self) -> None:
        status, _ = await http_request(
            self.target.http_port,
            "GET",
            "/api/cameras",
            headers={"Authorization": self.target.bearer},
        )
        if status != 200:
            raise MeasureFailed(f"GET /api/cameras answered {status}")

    def close(self) -> None:
        if self._keepalive_link is not None:
            self._keepalive_link.abort()
        self._keepalive_link = None

    def measure(self, name: str) -> Callable[[], Awaitable[None]]:
        return {
            "camera login": self.camera_login,
            "keepalive": self.keepalive,
            "dns udp": self.dns_udp,
            "dns tcp": self.dns_tcp,
            "http get": self.http_get,
        }[name]

    async def prepare(self) -> None:
        """Log in the keepalive session and warm the password cache, as a running camera has."""
        await self.log_in_keepalive_session()
        await self.camera_login()

    async def sample_all(self, seconds: float, samples: int) -> dict[str, Samples]:
        """Every measure, side by side, each one sample after another for `seconds` (at most
        `samples` each)."""
        results = {name: Samples() for name in MEASURES}
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(self._sample(name, results[name], until, samples) for name in MEASURES)
        )
        return results

    async def _sample(self, name: str, into: Samples, until: float, samples: int) -> None:
        run = self.measure(name)
        for _ in range(samples):
            if time.monotonic() >= until:
                return
            if name == "keepalive" and self._keepalive_link is None:
                try:
                    await self.log_in_keepalive_session()  # unmeasured
                except Exception as error:
                    into.failed(error)
                    continue
            started = time.perf_counter()
            try:
                await run()
            except Exception as error:
                into.failed(error)
            else:
                into.seconds.append(time.perf_counter() - started)
            await asyncio.sleep(SAMPLE_GAP)
