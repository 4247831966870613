"""Giving a recognised connection's transport to the protocol that serves it: the web app's
HTTP protocol, or a stream handler (CXNet broker, relay) on an asyncio reader and writer."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from fakecloud.frontdoor.connection_info import ConnectionInfo, StreamHandler, format_address
from fakecloud.web.asgi import AsgiProtocolFactory

log = logging.getLogger(__name__)

# A stream handler's reader pauses the socket once twice this much waits unread (asyncio's
# default, 64 KiB, would let a connection whose handler is busy, e.g. checking a password, hold
# 128 KiB); reads of any size still work.
STREAM_READER_LIMIT = 16 * 1024


def hand_to_http(
    asgi: AsgiProtocolFactory, transport: asyncio.Transport, data: bytes
) -> asyncio.Protocol:
    """Let the web app's protocol serve `transport`, starting with the bytes already read."""
    protocol = asgi()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    protocol.data_received(data)
    return protocol


def open_stream(
    transport: asyncio.Transport, data: bytes, loop: asyncio.AbstractEventLoop
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A reader and writer on `transport`, the reader already holding the bytes read so far."""
    reader = asyncio.StreamReader(limit=STREAM_READER_LIMIT)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    protocol.data_received(data)
    return reader, writer


async def serve_stream(
    kind: str,
    handler: StreamHandler,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    info: ConnectionInfo,
    counters: Counter[str],
) -> None:
    """Run `handler` on one connection; its failure closes only that connection."""
    try:
        await handler(reader, writer, info)
    except Exception:
        counters["handler_errors"] += 1
        log.exception(
            "%s handler failed on connection %s from %s; closing that connection",
            kind,
            info.id,
            format_address(*info.peer),
        )
    finally:
        writer.close()
