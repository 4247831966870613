"""Replaying captured connections: send what a client sent, in order, and collect the answers.

This is how a capture from a real camera becomes a test fixture: replay it against a running
fakecloud and see what fakecloud answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fakecloud.capture.records import record_data


@dataclass(slots=True)
class RecordedConnection:
    """The inbound bytes of one captured connection, in recorded order."""

    id: str
    tls: bool
    sni: str | None
    chunks: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class ReplayResult:
    connection: str
    sent: int = 0
    replies: list[bytes] = field(default_factory=list)
    error: str | None = None


def recorded_connections(records: Iterable[Mapping[str, Any]]) -> list[RecordedConnection]:
    """Group the inbound records that carry bytes by connection id, first seen first."""
    connections: dict[str, RecordedConnection] = {}
    for record in records:
        data = record_data(record)
        if data is None or record.get("direction", "in") != "in":
            continue
        connection_id = str(record.get("connection", "unnamed"))
        sni = record.get("sni")
        connection = connections.setdefault(
            connection_id,
            RecordedConnection(
                connection_id, bool(record.get("tls")), sni if isinstance(sni, str) else None
            ),
        )
        connection.chunks.append(data)
    return list(connections.values())


async def replay_connection(
    connection: RecordedConnection,
    host: str,
    port: int,
    *,
    tls_context: ssl.SSLContext | None = None,
    reply_timeout: float = 1.0,
    connect_timeout: float = 5.0,
    max_reply_bytes: int = 1 << 20,
) -> ReplayResult:
    """Send each chunk, then collect what comes back until the server is quiet for
    `reply_timeout` seconds (or closes, or `max_reply_bytes` arrived in total)."""
    result = ReplayResult(connection.id)
    try:
        async with asyncio.timeout(connect_timeout):
            reader, writer = await asyncio.open_connection(
                host,
                port,
                ssl=tls_context,
                server_hostname=(connection.sni or host) if tls_context else None,
            )
    except (OSError, TimeoutError, ssl.SSLError) as error:
        result.error = f"cannot connect to {host}:{port}: {error or 'timed out'}"
        return result
    received = 0
    try:
        for chunk in connection.chunks:
            writer.write(chunk)
            await writer.drain()
            result.sent += len(chunk)
            reply, closed = await _read_until_quiet(
                reader, reply_timeout, max_reply_bytes - received
            )
            if reply:
                result.replies.append(reply)
                received += len(reply)
            if closed or received >= max_reply_bytes:
                break
    except (OSError, ssl.SSLError) as error:
        result.error = f"connection failed: {error}"
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return result


async def _read_until_quiet(
    reader: asyncio.StreamReader, quiet: float, budget: int
) -> tuple[bytes, bool]:
    """Bytes until nothing arrives for `quiet` seconds; True as well when the peer closed."""
    collected = bytearray()
    while len(collected) < budget:
        try:
            async with asyncio.timeout(quiet):
                data = await reader.read(min(65536, budget - len(collected)))
        except TimeoutError:
            return bytes(collected), False
        if not data:
            return bytes(collected), True
        collected += data
    return bytes(collected), False
