"""The simulators run against the same real broker the broker tests use."""

from tests.broker.conftest import broker_settings, served

__all__ = ["broker_settings", "served"]
