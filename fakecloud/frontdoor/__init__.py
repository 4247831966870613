"""The cloud front door: every cloud port sniffs its clients' first bytes and routes them to TLS,
the CXNet broker, the web app or capture."""

from fakecloud.frontdoor.connection_info import ConnectionInfo, StreamHandler
from fakecloud.frontdoor.part import FrontDoorPart

__all__ = ["ConnectionInfo", "FrontDoorPart", "StreamHandler"]
