"""Webhooks from a real broker: a simulated camera logs in and leaves, and a real HTTP receiver
on 127.0.0.1 gets camera.online and camera.offline, signed."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import SecretStr

from fakecloud.catalogue import load_catalogue
from fakecloud.core.config import Settings, load_settings
from fakecloud.core.errors import UserError
from fakecloud.core.events import Motion
from fakecloud.integrations.webhooks.delivery import RetryPolicy
from fakecloud.integrations.webhooks.part import WebhooksPart, webhooks_part
from fakecloud.runtime import Runtime
from tests.broker.conftest import BrokerServer, camera_for
from tests.integrations.webhooks.receiver import receiver
from tests.integrations.webhooks.test_delivery import until
from tests.integrations.webhooks.test_payloads import receiver_accepts

SECRET = b"owner's webhook secret"


async def test_a_camera_coming_and_going_reaches_every_url(served: BrokerServer) -> None:
    with receiver() as first, receiver() as second:
        part = WebhooksPart(
            served.broker.bus,
            [f"http://127.0.0.1:{first.port}/a", f"http://127.0.0.1:{second.port}/b"],
            secret=SECRET,
            policy=RetryPolicy(attempts=2, first_backoff=0.01, timeout=5.0),
        )
        await part.start()
        try:
            camera = camera_for(served)
            task = asyncio.create_task(camera.run())
            online = [await first.next(), await second.next()]
            camera.stop()
            await task
            offline = [await first.next(), await second.next()]
            served.broker.bus.publish(Motion(camera.camera_id or 0, {"state": "end"}))
            motion = await first.next()
            # Counted once its answer is read, which may come after the receiver noted it.
            await until(lambda: part.status()["endpoints"][0]["delivered"] == 3)
        finally:
            await part.stop()
    for received, kind in [
        *((r, "camera.online") for r in online),
        *((r, "camera.offline") for r in offline),
        (motion, "motion.end"),
    ]:
        document = json.loads(received.body)
        assert document["event"] == kind and document["camera_id"] == camera.camera_id
        assert receiver_accepts(received.headers, received.body, SECRET)


def test_the_part_follows_the_settings(settings: Settings) -> None:
    assert webhooks_part(Runtime(settings, load_catalogue())) is None
    configured = settings.model_copy(
        update={"webhook_urls": ["http://127.0.0.1:9/a"], "webhook_secret": SecretStr("s")}
    )
    part = webhooks_part(Runtime(configured, load_catalogue()))
    assert part is not None and [e.shown for e in part.endpoints] == ["http://127.0.0.1:9/a"]


def test_a_bad_url_is_refused_without_repeating_it(settings: Settings) -> None:
    with pytest.raises(UserError) as refused:
        load_settings(data_dir=settings.data_dir, webhook_urls="ftp://user:hunter2@example.test/x")
    assert "http:// or https://" in str(refused.value) and "hunter2" not in str(refused.value)
    parsed = load_settings(
        data_dir=settings.data_dir, webhook_urls="http://127.0.0.1:1/a, https://h.test/b"
    )
    assert parsed.webhook_urls == ["http://127.0.0.1:1/a", "https://h.test/b"]
