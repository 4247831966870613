"""One typed event bus for what happens to cameras, so each reaction is one subscriber module.

Publishers (broker, relay, viewer, hub) call `bus.publish(event)`; it never waits and never
fails. Each subscriber owns a bounded queue: when it falls behind, its oldest events are dropped
and counted, so a slow subscriber (a stalled MQTT broker, a webhook that hangs) can never delay a
login or a video frame. Everything runs on the event loop's thread; `publish` is not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_QUEUE_LIMIT = 256


@dataclass(frozen=True)
class CameraOnline:
    camera_id: int
    owner: str | None
    address: str


@dataclass(frozen=True)
class CameraOffline:
    camera_id: int
    reason: str


@dataclass(frozen=True)
class CameraPending:
    camera_id: int
    mac: str | None
    address: str


@dataclass(frozen=True)
class CameraChanged:
    """Its owner changed (an approval, a release): integrations announce or withdraw it."""

    camera_id: int


@dataclass(frozen=True)
class RefusedLogin:
    login: str | None
    role: str
    address: str
    reason: str


@dataclass(frozen=True)
class CommandRouted:
    camera_id: int
    command: str
    asker: str | None


@dataclass(frozen=True)
class ViewerStarted:
    camera_id: int
    viewer: str


@dataclass(frozen=True)
class ViewerStopped:
    camera_id: int
    viewer: str
    reason: str


@dataclass(frozen=True)
class StreamStarted:
    camera_id: int


@dataclass(frozen=True)
class StreamStopped:
    camera_id: int
    reason: str


@dataclass(frozen=True)
class Motion:
    camera_id: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordingFinished:
    camera_id: int
    path: str
    seconds: float


CameraEvent = (
    CameraOnline
    | CameraOffline
    | CameraPending
    | CameraChanged
    | RefusedLogin
    | CommandRouted
    | ViewerStarted
    | ViewerStopped
    | StreamStarted
    | StreamStopped
    | Motion
    | RecordingFinished
)


class Subscription:
    """A subscriber's bounded queue; iterate it (`async for event in subscription`)."""

    def __init__(
        self, bus: EventBus, name: str, kinds: tuple[type[CameraEvent], ...], limit: int
    ) -> None:
        if limit < 1:
            raise ValueError("a subscription needs room for at least one event")
        self.name = name
        self.kinds = kinds
        self.dropped = 0
        self.delivered = 0
        self._bus = bus
        self._queue: deque[CameraEvent] = deque(maxlen=limit)
        self._ready = asyncio.Event()
        self._closed = False

    def wants(self, event: CameraEvent) -> bool:
        return not self.kinds or isinstance(event, self.kinds)

    def offer(self, event: CameraEvent) -> None:
        if self._closed:
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1  # the deque's maxlen drops the oldest on append
        self._queue.append(event)
        self._ready.set()

    async def get(self) -> CameraEvent:
        """The next event; raises `StopAsyncIteration` once closed and drained."""
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        self.delivered += 1
        return self._queue.popleft()

    def __aiter__(self) -> AsyncIterator[CameraEvent]:
        return self

    async def __anext__(self) -> CameraEvent:
        return await self.get()

    def close(self) -> None:
        """Stop receiving; what is queued can still be read."""
        self._closed = True
        self._ready.set()
        self._bus.unsubscribe(self)

    def status(self) -> dict[str, int]:
        return {"queued": len(self._queue), "delivered": self.delivered, "dropped": self.dropped}


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def subscribe(
        self,
        name: str,
        *kinds: type[CameraEvent],
        limit: int = DEFAULT_QUEUE_LIMIT,
    ) -> Subscription:
        """A new queue for `kinds` (every kind when none are named)."""
        subscription = Subscription(self, name, kinds, limit)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)

    def publish(self, event: CameraEvent) -> None:
        self.published += 1
        for subscription in self._subscriptions:
            if subscription.wants(event):
                subscription.offer(event)

    def status(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "subscribers": {s.name: s.status() for s in self._subscriptions},
        }


async def consume(
    subscription: Subscription, handle: Callable[[CameraEvent], Awaitable[None]]
) -> None:
    """Feed every event to `handle` until the subscription closes or the task is cancelled.

    A handler that raises is logged and the next event still comes: one bad event never ends a
    subscriber."""
    try:
        async for event in subscription:
            try:
                await handle(event)
            except Exception:
                log.exception("%s: handling %s failed", subscription.name, type(event).__name__)
    finally:
        subscription.close()
