"""Every HTTP request fakecloud does not serve: recorded in the capture log, answered 404.

Cameras and apps call paths nobody documented ([U] in docs/protocol.md). This route comes last
in the app, so it sees exactly the requests no other route takes: an unknown path, or a known
path with a method it does not serve, on the HTTP port and on every cloud port (the front door
hands HTTP, plain or TLS, to this same app).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from fakecloud.frontdoor.connection_info import format_address
from fakecloud.web.request_record import MAX_BODY_PREFIX, request_record

if TYPE_CHECKING:  # the runtime holds the record budget, so it imports this module
    from fakecloud.runtime import Runtime

NOT_SERVED = json.dumps({"detail": "Not Found"}).encode()


class RecordBudget:
    """Security consideration: a flood of unknown requests (a scanner on port 80) must neither
    grow memory nor wash the capture log's rotation clean of what a camera sent. Records come
    out of a token bucket (`burst` at once, `rate` a second after that); requests beyond it are
    only counted, and the next record says how many were left out."""

    def __init__(
        self, rate: float = 5.0, burst: float = 100.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._last = clock()
        self.left_out = 0

    def take(self) -> bool:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1:
            self.left_out += 1
            return False
        self._tokens -= 1
        return True


class UnknownRequests(BaseRoute):
    """Matches every HTTP request, so it must be the app's last route. Records go to the
    runtime's `capture` service within its `http_capture_budget`."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return (Match.FULL, {}) if scope["type"] == "http" else (Match.NONE, {})

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix, length = await _read_body(receive)
        runtime: Runtime = scope["app"].state.runtime
        recorder, budget = runtime.services.capture, runtime.services.http_capture_budget
        if recorder is not None and budget.take():
            _record(recorder, scope, prefix, length, budget)
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(NOT_SERVED)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": NOT_SERVED})


async def _read_body(receive: Receive) -> tuple[bytes, int]:
    """The first MAX_BODY_PREFIX bytes and the full length. The rest is read and dropped, so the
    connection stays usable; fakecloud.web.limits.BodyLimit has already bounded the length."""
    prefix = bytearray()
    length = 0
    for _ in range(1 << 20):  # bounded: BodyLimit caps the body at max_request_bytes anyway
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        length += len(chunk)
        prefix += chunk[: max(0, MAX_BODY_PREFIX - len(prefix))]
        if not message.get("more_body", False):
            break
    return bytes(prefix), length


def _record(recorder: Any, scope: Scope, prefix: bytes, length: int, budget: RecordBudget) -> None:
    client = scope.get("client") or ("?", 0)
    server = scope.get("server") or ("?", 0)
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
    ]
    fields: dict[str, Any] = {
        "peer": format_address(str(client[0]), int(client[1])),
        "local_port": server[1],
        "tls": scope.get("scheme") == "https",
        "decoded": request_record(
            scope["method"],
            # The path as sent (percent escapes kept), which is what a later fix must match.
            scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            prefix,
            length,
            scope.get("http_version", "1.1"),
        )
        | {"status": 404},
    }
    if budget.left_out:
        fields["left_out_before"] = budget.left_out
        budget.left_out = 0
    recorder.record("http", **fields)
