"""The plain-HTTP listener for the dashboard, JSON API and Seedonk REST."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fakecloud.core.errors import UserError
from fakecloud.web.asgi import AsgiProtocolFactory

log = logging.getLogger(__name__)


class HttpPart:
    name = "http"

    def __init__(self, protocols: AsgiProtocolFactory, host: str, port: int):
        self.protocols = protocols
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self.protocols, self.host, self.port)
        except OSError as error:
            raise UserError(
                f"cannot listen for HTTP on {self.host}:{self.port}: {error.strerror}"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("dashboard and REST API on http://%s:%d/", self.host, self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self.protocols.close_connections()
            await self._server.wait_closed()
            self._server = None

    def status(self) -> dict[str, Any]:
        return {"listening": self._server is not None, "address": f"{self.host}:{self.port}"}
