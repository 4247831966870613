"""A real broker (tests/broker's fixtures) whose bus the webhooks part listens to."""

from tests.broker.conftest import broker_settings, served

__all__ = ["broker_settings", "served"]
