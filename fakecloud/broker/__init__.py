"""The CXNet broker: sessions, logins, keepalives, command routing and camera presence."""

from fakecloud.broker.broker import (
    Broker,
    BrokerError,
    CameraOfflineError,
    CommandInterceptor,
    PresenceListener,
    parse_destination,
)
from fakecloud.broker.session import ConnectionInfoLike, Session

__all__ = [
    "Broker",
    "BrokerError",
    "CameraOfflineError",
    "CommandInterceptor",
    "ConnectionInfoLike",
    "PresenceListener",
    "Session",
    "parse_destination",
]
