"""The CXNet broker: sessions, logins, keepalives, command routing and camera presence."""

from fakecloud.broker.broker import Broker
from fakecloud.broker.routing import (
    BrokerError,
    CameraOfflineError,
    OfferAnswerer,
    parse_destination,
)
from fakecloud.broker.session import ConnectionInfoLike, Session

__all__ = [
    "Broker",
    "BrokerError",
    "CameraOfflineError",
    "ConnectionInfoLike",
    "OfferAnswerer",
    "Session",
    "parse_destination",
]
