"""The cloud front door: every cloud port sniffs its clients' first bytes and routes them to TLS,
the CXNet broker, the web app or capture. The part itself is `fakecloud.frontdoor.part`; it is
not imported here, since the web app's protocol layer imports the front door's budgets and the
part imports the web app (importing the package must not start that cycle)."""

from fakecloud.frontdoor.connection_info import ConnectionInfo, StreamHandler

__all__ = ["ConnectionInfo", "StreamHandler"]
