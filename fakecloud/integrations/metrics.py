"""Prometheus metrics (docs/metrics.md): read at scrape time from the counters parts keep anyway.

Nothing here runs on a login, a command or a video frame: a scrape calls each part's `status()`
(or a counter it exposes) and turns the numbers into metric families, through a registry of our
own (prometheus-client's global one would also hold its process and platform collectors, and
would be shared by every server a test process starts). Two things are measured here: how late
the event loop runs a timer (one small task), and how many ERROR log records were written (a
logging handler).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fakecloud.runtime import Runtime

# How often the event-loop monitor wakes: lag is measured against this timer. The gauge is the
# worst of the last LAG_SAMPLES (a minute), so a stall between two scrapes still shows.
LAG_INTERVAL = 0.5
LAG_SAMPLES = 120
# DNS shim counters that are outcomes of a query, by label (the others count TCP connections).
DNS_OUTCOMES = {
    "redirected": "redirected",
    "forwarded": "forwarded",
    "cached": "cache_hits",
    "refused": "refused",
    "formerr": "formerr",
    "notimp": "notimp",
    "servfail": "servfail",
    "dropped": "dropped",
    "rate_limited": "rate_limited",
    "overloaded": "overloaded",
}


class ErrorCounter(logging.Handler):
    """Counts ERROR (and worse) records by the fakecloud package part that logged them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        # A bounded label set: fakecloud's own packages (broker, dns...), anything else "other".
        package, _, rest = record.name.partition(".")
        part = (rest.partition(".")[0] or "core") if package == "fakecloud" else "other"
        self.counts[part] += 1


class MetricsPart:
    name = "metrics"

    def __init__(self, runtime: Runtime, *, lag_interval: float = LAG_INTERVAL) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(FakecloudCollector(runtime, self))
        self.errors = ErrorCounter()
        self._lags: deque[float] = deque(maxlen=LAG_SAMPLES)
        self.scrapes = 0
        self._lag_interval = lag_interval
        self._monitor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        logging.getLogger().addHandler(self.errors)
        self._monitor = asyncio.get_running_loop().create_task(
            self._watch_lag(), name="metrics-event-loop-lag"
        )

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None

    @property
    def lag_seconds(self) -> float:
        """The worst event-loop lag of the last minute."""
        return max(self._lags, default=0.0)

    def status(self) -> dict[str, Any]:
        return {"scrapes": self.scrapes, "event_loop_lag_ms": round(self.lag_seconds * 1000, 1)}

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        self.scrapes += 1
        return generate_latest(self.registry)

    async def _watch_lag(self) -> None:
        """One timer at a time, so the monitor itself costs nothing measurable."""
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self._lag_interval
            await asyncio.sleep(self._lag_interval)
            self._lags.append(max(0.0, loop.time() - expected))


class FakecloudCollector(Collector):
    def __init__(self, runtime: Runtime, part: MetricsPart) -> None:
        self._runtime = runtime
        self._part = part

    def collect(self) -> Iterator[Metric]:
        yield from self._broker()
        yield from self._media()
        yield from self._dns()
        yield from self._own()

    def _broker(self) -> Iterator[Metric]:
        services = self._runtime.services
        logins = CounterMetricFamily(
            "fakecloud_logins",
            "Logins by kind (camera, app, rest) and result",
            labels=["kind", "result"],
        )
        for result, count in services.web_logins.items():
            logins.add_metric(["rest", result], count)
        if (broker := services.broker) is not None:
            status = broker.status()
            yield _gauge(
                "fakecloud_cameras_online", "Cameras logged in now", status["cameras_online"]
            )
            yield _gauge("fakecloud_sessions", "CXNet sessions open now", status["sessions"])
            yield _counter(
                "fakecloud_commands", "Commands routed to cameras", status["commands_routed"]
            )
            for (role, result), count in broker.login_results().items():
                logins.add_metric([role, result], count)
        yield logins

    def _media(self) -> Iterator[Metric]:
        services = self._runtime.services
        viewers = GaugeMetricFamily(
            "fakecloud_viewers", "Viewers watching now, by output", labels=["output"]
        )
        if (relay := services.relay) is not None:
            status = relay.status()
            yield _counter(
                "fakecloud_relay_datagrams", "Datagrams relayed", status["datagrams_forwarded"]
            )
            yield _counter("fakecloud_relay_bytes", "Bytes relayed", status["bytes_forwarded"])
            viewers.add_metric(["relay"], status["viewers"])
        if (outputs := services.media_outputs) is not None:
            status = outputs.status()
            mjpeg = sum(camera["viewers"] for camera in status["mjpeg"]["cameras"].values())
            viewers.add_metric(["mjpeg"], mjpeg)
            viewers.add_metric(["hls"], sum(s["running"] for s in status["hls"].values()))
            viewers.add_metric(["webrtc"], status["webrtc"]["peers"])
        if (viewer := self._runtime.part("viewer")) is not None:
            frames = viewer.status().get("frames", 0)
            yield _counter("fakecloud_video_frames", "Video frames received from cameras", frames)
        yield viewers
        if (capture := services.capture) is not None:
            captures = CounterMetricFamily(
                "fakecloud_captures", "Capture log records by result", labels=["result"]
            )
            status = capture.status()
            for result in ("written", "lost", "paused"):
                captures.add_metric([result], status[f"records_{result}"])
            yield captures

    def _dns(self) -> Iterator[Metric]:
        dns = self._runtime.part("dns")
        if dns is None:
            return
        counters = dns.status()["counters"]
        queries = CounterMetricFamily(
            "fakecloud_dns_queries", "DNS queries by outcome", labels=["outcome"]
        )
        for outcome in DNS_OUTCOMES:
            queries.add_metric([outcome], counters.get(outcome, 0))
        yield queries
        yield _counter(
            "fakecloud_dns_cache_hits", "DNS answers from the cache", counters["cache_hits"]
        )

    def _own(self) -> Iterator[Metric]:
        errors = CounterMetricFamily(
            "fakecloud_errors", "ERROR log records, by the part that logged them", labels=["part"]
        )
        for part, count in self._part.errors.counts.items():
            errors.add_metric([part], count)
        yield errors
        yield _gauge(
            "fakecloud_event_loop_lag_seconds",
            "Worst lateness of a timer on the event loop over the last minute",
            self._part.lag_seconds,
        )
        dropped = CounterMetricFamily(
            "fakecloud_events_dropped",
            "Events a slow subscriber of the event bus missed",
            labels=["subscriber"],
        )
        for name, status in self._runtime.services.bus.status()["subscribers"].items():
            dropped.add_metric([name], status["dropped"])
        yield dropped


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    """prometheus-client adds the `_total` suffix to a counter's name itself."""
    return CounterMetricFamily(name, documentation, value=value)
