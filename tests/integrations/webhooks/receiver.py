"""A real HTTP receiver on 127.0.0.1 (the standard library's server, on a thread of its own)
that records what webhooks POST and answers with the statuses a test scripts."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        self.answers: queue.Queue[int] = queue.Queue()  # scripted statuses; then 204
        self.port = 0

    async def next(self, within: float = 10.0) -> Received:
        """The next request the receiver got (fails the test after `within` seconds)."""
        return await asyncio.to_thread(self.received.get, timeout=within)

    def nothing_more(self) -> bool:
        return self.received.empty()


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            try:
                status = state.answers.get_nowait()
            except queue.Empty:
                status = 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            state.received.put(Received(self.path, dict(self.headers.items()), body))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
