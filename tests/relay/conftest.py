"""Fixtures for the relay tests: a running relay and a recorder it records to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakecloud.core.config import Settings
from fakecloud.relay import RelayPart
from tests.relay.scenario import ListRecorder, running_relay


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


@pytest.fixture
async def relay(settings: Settings, recorder: ListRecorder) -> AsyncIterator[RelayPart]:
    async for running in running_relay(RelayPart(settings, recorder)):
        yield running
