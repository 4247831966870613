"""What waits to be published: one message per topic (the latest wins), bounded.

State topics only ever need their newest value, so a camera flapping while the MQTT broker is
away costs one entry, not one per change; when more topics wait than the limit, the oldest is
dropped and counted (the full state is published again at every connect anyway)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from fakecloud.integrations.mqtt.discovery import Message

DEFAULT_LIMIT = 1024


class Outbox:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("an outbox holds at least one message")
        self.limit = limit
        self.dropped = 0
        self._waiting: OrderedDict[str, Message] = OrderedDict()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._waiting)

    def put(self, message: Message) -> None:
        self._waiting.pop(message.topic, None)
        if len(self._waiting) >= self.limit:
            self._waiting.popitem(last=False)
            self.dropped += 1
        self._waiting[message.topic] = message
        self._ready.set()

    def put_back(self, message: Message) -> None:
        """A message whose publishing failed goes first again, unless a newer one came."""
        if message.topic in self._waiting or len(self._waiting) >= self.limit:
            return
        self._waiting[message.topic] = message
        self._waiting.move_to_end(message.topic, last=False)
        self._ready.set()

    async def get(self) -> Message:
        while not self._waiting:
            self._ready.clear()
            await self._ready.wait()
        return self._waiting.popitem(last=False)[1]
