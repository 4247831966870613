"""What waits to be published, in the order it came, bounded.

Two kinds of message. Most topics only ever need their newest value (a discovery config, a
snapshot, last seen): a newer one replaces the one waiting and takes its turn at the end, so a
camera's pictures piling up while the MQTT broker is slow or away cost one entry. A message
marked `every_change` (motion, connectivity, a finished recording) is something Home Assistant
may trigger an automation on: each one is sent, in order, so a motion that starts and ends
while the sender is behind still shows ON then OFF rather than only OFF. Only a repeat of the
value already waiting last for that topic is left out (it changes nothing). When more
messages wait than the limit, the oldest is dropped and counted (the full state is published
again at every connect anyway)."""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict

from fakecloud.integrations.mqtt.discovery import Message

DEFAULT_LIMIT = 1024

# A latest-wins message waits under its topic; each change under (topic, its number).
_Key = str | tuple[str, int]


class Outbox:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("an outbox holds at least one message")
        self.limit = limit
        self.dropped = 0
        self._waiting: OrderedDict[_Key, Message] = OrderedDict()
        self._last_change: dict[str, _Key] = {}  # topic -> its newest waiting change
        self._numbers = itertools.count()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._waiting)

    def put(self, message: Message) -> None:
        if message.every_change:
            last = self._last_change.get(message.topic)
            if last is not None and self._waiting[last].payload == message.payload:
                return
            key: _Key = (message.topic, next(self._numbers))
            self._last_change[message.topic] = key
        else:
            key = message.topic
            self._waiting.pop(key, None)
        if len(self._waiting) >= self.limit:
            self._forget(next(iter(self._waiting)))
            self.dropped += 1
        self._waiting[key] = message
        self._ready.set()

    def put_back(self, message: Message) -> None:
        """A message whose publishing failed goes first again: a change always (it came
        before whatever waits), a latest-wins value unless a newer one came."""
        if len(self._waiting) >= self.limit:
            return
        if message.every_change:
            key: _Key = (message.topic, next(self._numbers))
            self._last_change.setdefault(message.topic, key)
        elif message.topic in self._waiting:
            return
        else:
            key = message.topic
        self._waiting[key] = message
        self._waiting.move_to_end(key, last=False)
        self._ready.set()

    async def get(self) -> Message:
        while not self._waiting:
            self._ready.clear()
            await self._ready.wait()
        key = next(iter(self._waiting))
        return self._forget(key)

    def _forget(self, key: _Key) -> Message:
        message = self._waiting.pop(key)
        if self._last_change.get(message.topic) == key:
            del self._last_change[message.topic]
        return message
